// The Dockerfile parser and variable expansion (src/model/dockerfile): every instruction,
// directives, continuations, comments, heredocs, JSON/shell forms, substitutions, errors with
// file/line/column.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isHoistError } from '../src/errors.ts';
import { expandWord, lex, parseDockerfile, parseGoDuration, type Instruction } from '../src/model/dockerfile/index.ts';

function one(line: string): Instruction {
  const df = parseDockerfile(`FROM scratch\n${line}\n`);
  const ins = df.stages[0]!.instructions[0]!;
  const { loc: _loc, original: _o, ...rest } = ins as Instruction & Record<string, unknown>;
  return rest as unknown as Instruction;
}

const TABLE: [string, Record<string, unknown>][] = [
  ['RUN echo hi', { kind: 'RUN', command: { form: 'shell', text: 'echo hi' }, flags: {}, heredocs: [] }],
  ['RUN ["echo", "hi"]', { kind: 'RUN', command: { form: 'exec', args: ['echo', 'hi'] }, flags: {}, heredocs: [] }],
  ['RUN --mount=type=cache,target=/c --network=none make', { kind: 'RUN', command: { form: 'shell', text: 'make' }, flags: { mount: ['type=cache,target=/c'], network: ['none'] }, heredocs: [] }],
  ['CMD ["a", "b c"]', { kind: 'CMD', command: { form: 'exec', args: ['a', 'b c'] } }],
  ['CMD [not json', { kind: 'CMD', command: { form: 'shell', text: '[not json' } }],
  ['ENTRYPOINT exec app --flag', { kind: 'ENTRYPOINT', command: { form: 'shell', text: 'exec app --flag' } }],
  ['LABEL a=b "c d"="e f" g=', { kind: 'LABEL', pairs: [{ key: 'a', value: 'b' }, { key: '"c d"', value: '"e f"' }, { key: 'g', value: '' }] }],
  ['LABEL legacy some value', { kind: 'LABEL', pairs: [{ key: 'legacy', value: 'some value' }] }],
  ['EXPOSE 80 443/tcp 53/udp', { kind: 'EXPOSE', words: ['80', '443/tcp', '53/udp'] }],
  ['ENV a=b c="d e" f=g\\ h', { kind: 'ENV', pairs: [{ key: 'a', value: 'b' }, { key: 'c', value: '"d e"' }, { key: 'f', value: 'g\\ h' }] }],
  ['ENV PATH /usr/bin:$PATH', { kind: 'ENV', pairs: [{ key: 'PATH', value: '/usr/bin:$PATH' }] }],
  ['ADD --chown=1:2 --chmod=640 --link a.tar /x/', { kind: 'ADD', sources: ['a.tar'], dest: '/x/', json: false, chown: '1:2', chmod: '640', link: true, parents: false, exclude: [], keepGitDir: false, heredocs: [] }],
  ['ADD --checksum=sha256:abc https://e.x/f /f', { kind: 'ADD', sources: ['https://e.x/f'], dest: '/f', json: false, checksum: 'sha256:abc', link: false, parents: false, exclude: [], keepGitDir: false, heredocs: [] }],
  ['COPY --from=build --chown=app:app a b /dst/', { kind: 'COPY', sources: ['a', 'b'], dest: '/dst/', json: false, from: 'build', chown: 'app:app', link: false, parents: false, exclude: [], keepGitDir: false, heredocs: [] }],
  ['COPY ["with space", "/d d/"]', { kind: 'COPY', sources: ['with space'], dest: '/d d/', json: true, link: false, parents: false, exclude: [], keepGitDir: false, heredocs: [] }],
  ['COPY --link=false a /a', { kind: 'COPY', sources: ['a'], dest: '/a', json: false, link: false, parents: false, exclude: [], keepGitDir: false, heredocs: [] }],
  ['VOLUME /a /b', { kind: 'VOLUME', words: ['/a', '/b'] }],
  ['VOLUME ["/a", "/b c"]', { kind: 'VOLUME', words: ['/a', '/b c'] }],
  ['USER app:app', { kind: 'USER', value: 'app:app' }],
  ['WORKDIR /srv/my app', { kind: 'WORKDIR', value: '/srv/my app' }],
  ['ARG A', { kind: 'ARG', args: [{ name: 'A' }] }],
  ['ARG A=1 B="two"', { kind: 'ARG', args: [{ name: 'A', default: '1' }, { name: 'B', default: '"two"' }] }],
  ['STOPSIGNAL SIGKILL', { kind: 'STOPSIGNAL', value: 'SIGKILL' }],
  ['SHELL ["powershell", "-command"]', { kind: 'SHELL', shell: ['powershell', '-command'] }],
  ['MAINTAINER Jane Doe <j@d.e>', { kind: 'MAINTAINER', value: 'Jane Doe <j@d.e>' }],
  ['HEALTHCHECK NONE', { kind: 'HEALTHCHECK', none: true }],
  [
    'HEALTHCHECK --interval=1m30s --timeout=3s --start-period=500ms --start-interval=2s --retries=4 CMD curl -f http://x/',
    { kind: 'HEALTHCHECK', none: false, command: { form: 'shell', text: 'curl -f http://x/' }, interval: 90e9, timeout: 3e9, startPeriod: 5e8, startInterval: 2e9, retries: 4 },
  ],
  ['HEALTHCHECK CMD ["true"]', { kind: 'HEALTHCHECK', none: false, command: { form: 'exec', args: ['true'] } }],
  ['onbuild copy . /app', { kind: 'ONBUILD', expression: 'copy . /app' }],
];

