// hoist.yaml: keys are the flag names; values keep the text the user wrote; unknown keys and
// wrong shapes are problems naming the key (and line), reported with every other problem.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfigFile } from '../src/config/file.ts';
import { checkPushConfig, resolvePushConfig } from '../src/config/push.ts';
import { FILE_KEYS } from '../src/config/settings.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';

const FULL = `# hoist.yaml
repository: order-microservice
region: ap-south-1
account: 012345678901
role-arn: arn:aws:iam::012345678901:role/gitlab-runner-ecr-role
tag: 3.0
tag-rule: [sha:short, "semver:{{major}}.{{minor}}", latest]
build-arg:
  VERSION: "1.0"
  EMPTY:
label:
  - org.example.team=platform
platform: linux/amd64
cache-from: :buildcache
create-repository: false
scan-on-push: true
encryption: KMS
duration: 3600
`;

test('a full hoist.yaml resolves, keeping the text as written (leading zeros, 3.0)', () => {
  const c = resolvePushConfig({ env: { AWS_ID_TOKEN: TOKEN }, flags: {}, file: { path: 'hoist.yaml', text: FULL } });
  assert.equal(c.aws.account, '012345678901');
  assert.deepEqual(c.tags.explicit, ['3.0']);
  assert.deepEqual(c.tags.rules.map((r) => r.kind), ['sha', 'semver', 'latest']);
  assert.deepEqual(c.build.buildArgs, { VERSION: '1.0', EMPTY: '' });
  assert.deepEqual(c.build.labels, { 'org.example.team': 'platform' });
  assert.equal(c.build.cacheFrom[0]!.tag, 'buildcache');
  assert.deepEqual([c.repository.create, c.repository.scanOnPush, c.repository.encryption], [false, true, { type: 'KMS' }]);
  assert.equal(c.aws.durationSeconds, 3600);
  assert.equal(c.sources.repository, 'hoist.yaml: repository');
});

test('unknown keys name the key and its line, and suggest the right spelling', () => {
  const { problems } = readConfigFile('hoist.yaml', 'repository: app\ntags: [a]\nroleArn: x\ncolour: blue\n', FILE_KEYS);
  assert.deepEqual(problems.map((p) => [p.source, p.message, p.hint?.slice(0, 29)]), [
    ['hoist.yaml: tags', 'unknown key "tags" on line 2', 'Did you mean "tag"?'],
    ['hoist.yaml: roleArn', 'unknown key "roleArn" on line 3', 'Did you mean "role-arn"?'],
    ['hoist.yaml: colour', 'unknown key "colour" on line 4', 'Known keys: repository, tag, '],
  ]);
});

test('wrong shapes and bad values are named by key', () => {
  const text = 'repository: [a, b]\ntag-rule: {a: b}\nregion: Mumbai\npull: maybe\n';
  const { problems } = checkPushConfig({ env: { AWS_ID_TOKEN: TOKEN, AWS_ROLE_ARN: 'arn:aws:iam::831955480324:role/r' }, flags: {}, file: { path: 'ci/hoist.yaml', text } });
  assert.deepEqual(problems.map((p) => [p.source, p.message]), [
    ['ci/hoist.yaml: repository', 'expected a single value, not a list or mapping'],
    ['ci/hoist.yaml: tag-rule', 'expected a list of strings'],
    ['ci/hoist.yaml: region', '"Mumbai" is not an AWS region: expected a region code like ap-south-1 or us-east-1'],
    ['ECR_REPOSITORY (environment)', 'ECR_REPOSITORY is not set (nor --repository, nor repository in hoist.yaml)'],
    ['ci/hoist.yaml: pull', '"maybe" is not true or false'],
  ]);
});

test('YAML syntax errors carry the line; a file that is not a mapping is one problem', () => {
  const broken = readConfigFile('hoist.yaml', 'repository: app\nregion: [unclosed\n', FILE_KEYS);
  assert.equal(broken.problems.length > 0, true);
  assert.match(broken.problems[0]!.source, /^hoist\.yaml:\d+$/);
  assert.match(broken.problems[0]!.message, /^not valid YAML: /);
  const list = readConfigFile('hoist.yaml', '- a\n- b\n', FILE_KEYS);
  assert.deepEqual(list.problems.map((p) => p.source), ['hoist.yaml']);
  assert.deepEqual(readConfigFile('hoist.yaml', '# nothing yet\n', FILE_KEYS), { entries: new Map(), problems: [] });
  const dup = readConfigFile('hoist.yaml', 'region: a\nregion: b\n', FILE_KEYS);
  assert.match(dup.problems[0]!.message, /unique/);
});
