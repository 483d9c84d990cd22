// The native builder without docker: reproducibility, errors (RUN, missing files, --chown
// names), .dockerignore semantics, --chmod, the BaseResolver, the Builder interface.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { NativeBuilder } from '../src/build/native-builder.ts';
import { OciLayoutResolver, parseOciRef } from '../src/build/native-base.ts';
import { isIgnored, parseDockerignore } from '../src/build/native-context.ts';
import { buildNative, neededStages, parseSourceDateEpoch, type NativeBuildOptions } from '../src/build/native.ts';
import { isHoistError } from '../src/errors.ts';
import { parseDockerfile } from '../src/model/dockerfile/index.ts';
import { writeOciLayout, type OciLayoutImage } from './support/base-image.ts';
import { flattenOciLayout } from './support/image-fs.ts';

let root: string;
let base: OciLayoutImage;
let n = 0;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'hoist-native-'));
  base = await writeOciLayout(join(root, 'base'), { tag: 'latest' });
});
after(() => rmSync(root, { recursive: true, force: true }));

function context(files: Record<string, string>, modes: Record<string, number> = {}): string {
  const dir = join(root, `ctx-${n++}`);
  for (const [p, data] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), data);
    if (modes[p] !== undefined) chmodSync(join(dir, p), modes[p]!);
  }
  return dir;
}

function build(ctx: string, extra: Partial<NativeBuildOptions> = {}): ReturnType<typeof buildNative> {
  return buildNative({ context: ctx, outputDir: join(root, `out-${n++}`), tags: ['t'], buildArgs: { BASE: base.ref }, ...extra });
}

const APP = { Dockerfile: 'ARG BASE\nFROM ${BASE}\nCOPY app /app\nENV A=1\nWORKDIR /w\nCMD ["/bin/sh"]\n', 'app/x.txt': 'x\n', 'app/sub/y.sh': 'y\n' };

describe('reproducibility', () => {
  test('two builds give the same manifest digest; SOURCE_DATE_EPOCH changes it', async () => {
    const ctx = context(APP, { 'app/sub/y.sh': 0o755 });
    const a = await build(ctx, { sourceDateEpoch: 1_700_000_000 });
    const b = await build(ctx, { sourceDateEpoch: 1_700_000_000 });
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.equal(a.configDigest, b.configDigest);
    const c = await build(ctx, { sourceDateEpoch: 1_700_000_001 });
    assert.notEqual(c.manifestDigest, a.manifestDigest);
    assert.equal(c.config.created, '2023-11-14T22:13:21.000Z');
    const d = await build(ctx);
    assert.equal(d.config.created, '1970-01-01T00:00:00.000Z');
  });

  test('a second context with the same content but other mtimes gives the same digest', async () => {
    const one = await build(context(APP), { sourceDateEpoch: 5 });
    await new Promise((r) => setTimeout(r, 1100));
    const two = await build(context(APP), { sourceDateEpoch: 5 });
    assert.equal(one.manifestDigest, two.manifestDigest);
  });

  test('manifest and config: base layers kept by reference, history, diff_ids', async () => {
    const r = await build(context(APP), { sourceDateEpoch: 0 });
    assert.equal(r.manifest.layers[0]!.digest, base.layers[0]!.digest);
    assert.equal(r.manifest.layers.length, 3, 'base + COPY + WORKDIR');
    assert.deepEqual(r.config.rootfs.diff_ids.slice(0, 1), [base.layers[0]!.diffId]);
    assert.equal(r.config.rootfs.diff_ids.length, 3);
    const hist = r.config.history!;
    assert.equal(hist.filter((h) => !h.empty_layer).length, 3);
    assert.match(hist[hist.length - 1]!.created_by!, /^CMD \["\/bin\/sh"\]/);
    assert.deepEqual(r.referencedOnly, []);
    assert.equal(r.config.config?.WorkingDir, '/w');
  });
});

