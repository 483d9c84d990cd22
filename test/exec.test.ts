// src/exec: the subprocess runner (argv only, explicit env, stdin secrets, timeout, abort,
// streaming lines, redaction) and its helpers. Children are `node -e` scripts: no shell.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isHoistError } from '../src/errors.ts';
import { exec, LineSplitter, recordingRunner, redact, TailBuffer, type ExecRequest } from '../src/exec/index.ts';

const NODE = process.execPath;
const SECRET = 'hunter2-Secret+/=value';

function node(script: string, extra: Partial<ExecRequest> = {}): ExecRequest {
  return { program: NODE, args: ['-e', script], env: { PATH: '/usr/bin:/bin' }, timeoutMs: 20_000, ...extra };
}

describe('exec', () => {
  test('passes argv verbatim, without a shell', async () => {
    const tricky = ['$(echo pwned)', 'a b', '; rm -rf /', '"q"', '*'];
    const r = await exec(node('process.stdout.write(JSON.stringify(process.argv.slice(1)))', { args: ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...tricky] }));
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), tricky);
  });

  test('the child sees exactly the env record it was given (undefined values dropped)', async () => {
    const r = await exec(node('process.stdout.write(JSON.stringify(process.env))', { env: { ONLY: 'me', GONE: undefined } }));
    const seen = JSON.parse(r.stdout) as Record<string, string>;
    assert.equal(seen.ONLY, 'me');
    assert.ok(!('GONE' in seen));
    assert.ok(!('PATH' in seen), 'nothing inherited from the host');
  });

  test('a non-zero exit is a result, not an error', async () => {
    const r = await exec(node('process.stderr.write("nope\\n"); process.exit(3)'));
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'nope\n');
    assert.ok(r.durationMs >= 0);
  });

  test('stdin reaches the child; the secret is redacted from captured output and streamed lines', async () => {
    const lines: string[] = [];
    const r = await exec(
      node('let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{console.log("got "+s);console.error("err "+s)})', {
        stdin: SECRET,
        redact: [SECRET],
        onLine: (line, stream) => lines.push(`${stream}:${line}`),
      }),
    );
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'got [redacted]\n');
    assert.equal(r.stderr, 'err [redacted]\n');
    assert.deepEqual(lines.sort(), ['stderr:err [redacted]', 'stdout:got [redacted]']);
  });

  test('streams lines as they arrive, before the child exits', async () => {
    const seen: number[] = [];
    const started = Date.now();
    await exec(
      node('console.log("first"); setTimeout(()=>console.log("second"), 400)', {
        onLine: () => seen.push(Date.now() - started),
      }),
    );
    assert.equal(seen.length, 2);
    assert.ok(seen[1]! - seen[0]! >= 300, `lines were not streamed: ${seen.join(', ')}`);
  });

  test('timeout kills the child and rejects with exec.timeout (retryable), stderr tail redacted', async () => {
    const started = Date.now();
    await assert.rejects(
      exec(node(`console.error("leak ${SECRET}"); setInterval(()=>{}, 1000)`, { timeoutMs: 500, redact: [SECRET] })),
      (e: unknown) => {
        assert.ok(isHoistError(e, 'exec.timeout'));
        assert.equal(e.retryable, true);
        assert.match(e.message, /timed out after 500 ms/);
        assert.match(e.message, /leak \[redacted\]/);
        assert.ok(!e.message.includes(SECRET));
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000);
  });

  test('a child that ignores SIGTERM is SIGKILLed after the grace period', async () => {
    const started = Date.now();
    await assert.rejects(
      exec(node('process.on("SIGTERM",()=>{}); console.log("ready"); setInterval(()=>{},1000)', { timeoutMs: 300, killGraceMs: 300 })),
      (e: unknown) => isHoistError(e, 'exec.timeout'),
    );
    assert.ok(Date.now() - started < 4_000);
  });

  test('an abort signal stops the child (exec.aborted); an already-aborted signal never spawns', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(exec(node('setInterval(()=>{},1000)', { signal: ac.signal })), (e: unknown) => isHoistError(e, 'exec.aborted'));
    const rec = recordingRunner();
    await assert.rejects(rec(node('1', { signal: AbortSignal.abort() })), (e: unknown) => isHoistError(e, 'exec.aborted'));
  });

  test('a missing program is exec.not-found, and the error never carries a secret from argv', async () => {
    await assert.rejects(
      exec({ program: 'hoist-no-such-program', args: ['--token', SECRET], env: { PATH: '/usr/bin:/bin' }, redact: [SECRET] }),
      (e: unknown) => {
        assert.ok(isHoistError(e, 'exec.not-found'));
        assert.ok(!e.message.includes(SECRET));
        assert.match(e.message, /\[redacted\]/);
        return true;
      },
    );
  });

  test('output is bounded: only the tail is kept', async () => {
    const r = await exec(node('for (let i=0;i<2000;i++) console.log("line " + i)', { maxOutputBytes: 1000 }));
    assert.equal(r.truncated, true);
    assert.ok(r.stdout.length <= 1000);
    assert.match(r.stdout, /line 1999\n$/);
  });

  test('recordingRunner keeps argv and env, and only the length of stdin', async () => {
    const rec = recordingRunner();
    await rec(node('process.stdin.resume()', { stdin: SECRET }));
    assert.equal(rec.calls.length, 1);
    const call = rec.calls[0]!;
    assert.equal(call.program, NODE);
    assert.equal(call.stdinBytes, Buffer.byteLength(SECRET));
    assert.equal(call.code, 0);
    assert.ok(!JSON.stringify(call).includes(SECRET));
  });
});

describe('redact', () => {
  test('replaces every occurrence, longest secret first, ignores empty secrets', () => {
    assert.equal(redact('a abc b abc', ['abc', '']), 'a [redacted] b [redacted]');
    assert.equal(redact('xx-token-yy', ['token', 'xx-token-yy']), '[redacted]');
    assert.equal(redact('nothing', undefined), 'nothing');
  });
});

describe('LineSplitter / TailBuffer', () => {
  test('splits on \\n, \\r\\n and bare \\r across chunk boundaries, including split UTF-8', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const euro = Buffer.from('€');
    s.push(Buffer.from('one\r\ntw'));
    s.push(Buffer.from('o\rthree '));
    s.push(euro.subarray(0, 1));
    s.push(Buffer.concat([euro.subarray(1), Buffer.from('\nlast')]));
    s.end();
    assert.deepEqual(lines, ['one', 'two', 'three €', 'last']);
  });

  test('TailBuffer keeps the last bytes and says it truncated', () => {
    const t = new TailBuffer(5);
    t.push(Buffer.from('abc'));
    t.push(Buffer.from('defg'));
    assert.equal(t.text(), 'cdefg');
    assert.equal(t.truncated, true);
  });
});
