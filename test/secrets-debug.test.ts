// Issue 6: `--debug` never prints a secret. Every command that handles the job's ID token, STS
// credentials or ECR password runs with --debug against a real `hoist sandbox` process, in
// success and in the failures whose cause chains carry the most context (STS refusals, registry
// 404s with credentials from argv / env / OIDC, ECR AccessDenied, a credential helper with a bad
// token). The file's secret scan (test/support/secret-scan.ts) reads what the sandbox issued from
// its --dir state and scans every output and file; this test calls it directly so it can also
// show that the scan recognises this run's secrets where they are printed by design.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanEnv, run, skipUnless, type RunResult } from './support/components.ts';
import { admin, putRolePolicy, ROLE_ARN, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { exemptFile, recordOutput, secretScan } from './support/secret-scan.ts';

const HELPER = join(HOIST, '..', 'docker-credential-hoist.js');
let sb: SandboxProcess;
let cwd: string;

before(async () => {
  sb = await startSandboxProcess();
  cwd = mkdtempSync(join(tmpdir(), 'hoist-debug-job-'));
});
after(() => sb.stop());

function jobEnv(token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    AWS_REGION: 'ap-south-1', AWS_ACCOUNT_ID: '831955480324', AWS_ROLE_ARN: ROLE_ARN, AWS_ID_TOKEN: token,
    AWS_ENDPOINT_URL: sb.url, ECR_REPOSITORY: 'order-microservice', IMAGE_TAG: '1.0.0',
    CI: 'true', GITLAB_CI: 'true', CI_PIPELINE_ID: '4242', CI_COMMIT_SHA: 'c0ffee0000000000000000000000000000000001',
    CI_COMMIT_REF_NAME: 'master', CI_PROJECT_PATH: 'mygroup/myrepo', DOCKER_HOST: 'unix:///var/run/docker.sock', ...extra,
  });
}

const hoist = (args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> =>
  run(process.execPath, [HOIST, '--debug', ...args], { cwd, env, timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });

function expectExit(r: RunResult, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}\n${r.stderr}`);
}

test('--debug prints no secret: credentials, login, credential helper, promote, copy, doctor', { timeout: 300_000 }, async () => {
  const token = await sandboxToken(sb);
  const env = jobEnv(token);
  const missing = `${sb.registry}/order-microservice:missing`;
  const byDesign: RunResult[] = [];

  byDesign.push(await hoist(['credentials'], env));
  expectExit(byDesign[0]!, 0, 'credentials');
  byDesign.push(await hoist(['login', '--print-password'], env));
  expectExit(byDesign[1]!, 0, 'login --print-password');
  const password = byDesign[1]!.stdout.trim();
  byDesign.push(await run(process.execPath, [HELPER, 'get'], { env, input: sb.registry }));
  expectExit(byDesign[2]!, 0, 'docker-credential-hoist get');

  const dockerConfig = mkdtempSync(join(tmpdir(), 'hoist-debug-login-'));
  expectExit(await hoist(['login', '--docker-config', dockerConfig], env), 0, 'login --docker-config');
  exemptFile(join(dockerConfig, 'config.json'), 'hoist login --docker-config stores the ECR password there by design');

  // STS refusals: the token's claims are explained, the token never shown.
  expectExit(await hoist(['credentials'], jobEnv(await sandboxToken(sb, ['--project-path', 'other/project']))), 1, 'credentials, other project');
  expectExit(await hoist(['credentials', '--format', 'json'], jobEnv(await sandboxToken(sb, ['--expires-in=-120']))), 1, 'credentials, expired token');
  expectExit(await hoist(['login'], jobEnv(await sandboxToken(sb, ['--aud', 'wrong']))), 1, 'login, wrong audience');
  const helperBad = await run(process.execPath, [HELPER, 'get'], { env: jobEnv(await sandboxToken(sb, ['--aud', 'wrong'])), input: sb.registry });
  assert.notEqual(helperBad.code, 0, 'credential helper with a refused token');

  // Registry 404s with credentials from OIDC, from argv and from an environment variable.
  expectExit(await hoist(['promote', missing, '--tag', 'x'], env), 1, 'promote via OIDC');
  expectExit(await hoist(['promote', missing, '--tag', 'x', '--creds', `AWS:${password}`], cleanEnv()), 1, 'promote --creds');
  expectExit(await hoist(['copy', `docker://${missing}`, `oci:${join(cwd, 'layout')}`, '--src-creds-env', 'SRC_CREDS'],
    cleanEnv({ SRC_CREDS: `AWS:${password}` })), 1, 'copy --src-creds-env');
  expectExit(await hoist(['promote', missing, '--tag', 'x', '--creds', `AWS:${password.slice(0, -4)}AAAA`], cleanEnv()), 1, 'promote, wrong password');

  const doctor = await hoist(['doctor'], env);
  assert.ok(doctor.code === 0 || doctor.code === 1, doctor.stderr);
  expectExit(await hoist(['doctor'], jobEnv(await sandboxToken(sb, ['--aud', 'wrong']))), 1, 'doctor, wrong audience');

  // The role loses ecr:GetAuthorizationToken: ECR's AccessDenied, with --debug's cause chain.
  await putRolePolicy(sb, 'ecr-push', [{ Effect: 'Allow', Action: ['ecr:DescribeRepositories'], Resource: '*' }]);
  expectExit(await hoist(['login', '--print-password'], env), 1, 'login, denied');
  expectExit(await hoist(['credential-helper', 'get'], env, sb.registry), 1, 'credential-helper get, denied');

  // Nothing leaked anywhere so far...
  assert.deepEqual(secretScan.check(), []);
  assert.ok(secretScan.stats.outputs >= 14, `outputs scanned: ${secretScan.stats.outputs}`);
  // ...and the scan does know this run's secrets: the by-design stdouts, handed to it, are caught.
  for (const [i, r] of byDesign.entries()) recordOutput(`by-design stdout ${i}`, r.stdout);
  const kinds = secretScan.check().map((l) => `${l.where}: ${l.kind}`).sort();
  assert.deepEqual(kinds, [
    'by-design stdout 0: STS secret access key',
    'by-design stdout 0: STS session token',
    'by-design stdout 1: ECR password',
    'by-design stdout 2: ECR password',
  ]);
});

test('--debug push that fails after ECR login prints no secret', { timeout: 300_000 }, async (t) => {
  if (await skipUnless(t, 'docker-unix')) return;
  // A fresh sandbox: the first test took the role's push permissions away.
  const s2 = await startSandboxProcess();
  t.after(() => s2.stop());
  const work = mkdtempSync(join(tmpdir(), 'hoist-debug-push-'));
  const env = (token: string) => cleanEnv({ ...jobEnv(token), AWS_ENDPOINT_URL: s2.url });
  writeFileSync(join(work, 'Dockerfile'), `FROM ${s2.registry}/base/missing:1\n`);
  await admin(s2, ['ecr', 'create-repository', '--repository-name', 'order-microservice']);
  // The base image does not exist: the build fails after hoist logged docker in to ECR.
  const r = await run(process.execPath, [HOIST, '--debug', 'push'], { cwd: work, env: env(await sandboxToken(s2)), timeoutMs: 180_000 });
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /base\/missing/, 'the failing build is explained');
  assert.deepEqual(secretScan.check(), []);
});
