// Issue 2, acceptance 1 and 2: the seed's own job — real AWS CLI v2, real docker — runs
// green against `hoist sandbox`, and fails at the step AWS would fail, with AWS's error code.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { generateSigningKey, gitlabClaims, signJwt } from '../src/sandbox/oidc.ts';
import { awsCliV2, cleanEnv, run, runOk, skipUnless } from './support/components.ts';
import { startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { admin, publishBase, ROLE, ROLE_ARN, sandboxToken } from './support/sandbox-admin.ts';
import { exemptFile } from './support/secret-scan.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');

interface JobResult {
  code: number | null;
  stdout: string;
  stderr: string;
  lastStep: string | undefined;
  dockerConfig: string;
}

async function runSeedJob(sb: SandboxProcess, token: string, base = `${sb.registry}/base/busybox:1`): Promise<JobResult> {
  const work = mkdtempSync(join(tmpdir(), 'hoist-seed-job-'));
  cpSync(join(FIXTURES, 'seed-app'), work, { recursive: true });
  writeFileSync(join(work, 'Dockerfile'), readFileSync(join(work, 'Dockerfile.in'), 'utf8').replace('@BASE@', base));
  const dockerConfig = join(work, '.docker');
  // The seed's own job (the pipeline hoist replaces, not hoist) leaves these behind.
  exemptFile(join(work, 'web_identity_token'), "the seed job writes the ID token to a file for the AWS CLI");
  exemptFile(join(dockerConfig, 'config.json'), "the seed job's docker login stores the ECR password");
  const r = await run('bash', [join(FIXTURES, 'seed-job.sh')], {
    cwd: work,
    timeoutMs: 300_000,
    env: cleanEnv({
      AWS_V2: awsCliV2(),
      AWS_ENDPOINT_URL: sb.url,
      AWS_EC2_METADATA_DISABLED: 'true',
      DOCKER_CONFIG: dockerConfig,
      JOB_TMP: work,
      // the seed's variables
      AWS_ACCOUNT_ID: '831955480324',
      AWS_REGION: 'ap-south-1',
      AWS_ROLE_ARN: ROLE_ARN,
      ECR_REPOSITORY: 'order-microservice',
      IMAGE_TAG: '3.0.0',
      ECR_REGISTRY_OVERRIDE: sb.registry,
      AWS_ID_TOKEN: token,
      // GitLab's predefined variables
      CI_COMMIT_SHA: 'f'.repeat(40),
      CI_COMMIT_REF_NAME: 'master',
      CI_PIPELINE_ID: '4242',
    }),
  });
  const steps = [...r.stderr.matchAll(/^STEP (\S+)$/gm)].map((m) => m[1]);
  return { ...r, lastStep: steps.at(-1), dockerConfig };
}

function assertFailedAt(job: JobResult, step: string, awsCode: RegExp): void {
  assert.notEqual(job.code, 0, `the job should fail; stderr:\n${job.stderr}`);
  assert.equal(job.lastStep, step, `the job should stop at ${step}; stderr:\n${job.stderr}`);
  assert.match(job.stderr, awsCode);
}

