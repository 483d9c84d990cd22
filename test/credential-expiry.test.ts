// Issue 6: credentials that expire in the middle of a job. The sandbox runs with
// `--credential-seconds 4` (STS sessions, and the ECR tokens obtained with them, last 4 s), and
// `hoist push --builder native` jobs are slowed by a proxy (test/support/fault-proxy.ts) so
// they outlive several credential lifetimes. What happened is read from the sandbox's own
// request log (`"expired": true` marks every request refused for expiry) and state on disk.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { Renewable, renewalMargin } from '../src/http/renewal.ts';
import { startFaultProxy, type FaultRule } from './support/fault-proxy.ts';
import { appContext, checkInvariant, hoistPushJob, startPushWorld, type PushRun, type PushWorld } from './support/reliability.ts';
import { ROLE_ARN } from './support/sandbox-admin.ts';

const LIFETIME_S = 4;

interface Entry {
  time: string;
  kind: string;
  action?: string;
  method?: string;
  path?: string;
  status: number;
  error?: string;
  expired?: true;
  ms: number;
}

/**
 * The sandbox's request log from byte `from` on. The sandbox logs a request once its answer has
 * left, so the last lines can land a moment after the client saw it: read until the log stops
 * growing (bounded).
 */
async function logFrom(world: PushWorld, from: number): Promise<Entry[]> {
  for (let i = 0, last = -1; i < 40 && logSize(world) !== last; i++) {
    last = logSize(world);
    await new Promise((r) => setTimeout(r, 50));
  }
  return readFileSync(world.logFile, 'utf8').slice(from).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
}

const logSize = (world: PushWorld): number => statSync(world.logFile).size;
const isAction = (action: string) => (e: Entry) => e.kind === 'aws' && e.action === action && e.status === 200;
const assumed = isAction('AssumeRoleWithWebIdentity');
const ecrLogins = isAction('GetAuthorizationToken');

async function mintToken(world: PushWorld, expiresIn = 300): Promise<string> {
  const res = await fetch(`${world.sb.url}/_sandbox/token`, { method: 'POST', body: JSON.stringify({ expiresIn }) });
  return ((await res.json()) as { token: string }).token;
}

/** Every secret the sandbox issued (from its --dir state) and every ID token minted: none may reach the user's output. */
function leaks(world: PushWorld, tokens: string[], runs: PushRun[]): string[] {
  const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as {
    sessions: Record<string, { secretAccessKey: string; sessionToken?: string; principal: { kind: string } }>;
    ecrTokens: Record<string, unknown>;
  };
  const secrets = [...tokens, ...Object.values(state.sessions).filter((s) => s.principal.kind === 'assumed-role')
    .flatMap((s) => [s.secretAccessKey, s.sessionToken ?? ''])].filter((s) => s.length > 0);
  const found: string[] = [];
  for (const [i, r] of runs.entries()) {
    const text = r.stdout + r.stderr;
    if (secrets.some((s) => text.includes(s))) found.push(`run ${i}: an ID token or STS secret`);
    const words = text.match(/[A-Za-z0-9+/=_-]{24,}/g) ?? [];
    const candidates = words.flatMap((w) => [w, Buffer.from(w, 'base64').toString('utf8').replace(/^AWS:/, '')]);
    if (candidates.some((c) => createHash('sha256').update(c).digest('hex') in state.ecrTokens)) found.push(`run ${i}: an ECR password`);
  }
  return found;
}

