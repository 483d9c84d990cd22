// Issue 2, acceptance 4 (AWS CLI half, ECR): the real AWS CLI v2 parses every ECR answer of the
// sandbox, success and error, into its normal output or its normal "An error occurred (Code)".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { awsCliV2, run, skipUnless } from './support/components.ts';
import { adminEnv } from './support/sandbox-admin.ts';
import { startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';

const aws = (sb: SandboxProcess, args: string[]) =>
  run(awsCliV2(), ['--endpoint-url', sb.url, '--output', 'json', ...args], { env: adminEnv(sb) });

test('AWS CLI v2 parses ECR successes and errors from the sandbox', { timeout: 120_000 }, async (t) => {
  if (await skipUnless(t, 'awscli')) return;
  const sb = await startSandboxProcess();
  t.after(() => sb.stop());
  const ok = async (args: string[]) => {
    const r = await aws(sb, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout ? JSON.parse(r.stdout) : undefined;
  };
  const fails = async (args: string[], code: string) => {
    const r = await aws(sb, args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, new RegExp(`An error occurred \\(${code}\\) when calling`), `${args.join(' ')}: ${r.stderr}`);
  };
  const created = await ok(['ecr', 'create-repository', '--repository-name', 'svc/api', '--image-tag-mutability', 'IMMUTABLE',
    '--image-scanning-configuration', 'scanOnPush=true']);
  assert.equal(created.repository.imageTagMutability, 'IMMUTABLE');
  await fails(['ecr', 'create-repository', '--repository-name', 'svc/api'], 'RepositoryAlreadyExistsException');
  await fails(['ecr', 'create-repository', '--repository-name', 'Bad_Name'], 'InvalidParameterException');
  const described = await ok(['ecr', 'describe-repositories']);
  assert.equal(described.repositories.length, 1);
  assert.equal(typeof described.repositories[0].createdAt, 'string', 'the CLI turned the epoch number into a timestamp');
  await fails(['ecr', 'describe-repositories', '--repository-names', 'nope'], 'RepositoryNotFoundException');
  assert.deepEqual((await ok(['ecr', 'list-images', '--repository-name', 'svc/api'])).imageIds, []);
  await fails(['ecr', 'describe-images', '--repository-name', 'svc/api', '--image-ids', 'imageTag=x'], 'ImageNotFoundException');
  const got = await ok(['ecr', 'batch-get-image', '--repository-name', 'svc/api', '--image-ids', 'imageTag=x']);
  assert.equal(got.failures[0].failureCode, 'ImageNotFound');
  const layers = await ok(['ecr', 'batch-check-layer-availability', '--repository-name', 'svc/api', '--layer-digests', `sha256:${'a'.repeat(64)}`]);
  assert.equal(layers.failures[0].failureCode, 'MissingLayerDigest');
  await fails(['ecr', 'put-image', '--repository-name', 'svc/api', '--image-tag', 'v1', '--image-manifest',
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 2 }, layers: [] })],
  'LayersNotFoundException');
  await ok(['ecr', 'put-image-tag-mutability', '--repository-name', 'svc/api', '--image-tag-mutability', 'MUTABLE']);
  const token = await ok(['ecr', 'get-authorization-token']);
  assert.match(token.authorizationData[0].proxyEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  await ok(['ecr', 'delete-repository', '--repository-name', 'svc/api']);
  await fails(['ecr', 'delete-repository', '--repository-name', 'svc/api'], 'RepositoryNotFoundException');
});
