// Issue 6: "the sandbox killed and restarted in the middle of a push", from the client's side
// (test/sandbox-durability.test.ts covers the sandbox's side). `hoist sandbox --dir --log` runs
// on a fixed port; hoist's registry traffic goes through a TCP gate on a port of its own
// (test/support/tcp-gate.ts), which holds one chosen request so the SIGKILL lands at an exact
// point, then mirrors the death (connections reset, port refusing) and the return. AWS API
// calls go straight to the sandbox's port. The sandbox is restarted on the same --dir and port
// at once; the push must end exit 0 with the tag naming the digest hoist reported, and the
// sandbox's disk state must hold the invariant. When the sandbox stays down, the push must end
// exit 1 within a bounded time, saying which host did not answer and what to do, and once the
// sandbox returns nothing of that push may be tagged.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BatchGetImageCommand, ECRClient } from '@aws-sdk/client-ecr';
import { STSClient, AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { isTransient, wrapAwsError } from '../src/aws/errors.ts';
import { isHoistError } from '../src/errors.ts';
import { HttpClient } from '../src/registry/http.ts';
import { BASE_REPO, checkInvariant, hoistPushJob, mintToken, startPushWorld, type PushRun, type PushWorld } from './support/reliability.ts';
import { startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { startTcpGate, type Held, type HoldRule, type TcpGate } from './support/tcp-gate.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const MiB = 1024 * 1024;
const TAG = '1';

interface Line { kind: string; method?: string; path?: string; action?: string; status: number }

interface Outcome {
  run: PushRun;
  held: Held;
  /** The sandbox's log from the push's start to the kill, and after the restart. */
  before: Line[];
  after: Line[];
  /** SIGKILL to the restarted sandbox listening again (undefined: it stayed down). */
  downMs?: number;
  /** SIGKILL to the push's exit. */
  killToExitMs: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const contexts: string[] = [];

/** FROM the base, a small app layer and a few-MiB incompressible one (unique per case). */
function bigContext(registry: string, unique: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-restart-app-'));
  contexts.push(dir);
  writeFileSync(join(dir, 'app.txt'), `app ${unique}\n`.repeat(2000));
  writeFileSync(join(dir, 'big.bin'), randomBytes(6 * MiB));
  writeFileSync(join(dir, 'Dockerfile'),
    `FROM ${registry}/${BASE_REPO}:1\nWORKDIR /app\nCOPY app.txt ./\nCOPY big.bin ./\nCMD ["/app/app.txt"]\n`);
  return dir;
}

const logSize = (file: string) => statSync(file).size;

function logLines(file: string, from: number, to?: number): Line[] {
  return readFileSync(file).subarray(from, to).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

const blobPuts = (lines: Line[], repo: string) =>
  lines.filter((l) => l.method === 'PUT' && l.status === 201 && l.path?.startsWith(`/v2/${repo}/blobs/uploads/`));
const manifestPuts = (lines: Line[], repo: string) =>
  lines.filter((l) => l.method === 'PUT' && l.status === 201 && l.path === `/v2/${repo}/manifests/${TAG}`);

async function bounded<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('hoist push while the sandbox is SIGKILLed and restarted on the same --dir and port', { timeout: 180_000 }, () => {
  let world: PushWorld;
  let gate: TcpGate;
  let port: number;
  /** The sandbox process alive now (each restart replaces it). */
  let sandbox: SandboxProcess;
  const figures: Record<string, unknown>[] = [];

  before(async () => {
    port = await freePort();
    world = await startPushWorld({ sandboxArgs: ['--port', String(port)] });
    sandbox = world.sb;
    gate = await startTcpGate(port);
  });
  after(async () => {
    if (figures.length) console.log(JSON.stringify(figures, null, 2));
    await gate?.close();
    await sandbox?.stop();
    await world?.close();
    for (const dir of contexts) rmSync(dir, { recursive: true, force: true });
  });

  const restart = async (): Promise<void> => {
    sandbox = await startSandboxProcess(['--dir', world.dir, '--log', world.logFile, '--port', String(port)]);
    assert.equal(sandbox.url, `http://127.0.0.1:${port}`);
    await gate.up();
  };

  /**
   * Runs a push through the gate; once `rule` holds its request (and `settle` is satisfied),
   * SIGKILLs the sandbox, then restarts it at once unless `stayDown`.
   */
  async function pushWithKill(name: string, rule: HoldRule, opts: { stayDown?: boolean; settle?: (lines: () => Line[]) => Promise<unknown> } = {}): Promise<Outcome> {
    const repo = `restart/${name}`;
    const cwd = bigContext(gate.host, name);
    const token = await mintToken(sandbox);
    const from = logSize(world.logFile);
    const holding = gate.hold(rule, 60_000);
    const job = hoistPushJob(world, { endpoint: sandbox.url, registry: gate.host, repository: repo, tag: TAG, token, cwd, timeoutMs: 90_000 });
    const early = job.then((r) => {
      throw new Error(`the push ended (exit ${r.code}) before the kill point ${rule.line} was reached:\n${r.stderr}`);
    });
    early.catch(() => {});
    const held = await Promise.race([holding, early]);
    await opts.settle?.(() => logLines(world.logFile, from));

    const killedAt = performance.now();
    await sandbox.kill();
    await gate.down();
    const cut = logSize(world.logFile);
    let downMs: number | undefined;
    if (!opts.stayDown) {
      await restart();
      downMs = Math.round(performance.now() - killedAt);
    }
    const run = await job;
    const killToExitMs = Math.round(performance.now() - killedAt);
    if (opts.stayDown) await restart();
    assert.ok(!run.stderr.includes(token) && !run.stdout.includes(token), 'the ID token is never printed');
    const outcome = { run, held, before: logLines(world.logFile, from, cut), after: logLines(world.logFile, cut), ...(downMs !== undefined ? { downMs } : {}), killToExitMs };
    figures.push({ case: name, exit: run.code, pushMs: run.ms, downMs, killToExitMs, held: held.line.split(' ').slice(0, 2).join(' ').replace(/\?.*/, '') });
    return outcome;
  }

  /** exit 0; the tag names the reported digest (ECR API and disk state); the invariant holds. */
  async function assertRecovered(o: Outcome, repo: string): Promise<void> {
    assert.equal(o.run.code, 0, `push exit ${o.run.code}:\n${o.run.stderr}`);
    const digest = o.run.report!.digest;
    const out = await world.ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: TAG }] }));
    assert.equal(out.images?.[0]?.imageId?.imageDigest, digest, 'the restarted sandbox serves the reported digest under the tag');
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags[repo]?.[TAG], digest);
    // A sanity bound on the test's own restart (typically 0.2–1 s), not on hoist.
    assert.ok(o.downMs! < 5000, `restarted within ${o.downMs} ms`);
  }

  test('killed during a blob upload body (1 MiB of a 6 MiB layer sent): the upload starts afresh after the restart', async () => {
    const repo = 'restart/mid-body';
    const o = await pushWithKill('mid-body', {
      line: /^PUT \/v2\/restart\/mid-body\/blobs\/uploads\/\S+digest=/,
      minLength: 4 * MiB, point: { at: 'body', bytes: MiB },
    });
    await assertRecovered(o, repo);
    const uploadPath = o.held.line.split(' ')[1]!.replace(/\?.*/, '');
    const digest = decodeURIComponent(/digest=([^&\s]+)/.exec(o.held.line)![1]!);
    assert.ok(!o.before.some((l) => l.path === uploadPath), 'the sandbox never finished the held upload');
    const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as { repositories: Record<string, { layers: Record<string, number> }> };
    assert.ok(digest in state.repositories[repo]!.layers, `${digest} is stored and linked after the restart`);
    assert.ok(blobPuts(o.after, repo).length >= 1, 'the layer was uploaded again after the restart');
  });

  test('killed between uploads (5 of 6 blobs acknowledged, the 6th not started): only the 6th is sent afterwards', async () => {
    const repo = 'restart/between';
    const o = await pushWithKill('between', { line: /^HEAD \/v2\/restart\/between\/blobs\/sha256:/, point: { at: 'head' } }, {
      settle: (lines) => bounded('5 blob uploads acknowledged', 30_000, () => (blobPuts(lines(), repo).length >= 5 ? true : undefined)),
    });
    await assertRecovered(o, repo);
    assert.equal(blobPuts(o.before, repo).length, 5);
    assert.equal(blobPuts(o.after, repo).length, 1, 'acknowledged uploads are not repeated; the one not started is');
  });

  test('killed while the manifest PUT is half sent: nothing tagged before the kill, tagged after the restart', async () => {
    const repo = 'restart/manifest-held';
    const o = await pushWithKill('manifest-held', { line: /^PUT \/v2\/restart\/manifest-held\/manifests\/1 /, point: { at: 'body', bytes: 64 } });
    await assertRecovered(o, repo);
    assert.equal(blobPuts(o.before, repo).length, 6, 'every blob was acknowledged before the kill');
    assert.equal(manifestPuts(o.before, repo).length, 0);
    assert.equal(blobPuts(o.after, repo).length, 0, 'no blob is sent again');
    assert.equal(manifestPuts(o.after, repo).length, 1);
  });

  test('killed after the manifest PUT was stored but before its answer reached hoist: the PUT is repeated, same digest', async () => {
    const repo = 'restart/answer-lost';
    const o = await pushWithKill('answer-lost', { line: /^PUT \/v2\/restart\/answer-lost\/manifests\/1 /, point: { at: 'answer' } }, {
      // The sandbox logs a request just after answering it: wait for that line, then kill.
      settle: (lines) => bounded('the manifest PUT logged', 10_000, () => (manifestPuts(lines(), repo).length ? true : undefined)),
    });
    await assertRecovered(o, repo);
    assert.equal(manifestPuts(o.before, repo).length, 1, 'the sandbox stored the manifest before it died');
    assert.equal(manifestPuts(o.after, repo).length, 1, 'hoist did not see the answer and sent the manifest again');
    assert.equal(blobPuts(o.after, repo).length, 0);
  });

  test('down when the job starts (STS refused), back ~1 s later: the push succeeds', async () => {
    const repo = 'restart/at-start';
    const cwd = bigContext(gate.host, 'at-start');
    const token = await mintToken(sandbox);
    await sandbox.kill();
    await gate.down();
    const killedAt = performance.now();
    const job = hoistPushJob(world, { endpoint: sandbox.url, registry: gate.host, repository: repo, tag: TAG, token, cwd, timeoutMs: 90_000 });
    // hoist reaches STS ≈ 0.3 s after it starts: its first attempts are refused; the sandbox
    // is back ≈ 1.3 s after the job started (the assume-role step's time shows the wait).
    await new Promise((r) => setTimeout(r, 1000));
    await restart();
    const downMs = Math.round(performance.now() - killedAt);
    const run = await job;
    const steps = run.code === 0 ? (JSON.parse(run.stdout) as { steps: { step: string; ms: number }[] }).steps : [];
    const assumeRoleMs = steps.find((s) => s.step === 'assume-role')?.ms;
    figures.push({ case: 'at-start', exit: run.code, pushMs: run.ms, downMs, assumeRoleMs });
    await assertRecovered({ run, held: { line: '', contentLength: 0 }, before: [], after: [], downMs, killToExitMs: 0 }, repo);
  });

  test('killed during a blob upload and never restarted: exit 1 within bounded time, naming the host and the fix; nothing tagged', async (t) => {
    const repo = 'restart/down';
    const o = await pushWithKill('down', {
      line: /^PUT \/v2\/restart\/down\/blobs\/uploads\/\S+digest=/, minLength: 4 * MiB, point: { at: 'body', bytes: MiB },
    }, { stayDown: true });
    t.diagnostic(`what the user sees:\n${o.run.stderr.trim()}`);
    assert.equal(o.run.code, 1, o.run.stderr);
    // 5 attempts, equal-jitter backoff 1 s base: 7.5 to 15 s of waiting, plus the requests.
    assert.ok(o.killToExitMs < 30_000, `gave up after ${o.killToExitMs} ms`);
    assert.match(o.run.stderr, new RegExp(`${gate.host.replace(/\./g, '\\.')}`), 'names the host that did not answer');
    assert.match(o.run.stderr, /ECONNREFUSED/);
    assert.match(o.run.stderr, /fix: .*Nothing accepted a connection at 127\.0\.0\.1:\d+.*running/);
    assert.doesNotMatch(o.run.stderr, /\n\s+at .+\(.*:\d+:\d+\)/, 'no stack trace');
    // Once the sandbox is back, nothing of that push is tagged and the store is whole.
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.deepEqual(inv.tags[repo] ?? {}, {});
    const out = await world.ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: TAG }] }));
    assert.equal(out.images?.length ?? 0, 0);
    assert.equal(out.failures?.[0]?.failureCode, 'ImageNotFound');
  });
});