describe('credentials that expire mid-job', { timeout: 150_000 }, () => {
  let world: PushWorld;
  const tokens: string[] = [];
  const runs: PushRun[] = [];

  before(async () => {
    world = await startPushWorld({ sandboxArgs: ['--credential-seconds', String(LIFETIME_S)] });
  });
  after(async () => {
    await world?.close();
  });

  /** One push job through its own proxy with `rules`; returns the run and the log lines it caused. */
  async function job(repository: string, rules: FaultRule[], expiresIn?: number): Promise<{ run: PushRun; log: Entry[] }> {
    const proxy = await startFaultProxy(world.sb.url);
    try {
      for (const r of rules) proxy.add(r);
      const token = await mintToken(world, expiresIn);
      tokens.push(token);
      const from = logSize(world);
      const run = await hoistPushJob(world, {
        endpoint: proxy.url, registry: proxy.host, repository, tag: '1.0.0', token, cwd: appContext(proxy.host, repository), timeoutMs: 60_000,
      });
      runs.push(run);
      return { run, log: await logFrom(world, from) };
    } finally {
      await proxy.close();
    }
  }

  test('the sandbox issues short-lived credentials and refuses them once expired, logging why', async () => {
    const from = logSize(world);
    const sts = new STSClient({
      endpoint: world.sb.url, region: 'ap-south-1',
      credentials: async () => {
        throw new Error('AssumeRoleWithWebIdentity is unsigned');
      },
    });
    const token = await mintToken(world);
    tokens.push(token);
    const out = await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'expiry-check', WebIdentityToken: token, DurationSeconds: 3600 }));
    sts.destroy();
    const c = out.Credentials!;
    const lifetime = c.Expiration!.getTime() - Date.now();
    assert.ok(lifetime <= LIFETIME_S * 1000 && lifetime > 0, `STS credentials last min(DurationSeconds, ${LIFETIME_S} s), not ${lifetime} ms`);
    const ecr = new ECRClient({ endpoint: world.sb.url, region: 'ap-south-1', credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } });
    try {
      const auth = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
      assert.ok(auth.expiresAt!.getTime() <= c.Expiration!.getTime() + 1000, 'the ECR token does not outlive the session');
      const basic = `Basic ${auth.authorizationToken!}`;
      assert.equal((await fetch(`${world.sb.url}/v2/`, { headers: { authorization: basic } })).status, 200);
      await new Promise((r) => setTimeout(r, Math.max(0, auth.expiresAt!.getTime() - Date.now()) + 200));
      await assert.rejects(ecr.send(new DescribeRepositoriesCommand({})), (err: Error) => err.name === 'ExpiredTokenException');
      const refused = await fetch(`${world.sb.url}/v2/`, { headers: { authorization: basic } });
      assert.equal(refused.status, 401);
      assert.deepEqual(await refused.json(), { errors: [{ code: 'DENIED', message: 'Your authorization token has expired. Reauthenticate and try again.' }] });
    } finally {
      ecr.destroy();
    }
    const expired = (await logFrom(world, from)).filter((e) => e.expired);
    assert.deepEqual(expired.map((e) => [e.kind, e.action ?? e.method, e.error, e.status]), [
      ['aws', 'DescribeRepositories', 'ExpiredTokenException', 400],
      ['registry', 'GET', 'DENIED', 401],
    ]);
    const logText = readFileSync(world.logFile, 'utf8');
    assert.ok([c.SecretAccessKey!, c.SessionToken!, token].every((secret) => !logText.includes(secret)), 'the request log holds no secret');
  });

  test('a push outliving several credential lifetimes renews ahead and is never refused', async () => {
    const repository = 'expiry/proactive';
    // The base config (read for FROM, ~0.5 KB) and both base layers (streamed into their
    // uploads, 25-50 KB) come back slowly: the job lasts about three credential lifetimes.
    const slow = (nth: number, chunkBytes: number, maxMs: number): FaultRule => ({
      name: `slow-${nth}`, method: 'GET', path: /^\/v2\/base\/runtime\/blobs\/sha256:/, nth,
      action: { kind: 'trickle', chunkBytes, delayMs: 10, maxMs },
    });
    const { run, log } = await job(repository, [slow(1, 1, 4500), { ...slow(2, 16, 6500), times: 2 }]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.ms > 2.5 * LIFETIME_S * 1000, `the job must outlive its credentials several times (took ${run.ms} ms)`);
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags[repository]?.['1.0.0'], run.report!.digest, 'the tag names the digest hoist verified');
    const sts = log.filter(assumed);
    const logins = log.filter(ecrLogins);
    assert.ok(sts.length >= 3, `STS credentials renewed (${sts.length} AssumeRoleWithWebIdentity)`);
    assert.ok(logins.length >= 3, `ECR token renewed (${logins.length} GetAuthorizationToken)`);
    assert.deepEqual(log.filter((e) => e.expired), [], 'renewed ahead of expiry: no request refused for it');
    // ECR checks the token when a request arrives: an upload that began with a valid token
    // completes though its body streams in for longer than the token lives.
    const longUploads = log.filter((e) => e.method === 'PUT' && /\/blobs\/uploads\/./.test(e.path ?? '') && e.status === 201 && e.ms > LIFETIME_S * 1000);
    assert.ok(longUploads.length >= 1, 'an upload outlived the token it started with');
    // Single flight: renewals come a credential lifetime apart, never in bursts.
    const times = sts.map((e) => Date.parse(e.time));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(gaps.every((g) => g > 1000), `renewals a lifetime apart, not in bursts: ${gaps.join(', ')} ms`);
    console.log(`proactive: ${run.ms} ms, ${sts.length} AssumeRoleWithWebIdentity, ${logins.length} GetAuthorizationToken, ` +
      `gaps ${gaps.join('/')} ms, longest upload ${Math.max(...longUploads.map((e) => e.ms))} ms`);
  });

  test('a request delayed past its token\'s expiry is refused once, renewed once and sent again', async () => {
    const repository = 'expiry/safety-net';
    // Held in transit for longer than a whole credential lifetime: no client can foresee that.
    const { run, log } = await job(repository, [{
      name: 'held', method: 'PUT', path: /\/blobs\/uploads\/./, action: { kind: 'stall', ms: LIFETIME_S * 1000 + 1500 },
    }]);
    assert.equal(run.code, 0, run.stderr);
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags[repository]?.['1.0.0'], run.report!.digest);
    const refused = log.filter((e) => e.expired);
    assert.deepEqual(refused.map((e) => [e.method, e.status, e.error]), [['PUT', 401, 'DENIED']], 'exactly the held upload was refused');
    const afterRefusal = log.slice(log.indexOf(refused[0]!) + 1);
    assert.equal(afterRefusal.filter(assumed).length, 1, 'one new STS session');
    assert.equal(afterRefusal.filter(ecrLogins).length, 1, 'one new ECR token');
    const resent = afterRefusal.find((e) => e.kind === 'registry' && e.method === 'PUT' && /\/blobs\/uploads\/./.test(e.path ?? ''));
    assert.equal(resent?.status, 201, 'the refused upload was sent again and stored');
    console.log(`safety net: ${run.ms} ms, ${log.filter(assumed).length} AssumeRoleWithWebIdentity in all`);
  });

  test('an ID token that expires before the job ends fails it clearly, with nothing published', async () => {
    const repository = 'expiry/id-token';
    const { run } = await job(repository, [{
      name: 'slow-layers', method: 'GET', path: /^\/v2\/base\/runtime\/blobs\/sha256:/, nth: 2, times: 2,
      action: { kind: 'trickle', chunkBytes: 16, delayMs: 10, maxMs: 8000 },
    }], 4);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /ID token \(AWS_ID_TOKEN\) expired while the job was running \(at 20\d\d-/);
    assert.match(run.stderr, /--duration/, 'the hint says how to fix it');
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags[repository]?.['1.0.0'], undefined, 'no tag: nothing half-published');
  });

  test('nothing hoist printed holds a secret', () => {
    assert.equal(runs.length, 3);
    assert.deepEqual(leaks(world, tokens, runs), []);
  });
});

describe('Renewable: renewal ahead of expiry, once for concurrent callers', () => {
  test('margin: a quarter of the lifetime, at most a minute', () => {
    assert.equal(renewalMargin(4000), 1000);
    assert.equal(renewalMargin(12 * 3600_000), 60_000);
  });

  test('five callers near expiry cause one renewal; a refusal of an already-renewed value causes none', async () => {
    let clock = 0;
    let obtained = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const r = new Renewable(async () => {
      obtained++;
      await gate;
      return { value: `v${obtained + 1}`, expiresAt: clock + 4000 };
    }, { value: 'v1', expiresAt: 4000 }, () => clock);
    clock = 2999;
    assert.equal(await r.get(), 'v1', 'more than the margin left: kept');
    clock = 3001;
    const waiting = Promise.all(Array.from({ length: 5 }, () => r.get()));
    release();
    assert.deepEqual(await waiting, Array(5).fill('v2'));
    assert.equal(obtained, 1);
    assert.equal(await r.renew((held) => held === 'v1'), 'v2', 'v1 was already replaced');
    assert.equal(obtained, 1);
    clock = 4500;
    assert.equal(await r.renew((held) => held === 'v2'), 'v3');
    assert.equal(obtained, 2);
  });
});
