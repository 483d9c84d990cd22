// `hoist doctor` offline: the same verdicts as against the sandbox, from files alone — the
// token (or its claims), the trust policy, the permissions policies — with no AWS at all.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { seedPermissionsPolicy, seedTrustPolicy } from '../src/sandbox/defaults.ts';
import { generateSigningKey, gitlabClaims, signJwt, type TokenRequest } from '../src/sandbox/oidc.ts';
import { cleanEnv, run } from './support/components.ts';
import { HOIST } from './support/sandbox-cli.ts';

interface CheckJson { id: string; status: string; evidence: string[]; fix?: string }

const ACCOUNT = '831955480324';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/gitlab-runner-ecr-role`;
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`;
const REPO_ARN = `arn:aws:ecr:ap-south-1:${ACCOUNT}:repository/order-microservice`;
const PUSH = ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:PutImage'];
const dir = mkdtempSync(join(tmpdir(), 'hoist-doctor-offline-'));
let n = 0;

function file(content: string | object): string {
  const p = join(dir, `f${n++}.json`);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

const claims = (req: TokenRequest = {}) => file(gitlabClaims('https://gitlab.com', req, Math.floor(Date.now() / 1000)));
const seedTrust = () => file(seedTrustPolicy(ACCOUNT, 'https://gitlab.com', 'mygroup/myrepo'));
const seedPerms = () => file(seedPermissionsPolicy('ap-south-1', ACCOUNT, 'order-microservice'));
const trustWith = (condition: object, federated = PROVIDER) => file({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Federated: federated }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: condition }],
});
const permsWithout = (action: string) => file({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    { Effect: 'Allow', Action: [...PUSH, 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeRepositories', 'ecr:CreateRepository'].filter((a) => a !== action), Resource: REPO_ARN },
  ],
});

async function doctor(args: string[], env: Record<string, string> = {}, input?: string) {
  const r = await run(process.execPath, [HOIST, 'doctor', '--json', '--role-arn', ROLE_ARN, '--repository', 'order-microservice', '--region', 'ap-south-1', ...args],
    { env: cleanEnv(env), ...(input !== undefined ? { input } : {}) });
  assert.equal(r.stderr, '');
  return { code: r.code, checks: (JSON.parse(r.stdout) as { checks: CheckJson[] }).checks };
}

function assertFailed(r: { code: number | null; checks: CheckJson[] }, id: string, cause: RegExp[], fix: RegExp[]): void {
  assert.equal(r.code, 1);
  const c = r.checks.find((x) => x.id === id);
  assert.equal(c?.status, 'fail', JSON.stringify(r.checks, null, 2));
  for (const p of cause) assert.match(c!.evidence.join('\n'), p);
  for (const p of fix) assert.match(c!.fix ?? '', p);
}

describe('hoist doctor offline', () => {
  test('seed policies and a good token: passes, exit 0, no AWS needed', async () => {
    const token = signJwt(generateSigningKey(), gitlabClaims('https://gitlab.com', {}, Math.floor(Date.now() / 1000)));
    const r = await doctor(['--token', file(token), '--trust-policy', seedTrust(), '--permissions-policy', seedPerms(), '--create-repository']);
    assert.equal(r.code, 0, JSON.stringify(r.checks, null, 2));
    assert.deepEqual(r.checks.map((c) => [c.id, c.status]), [
      ['token', 'pass'], ['trust', 'pass'], ['permissions', 'pass'], ['review-trust', 'warn'], ['review-permissions', 'pass']]);
    assert.ok(!JSON.stringify(r.checks).includes(token), 'the token is never printed');
  });

  test('--token - reads the token from stdin', async () => {
    const token = signJwt(generateSigningKey(), gitlabClaims('https://gitlab.com', { aud: 'https://gitlab.com' }, Math.floor(Date.now() / 1000)));
    const r = await doctor(['--token', '-', '--offline'], {}, token);
    assertFailed(r, 'token', [/audience mismatch/, /--token - \(stdin\)/], [/aud: sts\.amazonaws\.com/]);
  });

  test('wrong audience', async () => {
    const r = await doctor(['--token-claims', claims({ aud: 'https://gitlab.com' }), '--trust-policy', seedTrust()]);
    assertFailed(r, 'token', [/audience mismatch/], [/aud: sts\.amazonaws\.com/]);
    assertFailed(r, 'trust', [/audience mismatch: StringEquals gitlab\.com:aud/], [/aud: sts\.amazonaws\.com/]);
  });

  test('sub for another branch', async () => {
    const r = await doctor(['--token-claims', claims(), '--trust-policy', trustWith({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:main' } })]);
    assertFailed(r, 'trust', [/sub for another branch/, /admits ref main/], [/ref:master/]);
  });

  test('StringEquals with a wildcard', async () => {
    const r = await doctor(['--token-claims', claims(), '--trust-policy', trustWith({ StringEquals: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:*' } })]);
    assertFailed(r, 'trust', [/StringEquals used with a wildcard/], [/StringLike/]);
  });

  test('tag pipeline against a branch-only policy', async () => {
    const r = await doctor(['--token-claims', claims({ refType: 'tag', ref: 'v3.0.0' }), '--trust-policy', seedTrust()]);
    assertFailed(r, 'trust', [/tag pipeline against a branch-only policy/], [/ref_type:tag/]);
  });

  test('project path renamed: the project_id pin matches, the path in sub does not', async () => {
    const pinned = gitlabClaims('https://gitlab.com', { projectPath: 'mygroup/newname' }, 0).project_id;
    const r = await doctor(['--token-claims', claims({ projectPath: 'mygroup/newname' }), '--trust-policy', trustWith({
      StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:project_id': String(pinned) },
      StringLike: { 'gitlab.com:sub': 'project_path:mygroup/oldname:ref_type:branch:ref:*' },
    })]);
    assertFailed(r, 'trust', [/project path renamed or moved/, /mygroup\/newname/], [/project_path:mygroup\/newname/]);
  });

  test('Federated principal names the wrong provider ARN', async () => {
    const r = await doctor(['--token-claims', claims(), '--trust-policy', trustWith({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com' } }, `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.example.com`)]);
    assertFailed(r, 'trust', [/Federated principal\/provider ARN wrong/], [new RegExp(`"Federated": "${PROVIDER}"`)]);
  });

  test('role ARN in another account than the trust policy\'s provider', async () => {
    const r = await doctor(['--token-claims', claims(), '--trust-policy', seedTrust(), '--role-arn', 'arn:aws:iam::111122223333:role/gitlab-runner-ecr-role']);
    assertFailed(r, 'trust', [/provider in another account than the role's, 111122223333/], [/oidc-provider\/gitlab\.com/]);
  });

  test('expired token', async () => {
    const r = await doctor(['--token-claims', claims({ expiresIn: -60 }), '--trust-policy', seedTrust()]);
    assertFailed(r, 'token', [/expired at/], [/Re-run the job/]);
  });

  test('CI_JOB_JWT_V2 in the environment instead of an id_tokens: token', async () => {
    const token = signJwt(generateSigningKey(), gitlabClaims('https://gitlab.com', {}, Math.floor(Date.now() / 1000)));
    const r = await doctor(['--offline', '--trust-policy', seedTrust()], { CI_JOB_JWT_V2: token });
    assertFailed(r, 'token', [/CI_JOB_JWT_V2/, /removed in GitLab 17\.0/], [/id_tokens:/]);
  });

  for (const action of PUSH) {
    test(`missing push permission: ${action}`, async () => {
      const r = await doctor(['--permissions-policy', permsWithout(action)]);
      assertFailed(r, 'permissions', [new RegExp(`denied: ${action} on ${REPO_ARN}`)], [new RegExp(`Allow ${action}`)]);
    });
  }

  test('creation wanted but ecr:CreateRepository not allowed', async () => {
    const r = await doctor(['--permissions-policy', permsWithout('ecr:CreateRepository'), '--create-repository']);
    assertFailed(r, 'permissions', [/denied: ecr:CreateRepository/], [/create the repository beforehand/]);
    const without = await doctor(['--permissions-policy', permsWithout('ecr:CreateRepository')]);
    assert.equal(without.code, 0, 'not needed when creation is not wanted');
  });

  test('with only policy files, the security review runs alone', async () => {
    const r = await doctor(['--trust-policy', seedTrust(), '--permissions-policy', seedPerms(), '--repository', 'order-microservice']);
    assert.deepEqual(r.checks.map((c) => c.id), ['trust', 'permissions', 'review-trust', 'review-permissions']);
    assert.equal(r.checks[0]!.status, 'skip');
  });

  test('a malformed policy file is a failed check naming the element', async () => {
    const r = await doctor(['--trust-policy', file({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRoleWithWebIdentity' }] }), '--token-claims', claims()]);
    assertFailed(r, 'trust', [/Principal/], [/MalformedPolicyDocument/]);
  });

  test('human output: ✖ and the fix under it', async () => {
    const r = await run(process.execPath, [HOIST, 'doctor', '--token-claims', claims({ expiresIn: -60 }), '--trust-policy', seedTrust(), '--role-arn', ROLE_ARN], { env: cleanEnv() });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^✖ OIDC ID token present, decodable, unexpired, right audience\n(?: {4}.*\n)* {4}fix: Re-run the job/m);
    assert.match(r.stdout, /^! security review: trust policy$/m);
  });
});
