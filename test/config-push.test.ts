// `hoist push` configuration: precedence (flags > environment > hoist.yaml > defaults), every
// problem reported at once with its source, the account/role rules, and the seed's own setup.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Problem, isHoistError } from '../src/errors.ts';
import { type PushConfigInput, checkPushConfig, resolvePushConfig } from '../src/config/push.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2lnbmF0dXJl';

/** The seed pipeline's variables, as GitLab hands them to the job. */
const SEED: Record<string, string> = {
  AWS_ACCOUNT_ID: '831955480324',
  AWS_REGION: 'ap-south-1',
  AWS_ROLE_ARN: 'arn:aws:iam::831955480324:role/gitlab-runner-ecr-role',
  ECR_REPOSITORY: 'order-microservice',
  IMAGE_TAG: '3.0.0',
  AWS_ID_TOKEN: TOKEN,
  CI_PIPELINE_ID: '1234',
  GITLAB_CI: 'true',
};

function problems(input: Partial<PushConfigInput>): Problem[] {
  return checkPushConfig({ env: {}, flags: {}, ...input }).problems;
}

test('the seed pipeline\'s variables resolve to its exact target', () => {
  const c = resolvePushConfig({ env: SEED, flags: {} });
  assert.equal(c.aws.account, '831955480324');
  assert.equal(c.aws.region, 'ap-south-1');
  assert.equal(c.aws.partition, 'aws');
  assert.equal(c.aws.roleArn.name, 'gitlab-runner-ecr-role');
  assert.equal(c.aws.sessionName, 'gitlab-1234');
  assert.equal(c.aws.registry, '831955480324.dkr.ecr.ap-south-1.amazonaws.com');
  assert.deepEqual(c.image, { registry: '831955480324.dkr.ecr.ap-south-1.amazonaws.com', repository: 'order-microservice' });
  assert.deepEqual(c.tags, { explicit: ['3.0.0'], rules: [], defaulted: false });
  assert.deepEqual(c.repository, { name: 'order-microservice', create: true, scanOnPush: false });
  assert.deepEqual(c.build, { context: '.', file: 'Dockerfile', buildArgs: {}, platforms: [], labels: {}, cacheFrom: [], pull: true });
  assert.equal(c.idToken.kind, 'variable');
  assert.equal(JSON.stringify(c).includes(TOKEN), false, 'the token never appears in a printed config');
  assert.equal(c.sources.region, 'AWS_REGION (environment)');
});

test('every problem at once: bad region + bad repository + bad tag → one error, three problems, each with its source', () => {
  const env = { ...SEED, AWS_REGION: 'Mumbai', ECR_REPOSITORY: 'Order-Service' };
  assert.throws(() => resolvePushConfig({ env, flags: { tag: ['feature/x'] } }), (err: unknown) => {
    assert.ok(isHoistError(err, 'config.invalid'));
    assert.equal(err.message, 'hoist push configuration: 3 problems');
    assert.deepEqual(err.problems.map((p) => p.source), ['AWS_REGION (environment)', 'ECR_REPOSITORY (environment)', '--tag']);
    assert.deepEqual(err.problems.map((p) => p.hint), [
      'Region codes are listed by `aws ec2 describe-regions`; names like "Mumbai" are not accepted.',
      'Use order-service.',
      'Use feature-x.',
    ]);
    assert.match(err.problems[1]!.message, /ECR names are lowercase/);
    return true;
  });
});

test('flags override the environment, the environment overrides hoist.yaml, hoist.yaml fills the rest', () => {
  const file = { path: 'hoist.yaml', text: 'region: eu-west-1\nrepository: from-file\ncontext: app\nscan-on-push: true\ntag-mutability: immutable\n' };
  const c = resolvePushConfig({ env: { ...SEED, AWS_REGION: 'us-east-1' }, flags: { region: 'ap-south-1' }, file });
  assert.equal(c.aws.region, 'ap-south-1');
  assert.equal(c.sources.region, '--region');
  assert.equal(c.repository.name, 'order-microservice', 'ECR_REPOSITORY beats hoist.yaml');
  assert.equal(c.build.context, 'app', 'hoist.yaml fills what nothing else set');
  assert.equal(c.build.file, 'app/Dockerfile', 'the Dockerfile defaults to <context>/Dockerfile');
  assert.equal(c.repository.scanOnPush, true);
  assert.equal(c.repository.tagMutability, 'IMMUTABLE');
  const env = resolvePushConfig({ env: { ...SEED, AWS_REGION: 'us-east-1' }, flags: {}, file });
  assert.equal(env.aws.region, 'us-east-1');
  const { AWS_REGION: _, ...noRegion } = SEED;
  assert.equal(resolvePushConfig({ env: noRegion, flags: {}, file }).aws.region, 'eu-west-1');
  assert.equal(resolvePushConfig({ env: { ...noRegion, AWS_DEFAULT_REGION: 'us-west-2' }, flags: {}, file }).aws.region, 'us-west-2', 'AWS_DEFAULT_REGION is the fallback');
});