describe('every instruction', () => {
  for (const [line, want] of TABLE) {
    test(line, () => {
      const got = one(line) as unknown as Record<string, unknown>;
      if (want.kind === 'ONBUILD') {
        assert.equal(got.expression, want.expression);
        assert.equal((got.trigger as Instruction).kind, 'COPY');
        return;
      }
      assert.deepEqual(got, want);
    });
  }
});

describe('structure', () => {
  test('directives, global ARGs, named stages, --platform, continuations, comments', () => {
    const df = parseDockerfile(
      '# syntax=docker/dockerfile:1\n# escape=`\n\n# a comment\nARG BASE=alpine\nFROM --platform=$BUILDPLATFORM ${BASE} AS Build\nRUN echo a `\n  # comment inside a continuation\n  && echo b\nFROM build\nCOPY --from=build /a /b\n',
    );
    assert.deepEqual(df.directives, { escape: '`', syntax: 'docker/dockerfile:1' });
    assert.equal(df.globalArgs.length, 1);
    assert.deepEqual(
      df.stages.map((s) => [s.index, s.name, s.from.image, s.from.platform]),
      [
        [0, 'build', '${BASE}', '$BUILDPLATFORM'],
        [1, undefined, 'build', undefined],
      ],
    );
    const run = df.stages[0]!.instructions[0]!;
    assert.equal(run.kind === 'RUN' && run.command.form === 'shell' ? run.command.text : '', 'echo a   && echo b');
    assert.deepEqual(run.loc, { file: 'Dockerfile', line: 7, column: 1 });
  });

  test('backslash continuation and an escaped escape at line end', () => {
    const df = parseDockerfile('FROM scratch\nENV A=1 \\\n    B=2\nLABEL x=a\\\\\nLABEL y=b\n');
    const [env, l1, l2] = df.stages[0]!.instructions;
    assert.deepEqual(env!.kind === 'ENV' ? env!.pairs : [], [{ key: 'A', value: '1' }, { key: 'B', value: '2' }]);
    assert.equal(l1!.kind, 'LABEL');
    assert.equal(l2!.loc.line, 5);
  });

  test('heredocs for RUN and COPY, <<- strips tabs, quoted names do not expand', () => {
    const df = parseDockerfile('FROM scratch\nRUN <<EOF\necho $A\nEOF\nCOPY <<-"A" <<B /dst/\n\tfirst\n\tA\nsecond\nB\nUSER x\n');
    const [run, copy, user] = df.stages[0]!.instructions;
    assert.deepEqual(run!.kind === 'RUN' && run!.heredocs, [{ name: 'EOF', content: 'echo $A\n', chomp: false, expand: true }]);
    assert.deepEqual(copy!.kind === 'COPY' && copy!.heredocs, [
      { name: 'A', content: 'first\n', chomp: true, expand: false },
      { name: 'B', content: 'second\n', chomp: false, expand: true },
    ]);
    assert.deepEqual(copy!.kind === 'COPY' && [copy!.sources, copy!.dest], [['<<-"A"', '<<B'], '/dst/']);
    assert.equal(user!.loc.line, 10);
  });

  test('lex keeps positions of continued lines', () => {
    const { lines } = lex('FROM a\n  COPY \\\n   x y\n');
    assert.deepEqual(lines[1]!.segments, [
      { offset: 0, line: 2, column: 3 },
      { offset: 5, line: 3, column: 1 },
    ]);
  });
});