describe('the seed pipeline against hoist sandbox', { timeout: 900_000 }, () => {
  test('builds, creates the repository and pushes; skopeo and a fresh docker pull see the pushed digest', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli', 'skopeo')) return;
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    await publishBase(sb);
    const job = await runSeedJob(sb, await sandboxToken(sb));
    assert.equal(job.code, 0, `seed job failed:\n${job.stderr}\n${job.stdout}`);
    assert.equal(job.lastStep, 'done');
    assert.match(job.stdout, /"Arn": "arn:aws:sts::831955480324:assumed-role\/gitlab-runner-ecr-role\/gitlab-4242"/);
    assert.match(job.stdout, /"repositoryName": "order-microservice"/, 'create-repository ran (the repository did not exist)');
    const pushed = /3\.0\.0: digest: (sha256:[a-f0-9]{64})/.exec(job.stdout)?.[1];
    assert.ok(pushed, `docker push printed no digest:\n${job.stdout}`);

    const ref = `${sb.registry}/order-microservice:3.0.0`;
    const password = (await admin(sb, ['ecr', 'get-login-password'])).stdout.trim();
    const inspect = await runOk('skopeo', ['inspect', '--tls-verify=false', '--creds', `AWS:${password}`, `docker://${ref}`]);
    assert.equal(JSON.parse(inspect.stdout).Digest, pushed);

    const env = cleanEnv({ DOCKER_CONFIG: job.dockerConfig });
    await run('docker', ['rmi', '-f', ref, 'order-microservice:latest'], { env });
    const pull = await runOk('docker', ['pull', ref], { env, timeoutMs: 120_000 });
    assert.match(pull.stdout, new RegExp(`Digest: ${pushed}`));
    const out = await runOk('docker', ['run', '--rm', ref], { env });
    assert.equal(out.stdout.trim(), 'order-microservice 3.0.0: built');
    await run('docker', ['rmi', '-f', ref], { env });
  });

  const stsFailures: { name: string; token: (sb: SandboxProcess) => Promise<string>; code: RegExp }[] = [
    { name: 'a token for another project', token: (sb) => sandboxToken(sb, ['--project-path', 'othergroup/otherrepo']),
      code: /\(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation/ },
    { name: 'a tag pipeline against the branch-only trust policy', token: (sb) => sandboxToken(sb, ['--ref-type', 'tag', '--ref', 'v3.0.0']),
      code: /\(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation/ },
    { name: 'a wrong audience', token: (sb) => sandboxToken(sb, ['--aud', 'https://gitlab.com']),
      code: /\(InvalidIdentityToken\) when calling the AssumeRoleWithWebIdentity operation/ },
    { name: 'an expired token', token: (sb) => sandboxToken(sb, ['--expires-in=-120']),
      code: /\(ExpiredTokenException\) when calling the AssumeRoleWithWebIdentity operation/ },
    { name: 'a token signed by a foreign key', token: async () => signJwt(generateSigningKey(), gitlabClaims('https://gitlab.com', {}, Math.floor(Date.now() / 1000))),
      code: /\(InvalidIdentityToken\) when calling the AssumeRoleWithWebIdentity operation/ },
  ];
  for (const c of stsFailures) {
    test(`fails at AssumeRoleWithWebIdentity with ${c.name}`, async (t) => {
      if (await skipUnless(t, 'docker-unix', 'awscli')) return;
      const sb = await startSandboxProcess();
      t.after(() => sb.stop());
      assertFailedAt(await runSeedJob(sb, await c.token(sb)), 'assume-role', c.code);
    });
  }

  test('fails at docker push when the role lacks the push permissions, naming the missing action', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    await publishBase(sb);
    await admin(sb, ['iam', 'put-role-policy', '--role-name', ROLE, '--policy-name', 'ecr-push', '--policy-document', JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: ['ecr:DescribeRepositories', 'ecr:CreateRepository', 'ecr:BatchGetImage', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer'],
          Resource: 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice' },
      ],
    })]);
    const job = await runSeedJob(sb, await sandboxToken(sb));
    assertFailedAt(job, 'push', /denied: User: arn:aws:sts::831955480324:assumed-role\/gitlab-runner-ecr-role\/gitlab-4242 is not authorized to perform: ecr:InitiateLayerUpload/);
  });

  test('fails at create-repository when the role may not create it', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    await admin(sb, ['iam', 'delete-role-policy', '--role-name', ROLE, '--policy-name', 'ecr-push']);
    await admin(sb, ['iam', 'put-role-policy', '--role-name', ROLE, '--policy-name', 'login-only', '--policy-document', JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' }],
    })]);
    const job = await runSeedJob(sb, await sandboxToken(sb));
    assertFailedAt(job, 'repository', /\(AccessDeniedException\) when calling the CreateRepository operation: User: .* is not authorized to perform: ecr:CreateRepository/);
  });
});
