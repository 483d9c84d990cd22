// `hoist doctor` against the sandbox: each failure mode of the seed's Troubleshooting and
// Quick sanity checklist is set up as an account admin would (the real AWS CLI v2 with the
// sandbox's root keys), and the built CLI must name the cause and the fix. One test per mode.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run, skipUnless } from './support/components.ts';
import { jobEnv } from './support/push-job.ts';
import { admin, putRolePolicy, ROLE, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';

interface CheckJson { id: string; status: string; evidence: string[]; fix?: string }
interface Report { ok: boolean; checks: CheckJson[] }

const PROVIDER = 'arn:aws:iam::831955480324:oidc-provider/gitlab.com';
const REPO_ARN = 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice';
const PUSH = ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:PutImage'];
const SEED_REPO_ACTIONS = [...PUSH, 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeRepositories', 'ecr:CreateRepository'];

async function doctor(sb: SandboxProcess, token: string, extra: Record<string, string> = {}, args: string[] = []) {
  const env = jobEnv(sb, token, { AWS_ACCESS_KEY_ID: sb.exports.AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: sb.exports.AWS_SECRET_ACCESS_KEY!, ...extra });
  for (const [k, v] of Object.entries(extra)) if (v === '') delete env[k];
  const r = await run(process.execPath, [HOIST, 'doctor', '--json', ...args], { env, timeoutMs: 120_000 });
  assert.equal(r.stderr, '', 'doctor reports on stdout only');
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

/** The check failed, its evidence names the cause and its fix says what to do. */
function assertFailed(r: { code: number | null; report: Report }, id: string, cause: RegExp[], fix: RegExp[]): CheckJson {
  assert.equal(r.code, 1, 'exit 1 when a check fails');
  assert.equal(r.report.ok, false);
  const c = r.report.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} present`);
  assert.equal(c.status, 'fail', `${id}: ${JSON.stringify(c, null, 2)}`);
  for (const p of cause) assert.match(c.evidence.join('\n'), p);
  for (const p of fix) assert.match(c.fix ?? '', p);
  return c;
}

const trust = (condition: object) => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: condition }],
});
const setTrust = (sb: SandboxProcess, condition: object) =>
  admin(sb, ['iam', 'update-assume-role-policy', '--role-name', ROLE, '--policy-document', trust(condition)]);
const permissions = (sb: SandboxProcess, repoActions: string[]) => putRolePolicy(sb, 'ecr-push', [
  { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
  { Effect: 'Allow', Action: repoActions, Resource: REPO_ARN },
]);

describe('hoist doctor against the sandbox', { timeout: 900_000 }, () => {
  let sb: SandboxProcess;
  before(async () => {
    sb = await startSandboxProcess();
  });
  after(() => sb.stop());

  test('default world and a good token: every check passes, exit 0', async (t) => {
    if (await skipUnless(t, 'docker-unix')) return;
    const r = await doctor(sb, await sandboxToken(sb));
    assert.equal(r.code, 0, JSON.stringify(r.report, null, 2));
    for (const id of ['config', 'token', 'provider', 'trust', 'permissions', 'repository', 'registry', 'builder']) {
      assert.equal(r.report.checks.find((c) => c.id === id)?.status, 'pass', id);
    }
    const human = await run(process.execPath, [HOIST, 'doctor'], { env: jobEnv(sb, await sandboxToken(sb), { AWS_ACCESS_KEY_ID: sb.exports.AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: sb.exports.AWS_SECRET_ACCESS_KEY! }) });
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^✔ role exists and its trust policy admits this token$/m);
    assert.match(human.stdout, /0 failed/);
  });

  test('wrong audience: the provider does not list the token\'s aud', async () => {
    const r = await doctor(sb, await sandboxToken(sb, ['--aud', 'https://gitlab.com']));
    assertFailed(r, 'provider', [/aud "https:\/\/gitlab\.com" is not one of them/, /Incorrect token audience/], [/aud: sts\.amazonaws\.com/]);
    assertFailed(r, 'token', [/audience mismatch/], [/id_tokens:/]);
  });

  test('tag pipeline against a branch-only trust policy', async () => {
    const r = await doctor(sb, await sandboxToken(sb, ['--ref-type', 'tag', '--ref', 'v3.0.0']));
    assertFailed(r, 'trust', [/tag pipeline against a branch-only policy/, /ref_type:tag/], [/ref_type:tag:ref:\*/]);
  });

  test('expired token', async () => {
    const r = await doctor(sb, await sandboxToken(sb, ['--expires-in=-60']));
    assertFailed(r, 'token', [/expired at/, /ExpiredTokenException/], [/Re-run the job/]);
  });

  test('unreachable DinD (DOCKER_HOST=tcp://127.0.0.1:1)', async () => {
    const r = await doctor(sb, await sandboxToken(sb), { DOCKER_HOST: 'tcp://127.0.0.1:1' });
    assertFailed(r, 'builder', [/cannot connect to the Docker engine at tcp:\/\/127\.0\.0\.1:1/], [/2376|privileged/]);
  });

  test('CI_JOB_JWT_V2 used instead of an id_tokens: token', async () => {
    const r = await doctor(sb, '', { AWS_ID_TOKEN: '', CI_JOB_JWT_V2: await sandboxToken(sb) });
    assertFailed(r, 'token', [/CI_JOB_JWT_V2/, /removed in GitLab 17\.0/], [/id_tokens:/, /AWS_ID_TOKEN/]);
  });

  test('role ARN in another account', async () => {
    const r = await doctor(sb, await sandboxToken(sb), { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/gitlab-runner-ecr-role' });
    assertFailed(r, 'config', [/role ARN is in another account/, /111122223333/, /831955480324/], [/agree/]);
    assertFailed(r, 'trust', [/role ARN in another account/], [/arn:aws:iam::831955480324:role\/gitlab-runner-ecr-role/]);
  });

  // The following change the trust policy; each sets the policy it needs.
  test('sub for another branch: policy pinned to ref:main, token on master', async () => {
    await setTrust(sb, { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:main' } });
    const r = await doctor(sb, await sandboxToken(sb));
    assertFailed(r, 'trust', [/sub for another branch/, /admits ref main/, /branch "master"/], [/ref:master/]);
  });

  test('StringEquals used with a wildcard', async () => {
    await setTrust(sb, { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:*' } });
    const r = await doctor(sb, await sandboxToken(sb));
    assertFailed(r, 'trust', [/StringEquals used with a wildcard/], [/StringLike/]);
  });

  // Permissions: the inline policy is replaced per test.
  for (const action of PUSH) {
    test(`missing push permission: ${action}`, async () => {
      await setTrust(sb, { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com' }, StringLike: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:*' } });
      await permissions(sb, SEED_REPO_ACTIONS.filter((a) => a !== action));
      const r = await doctor(sb, await sandboxToken(sb));
      assertFailed(r, 'permissions', [new RegExp(`denied: ${action} on ${REPO_ARN}`)], [new RegExp(`Allow ${action} on Resource "${REPO_ARN}"`)]);
    });
  }

  test('repository missing and the role may not create it', async () => {
    await permissions(sb, SEED_REPO_ACTIONS.filter((a) => a !== 'ecr:CreateRepository'));
    const r = await doctor(sb, await sandboxToken(sb));
    assertFailed(r, 'repository', [/order-microservice does not exist/, /may not ecr:CreateRepository/], [/aws ecr create-repository --repository-name order-microservice/]);
  });
});

describe('hoist doctor: things missing from the account', { timeout: 900_000 }, () => {
  async function fresh(t: { after: (fn: () => Promise<void>) => void }): Promise<SandboxProcess> {
    const s = await startSandboxProcess();
    t.after(() => s.stop());
    return s;
  }

  test('missing IAM OIDC provider', async (t) => {
    const s = await fresh(t);
    await admin(s, ['iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', PROVIDER]);
    const r = await doctor(s, await sandboxToken(s));
    assertFailed(r, 'provider', [/no IAM OIDC provider for https:\/\/gitlab\.com/], [/create-open-id-connect-provider --url https:\/\/gitlab\.com --client-id-list sts\.amazonaws\.com/]);
  });

  test('missing role', async (t) => {
    const s = await fresh(t);
    await admin(s, ['iam', 'delete-role-policy', '--role-name', ROLE, '--policy-name', 'ecr-push']);
    await admin(s, ['iam', 'delete-role', '--role-name', ROLE]);
    const r = await doctor(s, await sandboxToken(s));
    assertFailed(r, 'trust', [/role gitlab-runner-ecr-role does not exist/], [/hoist bootstrap|fix AWS_ROLE_ARN/]);
  });

  test('without IAM read access: falls back to what STS answered', async (t) => {
    const s = await fresh(t);
    await setTrust(s, { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:main' } });
    const r = await doctor(s, await sandboxToken(s), { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    const c = assertFailed(r, 'trust', [/no IAM read credentials/, /AccessDenied/], [/gitlab\.com:sub/]);
    assert.match(c.evidence.join('\n'), /sub=project_path:mygroup\/myrepo:ref_type:branch:ref:master/);
    assert.equal(r.report.checks.find((x) => x.id === 'provider')?.status, 'skip');
  });

  test('without IAM read access and an admitted token: harmless probes with the assumed role', async (t) => {
    const s = await fresh(t);
    const r = await doctor(s, await sandboxToken(s), { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', DOCKER_HOST: 'tcp://127.0.0.1:1' });
    const by = (id: string) => r.report.checks.find((c) => c.id === id)!;
    assert.equal(by('trust').status, 'pass');
    assert.match(by('trust').evidence.join('\n'), /AssumeRoleWithWebIdentity succeeded/);
    assert.equal(by('permissions').status, 'warn');
    assert.match(by('permissions').evidence.join('\n'), /harmless probe calls/);
    assert.match(by('permissions').evidence.join('\n'), /allowed: ecr:GetAuthorizationToken, ecr:DescribeRepositories/);
    assert.equal(by('registry').status, 'pass');
  });
});