test('connection refused is transient for STS, the ECR API and the registry client, and says where', async () => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const sts = new STSClient({ endpoint, region: 'ap-south-1', maxAttempts: 1, credentials: async () => { throw new Error('unsigned'); } });
  const ecr = new ECRClient({ endpoint, region: 'ap-south-1', maxAttempts: 1, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } });
  try {
    const stsErr = await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: 'arn:aws:iam::831955480324:role/r', RoleSessionName: 's', WebIdentityToken: 'x' })).catch((e: unknown) => e);
    const ecrErr = await ecr.send(new BatchGetImageCommand({ repositoryName: 'r', imageIds: [{ imageTag: 't' }] })).catch((e: unknown) => e);
    for (const [op, err] of [['AssumeRoleWithWebIdentity', stsErr], ['BatchGetImage', ecrErr]] as const) {
      assert.equal((err as { code?: string }).code, 'ECONNREFUSED');
      assert.ok(isTransient(err), `${op}: ECONNREFUSED is retried`);
      const wrapped = wrapAwsError(err, op, 'x.failed', 'a permission hint that does not apply');
      assert.equal(wrapped.code, 'aws.unreachable', `${op}: not diagnosed as a refusal by AWS`);
      assert.match(wrapped.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(wrapped.hint ?? '', /AWS_ENDPOINT_URL/);
    }
  } finally {
    sts.destroy();
    ecr.destroy();
  }
  const http = new HttpClient();
  try {
    for (const method of ['HEAD', 'GET', 'POST', 'PUT']) {
      const err = await http.send({ method, url: new URL(`${endpoint}/v2/app/blobs/uploads/`), headers: {} }).catch((e: unknown) => e);
      assert.ok(isHoistError(err, 'registry.unreachable') && err.retryable, `${method}: retryable registry.unreachable`);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.hint ?? '', /Nothing accepted a connection/);
    }
  } finally {
    http.close();
  }
});
