// Issue 3, acceptance 3: each of the seed's Troubleshooting entries and each unmet item of its
// Sanity checklist, reproduced against the sandbox, makes `hoist push` exit non-zero with a
// message naming the cause and the fix. One test per case; each asserts what a user reads.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateSigningKey, gitlabClaims, signJwt } from '../src/sandbox/oidc.ts';
import type { RunResult } from './support/components.ts';
import { runOk, skipUnless } from './support/components.ts';
import { admin, publishBase, putRolePolicy, sandboxToken } from './support/sandbox-admin.ts';
import { startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { appDir, hoistPush, jobEnv } from './support/push-job.ts';

function assertFails(r: RunResult, exit: number, ...patterns: RegExp[]): void {
  assert.equal(r.code, exit, `exit code; stderr:\n${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout when the push failed');
  for (const p of patterns) assert.match(r.stderr, p);
  assert.match(r.stderr, /fix: /, 'a fix is given');
}

const seedRepoPolicy = (actions: string[]) => [
  { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
  { Effect: 'Allow', Action: actions, Resource: 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice' },
];
const ALL_PUSH = ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart',
  'ecr:PutImage', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeRepositories', 'ecr:CreateRepository'];

describe('hoist push: the seed\'s troubleshooting, diagnosed', { timeout: 900_000 }, () => {
  // Cases that change nothing in the world share one sandbox.
  let sb: SandboxProcess;
  let cwd: string;
  before(async () => {
    sb = await startSandboxProcess();
    cwd = mkdtempSync(join(tmpdir(), 'hoist-trouble-'));
    writeFileSync(join(cwd, 'Dockerfile'), 'FROM scratch\n');
  });
  after(() => sb.stop());

  test('no ID token: shows the id_tokens: block to add', async () => {
    const env = jobEnv(sb, 'unused');
    delete env.AWS_ID_TOKEN;
    assertFails(await hoistPush(cwd, env), 2, /AWS_ID_TOKEN/, /id_tokens:\n\s+AWS_ID_TOKEN:\n\s+aud: sts\.amazonaws\.com/);
  });

  test('"CI_JOB_JWT_V2: parameter not set": the seed\'s answer (use id_tokens and $AWS_ID_TOKEN)', async () => {
    const env = jobEnv(sb, 'unused', { CI_JOB_JWT_V2: await sandboxToken(sb) });
    delete env.AWS_ID_TOKEN;
    assertFails(await hoistPush(cwd, env), 2, /CI_JOB_JWT_V2/, /id_tokens/, /AWS_ID_TOKEN/);
  });

  test('every configuration problem at once, each naming its variable or flag', async () => {
    const env = jobEnv(sb, await sandboxToken(sb), { AWS_REGION: 'mars-1', ECR_REPOSITORY: 'Order_Service', IMAGE_TAG: 'bad tag' });
    assertFails(await hoistPush(cwd, env), 2, /AWS_REGION \(environment\)/, /ECR_REPOSITORY \(environment\)/, /IMAGE_TAG \(environment\)/);
  });

  test('role ARN in another account than AWS_ACCOUNT_ID', async () => {
    const env = jobEnv(sb, await sandboxToken(sb), { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/gitlab-runner-ecr-role' });
    assertFails(await hoistPush(cwd, env), 2, /111122223333/, /831955480324/);
  });

  test('unreachable DinD host: the 2375/2376 and privileged advice, before any AWS call', async () => {
    const r = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb), { DOCKER_HOST: 'tcp://127.0.0.1:1' }));
    assertFails(r, 1, /cannot connect to the Docker engine at tcp:\/\/127\.0\.0\.1:1/, /2376/, /privileged/);
    assert.doesNotMatch(r.stderr, /assume-role/);
  });

  test('DinD service missing: tcp://docker:2375 does not resolve', async () => {
    assertFails(await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb), { DOCKER_HOST: 'tcp://docker:2375' })), 1,
      /cannot resolve the Docker host docker/, /services:/);
  });

  test('wrong TLS port: DOCKER_TLS_VERIFY against the plain 2375 engine', async () => {
    const certs = mkdtempSync(join(tmpdir(), 'hoist-certs-'));
    await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=docker',
      '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'cert.pem')]);
    copyFileSync(join(certs, 'cert.pem'), join(certs, 'ca.pem'));
    const r = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb), {
      DOCKER_HOST: 'tcp://127.0.0.1:2375', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs,
    }));
    assertFails(r, 1, /TLS mismatch: DOCKER_TLS_VERIFY is set but tcp:\/\/127\.0\.0\.1:2375 answers plain HTTP/, /unset DOCKER_TLS_VERIFY/);
  });

  const stsCases: { name: string; token: () => Promise<string>; patterns: RegExp[] }[] = [
    { name: 'sub of another project: what AWS saw and the sub condition to check',
      token: () => sandboxToken(sb, ['--project-path', 'othergroup/otherrepo']),
      patterns: [/AccessDenied/, /sub=project_path:othergroup\/otherrepo:ref_type:branch:ref:master/, /"gitlab\.com:sub"/] },
    { name: 'branch-only trust policy on a tag pipeline',
      token: () => sandboxToken(sb, ['--ref-type', 'tag', '--ref', 'v3.0.0']),
      patterns: [/AccessDenied/, /ref_type=tag/, /tag pipeline/] },
    { name: 'wrong audience',
      token: () => sandboxToken(sb, ['--aud', 'https://gitlab.com']),
      patterns: [/audience/, /aud=https:\/\/gitlab\.com/, /aud: sts\.amazonaws\.com/] },
    { name: 'expired token, caught before calling STS',
      token: () => sandboxToken(sb, ['--expires-in=-60']),
      patterns: [/expired/, /re-run the job/] },
    { name: 'token signed by a foreign key',
      token: async () => signJwt(generateSigningKey(), gitlabClaims('https://gitlab.com', {}, Math.floor(Date.now() / 1000))),
      patterns: [/InvalidIdentityToken/] },
  ];
  for (const c of stsCases) {
    test(`STS: ${c.name}`, async () => {
      const r = await hoistPush(cwd, jobEnv(sb, await c.token()));
      assertFails(r, 1, ...c.patterns);
    });
  }
});

describe('hoist push: unmet checklist items in the account', { timeout: 900_000 }, () => {
  async function fresh(t: { after: (fn: () => Promise<void>) => void }): Promise<SandboxProcess> {
    const s = await startSandboxProcess();
    t.after(() => s.stop());
    return s;
  }

  test('no IAM OIDC provider for gitlab.com', async (t) => {
    const s = await fresh(t);
    await admin(s, ['iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', 'arn:aws:iam::831955480324:oidc-provider/gitlab.com']);
    const cwd = mkdtempSync(join(tmpdir(), 'hoist-trouble-'));
    assertFails(await hoistPush(cwd, jobEnv(s, await sandboxToken(s))), 1, /no IAM OIDC provider/, /create-open-id-connect-provider/);
  });

  test('role without ecr:GetAuthorizationToken', async (t) => {
    const s = await fresh(t);
    await putRolePolicy(s, 'ecr-push', [{ Effect: 'Allow', Action: ALL_PUSH, Resource: 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice' }]);
    const cwd = mkdtempSync(join(tmpdir(), 'hoist-trouble-'));
    assertFails(await hoistPush(cwd, jobEnv(s, await sandboxToken(s))), 1, /GetAuthorizationToken/, /Resource "\*"/);
  });

  test('repository missing and the role may not create it', async (t) => {
    const s = await fresh(t);
    await putRolePolicy(s, 'ecr-push', seedRepoPolicy(ALL_PUSH.filter((a) => a !== 'ecr:CreateRepository')));
    const cwd = mkdtempSync(join(tmpdir(), 'hoist-trouble-'));
    assertFails(await hoistPush(cwd, jobEnv(s, await sandboxToken(s))), 1, /ecr:CreateRepository/, /Create the repository "order-microservice" beforehand/);
  });

  test('repository missing with --no-create-repository', async (t) => {
    const s = await fresh(t);
    const cwd = mkdtempSync(join(tmpdir(), 'hoist-trouble-'));
    assertFails(await hoistPush(cwd, jobEnv(s, await sandboxToken(s)), ['--no-create-repository']), 1, /"order-microservice" does not exist/);
  });

  test('role missing a push permission: names the ECR action', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const s = await fresh(t);
    await publishBase(s);
    await putRolePolicy(s, 'ecr-push', seedRepoPolicy(ALL_PUSH.filter((a) => a !== 'ecr:InitiateLayerUpload')));
    assertFails(await hoistPush(appDir(s), jobEnv(s, await sandboxToken(s))), 1, /ecr:InitiateLayerUpload/);
  });

  test('immutable tag that holds another image', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const s = await fresh(t);
    await publishBase(s);
    const cwd = appDir(s);
    const first = await hoistPush(cwd, jobEnv(s, await sandboxToken(s)), ['--tag-mutability', 'IMMUTABLE']);
    assert.equal(first.code, 0, first.stderr);
    writeFileSync(join(cwd, 'app.sh'), '#!/bin/sh\necho changed\n');
    assertFails(await hoistPush(cwd, jobEnv(s, await sandboxToken(s))), 1, /tag "3\.0\.0" of the immutable repository order-microservice already holds another image/, /unique to this build/);
  });

});