test('a flag list replaces the environment value whole; empty environment values count as unset', () => {
  const c = resolvePushConfig({ env: { ...SEED, AWS_REGION: '  ', AWS_DEFAULT_REGION: 'us-east-2' }, flags: { tag: ['a', 'b', 'a'] } });
  assert.deepEqual(c.tags.explicit, ['a', 'b']);
  assert.equal(c.aws.region, 'us-east-2');
});

test('the account comes from the role ARN when AWS_ACCOUNT_ID is unset', () => {
  const { AWS_ACCOUNT_ID: _, ...env } = SEED;
  const c = resolvePushConfig({ env, flags: {} });
  assert.equal(c.aws.account, '831955480324');
  assert.equal(c.sources.account, 'AWS_ROLE_ARN (environment)');
});

test('a role in another account is a problem that names both accounts and both sources', () => {
  const found = problems({ env: { ...SEED, AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/gitlab-runner-ecr-role' } });
  assert.deepEqual(found, [{
    source: 'AWS_ACCOUNT_ID (environment)',
    message: 'the role ARN is in another account: AWS_ROLE_ARN (environment) names a role in account 111122223333, but AWS_ACCOUNT_ID (environment) is 831955480324',
    hint: 'hoist assumes the role and pushes to the same account\'s registry: make AWS_ACCOUNT_ID and the account in the role ARN agree.',
  }]);
  const viaFlag = problems({ env: SEED, flags: { account: '444455556666' } });
  assert.match(viaFlag[0]!.message, /AWS_ROLE_ARN \(environment\) names a role in account 831955480324, but --account is 444455556666/);
});

test('partition and registry consistency', () => {
  const cn = problems({ env: { ...SEED, AWS_REGION: 'cn-north-1' } });
  assert.equal(cn[0]!.message, 'the role ARN is in partition aws, but region cn-north-1 is in aws-cn');
  const china = resolvePushConfig({ env: { ...SEED, AWS_REGION: 'cn-north-1', AWS_ROLE_ARN: 'arn:aws-cn:iam::831955480324:role/r' }, flags: {} });
  assert.equal(china.aws.registry, '831955480324.dkr.ecr.cn-north-1.amazonaws.com.cn');
  const wrongRegistry = problems({ env: SEED, flags: { registry: '831955480324.dkr.ecr.us-east-1.amazonaws.com' } });
  assert.equal(wrongRegistry[0]!.message, 'the registry is in region us-east-1, but the region is ap-south-1 (AWS_REGION (environment))');
  const sandbox = resolvePushConfig({ env: SEED, flags: { registry: 'localhost:5000', endpointUrl: 'http://127.0.0.1:4566' } });
  assert.deepEqual([sandbox.aws.registry, sandbox.aws.endpoint], ['localhost:5000', 'http://127.0.0.1:4566']);
  const { AWS_REGION: _, ...noRegion } = SEED;
  assert.equal(resolvePushConfig({ env: noRegion, flags: { registry: '831955480324.dkr.ecr.eu-west-1.amazonaws.com' } }).aws.region, 'eu-west-1', 'region from an ECR --registry');
});

test('nothing set: each required setting is reported with where to set it', () => {
  const found = problems({ env: {} });
  assert.deepEqual(found.map((p) => p.source), ['AWS_ROLE_ARN (environment)', 'AWS_REGION (environment)', 'AWS_ID_TOKEN (environment)', 'ECR_REPOSITORY (environment)']);
  assert.equal(found[0]!.message, 'AWS_ROLE_ARN is not set (nor --role-arn, nor role-arn in hoist.yaml)');
  assert.equal(found[3]!.hint, 'Set ECR_REPOSITORY to the repository name (e.g. order-microservice).');
  const inProject = problems({ env: { CI_PROJECT_PATH: 'MyGroup/MyRepo' } });
  assert.equal(inProject.at(-1)!.hint, 'Set ECR_REPOSITORY to the repository name, e.g. mygroup/myrepo.');
});

test('session name and duration', () => {
  const now = new Date('2025-03-04T05:06:07.890Z');
  const { CI_PIPELINE_ID: _, ...outside } = SEED;
  assert.equal(resolvePushConfig({ env: outside, flags: {}, now }).aws.sessionName, 'hoist-20250304T050607Z');
  assert.equal(resolvePushConfig({ env: { ...SEED, AWS_ROLE_SESSION_NAME: 'mine' }, flags: {} }).aws.sessionName, 'mine');
  assert.equal(resolvePushConfig({ env: SEED, flags: { duration: '2h' } }).aws.durationSeconds, 7200);
  assert.equal(resolvePushConfig({ env: SEED, flags: { duration: 900 } }).aws.durationSeconds, 900);
  const bad = problems({ env: { ...SEED, AWS_ROLE_SESSION_NAME: 'has space' }, flags: { duration: '600' } });
  assert.deepEqual(bad.map((p) => p.source), ['AWS_ROLE_SESSION_NAME (environment)', '--duration']);
  assert.equal(bad[1]!.message, '"600" is not a session duration from 900 to 43200 seconds');
});

test('build and repository flags are parsed into values', () => {
  const c = resolvePushConfig({
    env: { ...SEED, HTTP_PROXY: 'http://proxy:3128' },
    flags: {
      context: 'svc', file: 'docker/Dockerfile.prod', buildArg: ['VERSION=1.0', 'HTTP_PROXY', 'UNSET_ARG'], target: 'runtime',
      platform: 'linux/amd64,linux/arm64', label: ['org.example.team=platform'], cacheFrom: [':buildcache', 'r.example.com/base:1'],
      createRepository: false, pull: false, encryption: 'kms', kmsKey: 'alias/ecr', tagRule: ['sha', 'ref'], json: true, dotenv: 'image.env',
    },
  });
  assert.deepEqual(c.build.buildArgs, { VERSION: '1.0', HTTP_PROXY: 'http://proxy:3128' });
  assert.equal(c.build.file, 'docker/Dockerfile.prod');
  assert.deepEqual(c.build.platforms, [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }]);
  assert.deepEqual(c.build.labels, { 'org.example.team': 'platform' });
  assert.deepEqual(c.build.cacheFrom, [
    { registry: '831955480324.dkr.ecr.ap-south-1.amazonaws.com', repository: 'order-microservice', tag: 'buildcache' },
    { registry: 'r.example.com', repository: 'base', tag: '1' },
  ]);
  assert.deepEqual([c.repository.create, c.build.pull, c.build.target], [false, false, 'runtime']);
  assert.deepEqual(c.repository.encryption, { type: 'KMS', kmsKey: 'alias/ecr' });
  assert.deepEqual(c.tags, { explicit: ['3.0.0'], rules: [{ kind: 'sha', length: 'full' }, { kind: 'ref' }], defaulted: false });
  assert.deepEqual(c.output, { json: true, dotenv: 'image.env' });
  assert.equal(c.sources['create-repository'], '--no-create-repository');
});

test('bad build and repository settings are reported with the others', () => {
  const found = problems({
    env: SEED,
    flags: { label: ['novalue'], platform: 'linux', target: '1stage', tagMutability: 'sometimes', encryption: 'AES256', kmsKey: 'alias/x', endpointUrl: 'ftp://x', tagRule: ['nope'] },
  });
  assert.deepEqual(found.map((p) => p.source), ['--endpoint-url', '--tag-mutability', '--kms-key', '--tag-rule', '--target', '--platform', '--label']);
});

test('no tag and no rule: the default rules, marked as defaulted', () => {
  const { IMAGE_TAG: _, ...env } = SEED;
  const c = resolvePushConfig({ env, flags: {} });
  assert.deepEqual(c.tags, { explicit: [], rules: [{ kind: 'sha', length: 'short' }, { kind: 'latest', when: 'default-branch' }], defaulted: true });
  assert.equal(c.sources['tag-rule'], 'default');
});
