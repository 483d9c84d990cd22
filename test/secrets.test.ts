// Issue 3, acceptance 5: everything hoist printed, every file it left behind, and every
// process argument seen while it ran are scanned for the ID tokens, STS keys, session tokens
// and ECR passwords the run used. The sandbox runs on --dir so the scan knows every secret it
// issued (ECR passwords are stored there only as SHA-256, so candidates are hashed).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run, skipUnless, type RunResult } from './support/components.ts';
import { appDir, jobEnv } from './support/push-job.ts';
import { publishBase, putRolePolicy, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess } from './support/sandbox-cli.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s) return [];
    return s.isDirectory() ? filesUnder(p) : s.isFile() && s.size < 50_000_000 ? [p] : [];
  });
}

/** Every process's argv on the machine, sampled until `done` settles (bounded by it). */
async function sampleArgv(done: Promise<unknown>): Promise<string> {
  const seen = new Set<string>();
  let finished = false;
  void done.finally(() => (finished = true));
  for (let i = 0; i < 20_000 && !finished; i++) {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        seen.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 15));
  }
  return [...seen].join('\n');
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** Strings that might be an ECR password, plain or inside base64("AWS:<password>"). */
function ecrPasswordCandidates(text: string): string[] {
  const words = text.match(/[A-Za-z0-9+/=_-]{24,}/g) ?? [];
  return words.flatMap((w) => {
    const decoded = Buffer.from(w, 'base64').toString('utf8');
    return decoded.startsWith('AWS:') ? [w, decoded.slice(4)] : [w];
  });
}

test('no token, key, session token or password in output, files or argv', { timeout: 600_000 }, async (t) => {
  if (await skipUnless(t, 'docker-unix', 'awscli')) return;
  const state = mkdtempSync(join(tmpdir(), 'hoist-secrets-state-'));
  const sb = await startSandboxProcess(['--dir', state]);
  t.after(() => sb.stop());
  await publishBase(sb);
  const jobTmp = mkdtempSync(join(tmpdir(), 'hoist-secrets-tmp-'));
  const cwd = appDir(sb);
  const tokens: string[] = [];
  const token = async (args: string[] = []) => {
    const tok = await sandboxToken(sb, args);
    tokens.push(tok);
    return tok;
  };
  const hoist = async (args: string[], extra: Record<string, string> = {}, tok?: string): Promise<RunResult> =>
    run(process.execPath, [HOIST, ...args], { cwd, env: jobEnv(sb, tok ?? await token(), { TMPDIR: jobTmp, ...extra }), timeoutMs: 300_000 });

  const outputs: RunResult[] = [];
  const pushed = hoist(['push', '--dotenv', join(cwd, 'push.env')]);
  const argv = await sampleArgv(pushed);
  outputs.push(await pushed);
  assert.equal(outputs[0]!.code, 0, outputs[0]!.stderr);
  // Failures, with --debug: cause chains must not carry secrets either.
  outputs.push(await hoist(['push', '--debug'], {}, await token(['--aud', 'wrong'])));
  outputs.push(await hoist(['push', '--debug'], {}, await token(['--project-path', 'other/project'])));
  await putRolePolicy(sb, 'ecr-push', [{ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
    { Effect: 'Allow', Action: ['ecr:DescribeRepositories', 'ecr:BatchGetImage', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer'],
      Resource: 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice' }]);
  outputs.push(await hoist(['push', '--debug', '--tag', 'denied']));
  // Commands whose stdout is the secret by design: only their stderr is scanned.
  const byDesign = [
    await hoist(['credentials']),
    await hoist(['login', '--print-password']),
  ];
  outputs.push(await hoist(['login', '--docker-config', join(jobTmp, 'docker-login')]));
  for (const r of outputs) assert.ok(r.stdout !== undefined);

  const issued = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as {
    sessions: Record<string, { secretAccessKey: string; sessionToken?: string; principal: { kind: string } }>;
    ecrTokens: Record<string, unknown>;
  };
  const roleSessions = Object.values(issued.sessions).filter((s) => s.principal.kind === 'assumed-role');
  assert.ok(roleSessions.length >= 5, `expected the runs to have assumed the role (${roleSessions.length})`);
  const secrets = [...tokens, ...roleSessions.flatMap((s) => [s.secretAccessKey, s.sessionToken ?? ''])].filter((s) => s.length > 0);

  const scanned: [string, string][] = [
    ...outputs.flatMap((r, i): [string, string][] => [[`run ${i} stdout`, r.stdout], [`run ${i} stderr`, r.stderr]]),
    ...byDesign.map((r, i): [string, string] => [`by-design run ${i} stderr`, r.stderr]),
    ['argv during push', argv],
    // Files left behind in the job's directory and its TMPDIR (hoist's private DOCKER_CONFIG
    // must be gone); the Docker config `hoist login` was asked to write is the one exception.
    ...[...filesUnder(cwd), ...filesUnder(jobTmp).filter((f) => !f.includes('docker-login'))]
      .map((f): [string, string] => [f, readFileSync(f, 'latin1')]),
  ];
  assert.ok(scanned.length > 10);
  const leaks: string[] = [];
  for (const [where, text] of scanned) {
    for (const s of secrets) if (text.includes(s)) leaks.push(`${where}: contains a ${s.startsWith('eyJ') ? 'ID token' : 'STS secret'}`);
    for (const c of ecrPasswordCandidates(text)) if (sha256hex(c) in issued.ecrTokens) leaks.push(`${where}: contains an ECR password`);
  }
  assert.deepEqual(leaks, []);
  // The scanner itself works: the by-design outputs do contain what it looks for.
  assert.ok(secrets.some((s) => byDesign[0]!.stdout.includes(s)), 'credentials output holds the STS secret it exports');
  assert.ok(ecrPasswordCandidates(byDesign[1]!.stdout).some((c) => sha256hex(c) in issued.ecrTokens), 'the ECR password is recognised');
  assert.ok(readdirSync(jobTmp).every((d) => !d.startsWith('hoist-docker')), 'the private DOCKER_CONFIG was removed');
});