describe('errors', () => {
  test('RUN names the file, the line and the builders that can run it', async () => {
    const ctx = context({ Dockerfile: 'ARG BASE\nFROM ${BASE}\n\nRUN apk add curl\n' });
    await assert.rejects(build(ctx), (err: unknown) => {
      assert.ok(isHoistError(err, 'build.native-run'));
      assert.match(err.message, /^Dockerfile:4: RUN cannot be executed by the native builder: RUN apk add curl/);
      assert.match(err.hint ?? '', /--builder docker or --builder buildah/);
      assert.deepEqual(err.context, { file: 'Dockerfile', line: 4, column: 1 });
      return true;
    });
  });

  test('a RUN in a stage the target does not need is not an error', async () => {
    const ctx = context({ Dockerfile: 'FROM scratch AS unused\nRUN make\nFROM scratch\nCOPY a /a\n', a: 'a' });
    const r = await build(ctx);
    assert.equal(r.manifest.layers.length, 1);
    const df = parseDockerfile('FROM scratch AS a\nFROM scratch AS b\nCOPY --from=a / /\nFROM scratch\n');
    assert.deepEqual([...neededStages(df, 1)].sort(), [0, 1]);
    assert.deepEqual([...neededStages(df, 2)], [2]);
  });

  const CASES: [string, Record<string, string>, RegExp, string][] = [
    ['missing source', { Dockerfile: 'FROM scratch\nCOPY nope /x\n' }, /Dockerfile:2: file not found in the build context.*: nope/, 'build.copy-failed'],
    ['several sources, dest without /', { Dockerfile: 'FROM scratch\nCOPY a b /x\n', a: '', b: '' }, /destination must be a directory and end with a \//, 'build.copy-failed'],
    ['--chown name without /etc/passwd', { Dockerfile: 'FROM scratch\nCOPY --chown=app a /a\n', a: '' }, /cannot resolve app: the image has no \/etc\/passwd/, 'build.chown-unresolved'],
    ['--chown unknown user', { Dockerfile: 'ARG BASE\nFROM ${BASE}\nCOPY --chown=ghost a /a\n', a: '' }, /no such user ghost/, 'build.chown-unresolved'],
    ['bad --chmod', { Dockerfile: 'FROM scratch\nCOPY --chmod=u+x a /a\n', a: '' }, /invalid --chmod/, 'build.copy-failed'],
    ['ADD of a URL', { Dockerfile: 'FROM scratch\nADD https://example.com/x /x\n' }, /ADD of a URL is not supported/, 'build.native-unsupported'],
    ['COPY heredoc mixed with files', { Dockerfile: 'FROM scratch\nCOPY <<EOF a /x/\nhi\nEOF\n', a: '' }, /mixing heredocs with other sources/, 'build.native-unsupported'],
    ['FROM with an unset build arg', { Dockerfile: 'ARG NOPE\nFROM ${NOPE}\n' }, /Dockerfile:2: FROM \$\{NOPE\}: the image name is empty/, 'build.base-not-found'],
    ['registry base without resolver', { Dockerfile: 'FROM alpine:3\n' }, /no registry access configured/, 'build.base-not-found'],
    ['unknown target', { Dockerfile: 'FROM scratch\n' }, /target stage "nope"/, 'build.target-not-found'],
    ['bad substitution', { Dockerfile: 'FROM scratch\nENV A="${B:?B is required}"\n' }, /Dockerfile:2: B: B is required/, 'dockerfile.syntax'],
  ];
  for (const [name, files, re, code] of CASES) {
    test(name, async () => {
      const extra = name === 'unknown target' ? { target: 'nope' } : {};
      await assert.rejects(build(context(files), extra), (err: unknown) => {
        assert.ok(isHoistError(err, code), `${String(err)} (${(err as { code?: string }).code})`);
        assert.match(err.message, re);
        if (name !== 'unknown target') assert.equal(typeof err.context.line, 'number', 'errors carry the line');
        return true;
      });
    });
  }

  test('a COPY error carries file, line and column', async () => {
    await assert.rejects(build(context({ Dockerfile: 'FROM scratch\n\n   COPY nope /x\n' })), (err: unknown) => {
      assert.ok(isHoistError(err, 'build.copy-failed'));
      assert.deepEqual(err.context, { file: 'Dockerfile', line: 3, column: 4 });
      return true;
    });
  });

  test('ADD of an archive through a wildcard, or of a bzip2 archive, is refused (never a silent copy as a file)', async () => {
    const tarHeader = Buffer.alloc(1024);
    tarHeader.write('x', 0);
    tarHeader.write('ustar', 257);
    const ctx = context({ Dockerfile: 'FROM scratch\nADD *.tar /x/\n' });
    writeFileSync(join(ctx, 'a.tar'), tarHeader);
    await assert.rejects(build(ctx), /ADD of the local archive a\.tar through a wildcard/);
    const bz = context({ Dockerfile: 'FROM scratch\nADD a.tar.bz2 /x/\n', 'a.tar.bz2': 'BZh91AY&SY' });
    await assert.rejects(build(bz), /ADD of a bzip2 archive is not supported/);
  });

  test('SOURCE_DATE_EPOCH parsing', () => {
    assert.equal(parseSourceDateEpoch('1700000000'), 1_700_000_000);
    assert.throws(() => parseSourceDateEpoch('yesterday'), /number of seconds since January 1st 1970/);
  });
});

describe('.dockerignore', () => {
  const TABLE: [string, string, boolean][] = [
    ['*.log', 'a.log', true],
    ['*.log', 'dir/a.log', false],
    ['**/*.log', 'dir/sub/a.log', true],
    ['**/*.log', 'a.log', true],
    ['dir', 'dir/sub/file', true],
    ['dir/', 'dir/file', true],
    ['/abs', 'abs', true],
    ['a?c', 'abc', true],
    ['a?c', 'a/c', false],
    ['[a-c]x', 'bx', true],
    ['docs/**', 'docs/x/y', true],
    ['*\n!keep.log', 'keep.log', false],
    ['*.md\n!README*.md\nREADME-secret.md', 'README-secret.md', true],
    ['*.md\n!README*.md\nREADME-secret.md', 'README.md', false],
    ['# comment\n\n  spaced  ', 'spaced', true],
    ['a/../b', 'b', true],
    ['foo.bar', 'fooxbar', false],
  ];
  for (const [patterns, path, want] of TABLE) {
    test(`${JSON.stringify(patterns)} ${want ? 'excludes' : 'keeps'} ${path}`, () => assert.equal(isIgnored(parseDockerignore(patterns), path), want));
  }
});

describe('COPY details', () => {
  test('--chmod applies to copied files and dirs; new parents are 0755; dir/ copies contents', async () => {
    const ctx = context({ Dockerfile: 'FROM scratch\nCOPY --chmod=0751 app/ /deep/er/\nCOPY app/x.txt /file\n', 'app/x.txt': 'x', 'app/sub/y': 'y' }, { 'app/x.txt': 0o600 });
    const r = await build(ctx);
    const { fs } = await flattenOciLayout(r.outputDir, 't');
    assert.deepEqual(Object.fromEntries([...fs].map(([p, e]) => [p, `${e.type} ${e.mode} ${e.owner}`])), {
      deep: 'dir 755 0:0',
      'deep/er': 'dir 755 0:0',
      'deep/er/sub': 'dir 751 0:0',
      'deep/er/sub/y': 'file 751 0:0',
      'deep/er/x.txt': 'file 751 0:0',
      file: 'file 600 0:0',
    });
  });

  test('COPY heredocs: file per delimiter, expansion unless quoted, --chmod', async () => {
    const ctx = context({ Dockerfile: 'FROM scratch\nENV WHO=world\nCOPY <<EOF /hello.txt\nhello $WHO\nEOF\nCOPY --chmod=755 <<"RAW" <<-TABS /d/\n$WHO stays\nRAW\n\tindented $WHO\n\tTABS\n' });
    const r = await build(ctx);
    const { fs } = await flattenOciLayout(r.outputDir, 't');
    const files = Object.fromEntries([...fs].filter(([, e]) => e.type === 'file').map(([p, e]) => [p, `${e.mode} ${e.sha}`]));
    const { createHash } = await import('node:crypto');
    const h = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
    assert.deepEqual(files, { 'hello.txt': `644 ${h('hello world\n')}`, 'd/RAW': `755 ${h('$WHO stays\n')}`, 'd/TABS': `755 ${h('indented world\n')}` });
  });

  test('ARG/ENV scoping: global ARGs only in FROM, re-declared ARG takes the global default, ENV wins over ARG', async () => {
    const ctx = context({
      Dockerfile: 'ARG V=global\nARG IMG\nFROM ${IMG}\nLABEL before=[${V}]\nARG V\nLABEL after=${V}\nARG W=arg\nENV W=env\nLABEL w=$W\n',
    });
    const r = await build(ctx, { buildArgs: { IMG: base.ref } });
    const labels = r.config.config?.Labels ?? {};
    assert.equal(labels.before, '[]');
    assert.equal(labels.after, 'global');
    assert.equal(labels.w, 'env');
    const r2 = await build(ctx, { buildArgs: { IMG: base.ref, V: 'cli' } });
    assert.equal(r2.config.config?.Labels?.after, 'cli');
  });
});

describe('BaseResolver and the Builder interface', () => {
  test('FROM <image name> through an OCI-layout-backed resolver; ONBUILD triggers run in the child', async () => {
    const parent = context({ Dockerfile: 'ARG BASE\nFROM ${BASE}\nONBUILD COPY . /src\nONBUILD LABEL child=yes\n' });
    const p = await build(parent, { outputDir: join(root, 'parent-layout') });
    assert.deepEqual(p.config.config?.OnBuild, ['COPY . /src', 'LABEL child=yes']);
    const resolver = new OciLayoutResolver({ 'example.com/team/base:1': `oci:${join(root, 'parent-layout')}:t` });
    const child = context({ Dockerfile: 'FROM example.com/team/base:1\nENV X=1\n', 'f.txt': 'f' });
    const out = join(root, 'builder-out');
    const builder = new NativeBuilder({ outputDir: out, resolver, sourceDateEpoch: 0 });
    assert.equal((await builder.check()).backend, 'native');
    const res = await builder.build({ context: child, tags: ['app:1'], labels: { 'org.opencontainers.image.revision': 'abc' }, cacheFrom: ['x:latest'] });
    assert.equal(res.imageId, builder.last!.configDigest);
    assert.equal(res.cacheSources[0]!.status, 'unavailable');
    const cfg = builder.last!.config.config!;
    assert.equal(cfg.OnBuild, null);
    assert.equal(cfg.Labels?.child, 'yes');
    assert.equal(cfg.Labels?.['org.opencontainers.image.revision'], 'abc');
    const { fs } = await flattenOciLayout(out, 'app:1');
    assert.ok(fs.has('src/f.txt') && fs.has('src/Dockerfile'));
    await assert.rejects(builder.push({ image: 'app:1', refs: ['r/app:1'] }), (e: unknown) => isHoistError(e, 'build.native-push'));
    await assert.rejects(resolver.resolve('unknown:1', undefined), /no such base image/);
    await builder.dispose();
  });

  test('oci: references', () => {
    assert.deepEqual(parseOciRef('oci:/tmp/x'), { dir: '/tmp/x' });
    assert.deepEqual(parseOciRef('oci:/tmp/x:v1'), { dir: '/tmp/x', tag: 'v1' });
    assert.equal(parseOciRef('alpine'), undefined);
  });
});
