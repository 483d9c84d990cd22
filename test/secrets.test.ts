// Issue 3, acceptance 5: everything hoist printed, every file it left behind, and every
// process argument seen while it ran are scanned for the ID tokens, STS keys, session tokens
// and ECR passwords the run used. The sandbox runs on --dir so the scan knows every secret it
// issued (ECR passwords are stored there only as SHA-256, so candidates are hashed).
// Issue 6 runs the same scan (test/support/secret-match.ts) after every test of every file;
// this file adds what only it does: process argv sampled while hoist runs, failures under
// --debug, and proof that the by-design outputs do hold what the scan looks for.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run, skipUnless, type RunResult } from './support/components.ts';
import { appDir, jobEnv } from './support/push-job.ts';
import { publishBase, putRolePolicy, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess } from './support/sandbox-cli.ts';
import { ecrPasswordCandidates, findLeaks, harvestWorld, sha256hex, type Harvest } from './support/secret-match.ts';
import { exemptFile } from './support/secret-scan.ts';
import type { WorldState } from '../src/sandbox/world.ts';

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

  exemptFile(join(jobTmp, 'docker-login', 'config.json'), 'hoist login --docker-config stores the ECR password there by design');

  const world = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as WorldState;
  const roleSessions = Object.values(world.sessions).filter((s) => s.principal.kind === 'assumed-role');
  assert.ok(roleSessions.length >= 5, `expected the runs to have assumed the role (${roleSessions.length})`);
  const issued = harvestWorld(world);
  const harvest: Harvest = { ...issued, secrets: [...issued.secrets, ...tokens.map((value) => ({ value, kind: 'ID token' }))] };

  const scanned: { where: string; text: string }[] = [
    ...outputs.flatMap((r, i) => [{ where: `run ${i} stdout`, text: r.stdout }, { where: `run ${i} stderr`, text: r.stderr }]),
    ...byDesign.map((r, i) => ({ where: `by-design run ${i} stderr`, text: r.stderr })),
    { where: 'argv during push', text: argv },
    // Files left behind in the job's directory and its TMPDIR (hoist's private DOCKER_CONFIG
    // must be gone); the Docker config `hoist login` was asked to write is the one exception.
    ...[...filesUnder(cwd), ...filesUnder(jobTmp).filter((f) => !f.includes('docker-login'))]
      .map((f) => ({ where: f, text: readFileSync(f, 'latin1') })),
  ];
  assert.ok(scanned.length > 10);
  assert.deepEqual(findLeaks(harvest, scanned), []);
  // The scanner itself works: the by-design outputs do contain what it looks for.
  const kinds = (text: string) => findLeaks(harvest, [{ where: 'x', text }]).map((l) => l.kind);
  assert.ok(kinds(byDesign[0]!.stdout).includes('STS secret access key'), 'credentials output holds the STS secret it exports');
  assert.ok(kinds(byDesign[1]!.stdout).includes('ECR password'), 'the ECR password is recognised');
  assert.ok(ecrPasswordCandidates(byDesign[1]!.stdout).some((c) => issued.ecrPasswordHashes.includes(sha256hex(c))));
  assert.ok(readdirSync(jobTmp).every((d) => !d.startsWith('hoist-docker')), 'the private DOCKER_CONFIG was removed');
});