describe('errors carry file, line and column', () => {
  const CASES: [string, RegExp, number, number][] = [
    ['FROM a\nCOPY --chmown=1 a b\n', /unknown flag: --chmown/, 2, 6],
    ['FROM a\n  COPY onlyone\n', /requires at least two arguments/, 2, 8],
    ['FROM a\nFROBNICATE x\n', /unknown instruction: FROBNICATE/, 2, 1],
    ['COPY a b\nFROM a\n', /before the first FROM/, 1, 1],
    ['# comment only\n', /no FROM/, 1, 1],
    ['FROM a\nENV a=1 b\n', /can't find = in "b"/, 2, 9],
    ['FROM a\nSHELL /bin/sh -c\n', /JSON form/, 2, 7],
    ['FROM a AS x\nFROM b AS X\n', /duplicate stage name "x"/, 2, 1],
    ['FROM a b\n', /one or three arguments/, 1, 6],
    ['FROM a AS 1x\n', /invalid name for build stage/, 1, 11],
    ['FROM a\nRUN <<EOF\necho\n', /unterminated heredoc EOF/, 2, 1],
    ['# escape=x\nFROM a\n', /invalid escape token/, 1, 1],
    ['FROM a\nHEALTHCHECK --interval=soon CMD x\n', /invalid duration/, 2, 1],
    ['FROM a\nONBUILD ONBUILD RUN x\n', /chaining ONBUILD/, 2, 9],
    ['FROM a\nUSER\n', /requires exactly one argument/, 2, 1],
    ['FROM a\nCOPY --link=maybe a b\n', /expecting boolean/, 2, 6],
  ];
  for (const [text, re, line, column] of CASES) {
    test(re.source, () => {
      assert.throws(
        () => parseDockerfile(text, 'app/Dockerfile'),
        (err: unknown) => {
          assert.ok(isHoistError(err, 'dockerfile.syntax'), String(err));
          assert.match(err.message, re);
          assert.deepEqual(err.context, { file: 'app/Dockerfile', line, column });
          assert.ok(err.message.startsWith(`app/Dockerfile:${line}:${column}: `), err.message);
          return true;
        },
      );
    });
  }
});

describe('variable substitution', () => {
  const vars = new Map([
    ['A', 'aa'],
    ['EMPTY', ''],
    ['SP', 'x y'],
  ]);
  const TABLE: [string, string][] = [
    ['$A', 'aa'],
    ['${A}', 'aa'],
    ['pre$A-post', 'preaa-post'],
    ['${A}b', 'aab'],
    ['$UNSET.', '.'],
    ['${UNSET:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${UNSET-def}', 'def'],
    ['${A:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${UNSET:-${A}x}', 'aax'],
    ['"$SP and \\"q\\""', 'x y and "q"'],
    ["'$A'", '$A'],
    ['\\$A', '$A'],
    ['a\\ b', 'a b'],
    ['"a\\b"', 'a\\b'],
    ['$', '$'],
    ['100%$', '100%$'],
    ['${A:?must}', 'aa'],
  ];
  for (const [word, want] of TABLE) test(word, () => assert.equal(expandWord(word, vars), want));

  test('escape char ` (Windows style)', () => assert.equal(expandWord('a`$A`b', vars, '`'), 'a$Ab'));
  test('errors', () => {
    assert.throws(() => expandWord('${UNSET:?is required}', vars), /UNSET: is required/);
    assert.throws(() => expandWord('${A', vars), /missing '}'/);
    assert.throws(() => expandWord('"open', vars), /double-quote/);
    assert.throws(() => expandWord('${A/x/y}', vars), /unsupported modifier/);
  });
});

test('Go durations', () => {
  assert.equal(parseGoDuration('1h2m3s'), 3723e9);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('250ms'), 250e6);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10'), undefined);
  assert.equal(parseGoDuration(''), undefined);
});
