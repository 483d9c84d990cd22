// Acceptance table for tags and labels on GitLab pipelines: the variables GitLab sets for a
// default-branch push, another branch, a release tag, a pre-release tag and a merge request →
// the tags pushed and the OCI labels written.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readGitlabContext, slugify } from '../src/ci/gitlab.ts';
import { ociLabels } from '../src/ci/labels.ts';
import { computeTags } from '../src/ci/tags.ts';
import { resolvePushConfig } from '../src/config/push.ts';
import { type Tag } from '../src/model/tag.ts';
import { DEFAULT_TAG_RULES, type TagRule, parseTagRule } from '../src/model/tag-rule.ts';
import { orThrow } from '../src/model/value.ts';

const SHA = 'abcdef1234567890abcdef1234567890abcdef12';

/** What every GitLab job has, plus what the pipeline kind adds. */
function pipeline(kind: Record<string, string>): Record<string, string> {
  return {
    GITLAB_CI: 'true', CI_COMMIT_SHA: SHA, CI_COMMIT_SHORT_SHA: SHA.slice(0, 8), CI_DEFAULT_BRANCH: 'main',
    CI_PIPELINE_ID: '1234', CI_PIPELINE_CREATED_AT: '2025-06-01T10:20:30Z', CI_JOB_NAME: 'build-and-push',
    CI_PROJECT_URL: 'https://gitlab.com/mygroup/myrepo', CI_PROJECT_NAME: 'myrepo', CI_PROJECT_PATH: 'mygroup/myrepo',
    ...kind,
  };
}

const PIPELINES: Record<string, Record<string, string>> = {
  'default branch push': pipeline({ CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'main', CI_COMMIT_REF_NAME: 'main', CI_COMMIT_REF_SLUG: 'main' }),
  'other branch': pipeline({ CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'feature/Login', CI_COMMIT_REF_NAME: 'feature/Login', CI_COMMIT_REF_SLUG: 'feature-login' }),
  'tag v1.2.3': pipeline({ CI_PIPELINE_SOURCE: 'push', CI_COMMIT_TAG: 'v1.2.3', CI_COMMIT_REF_NAME: 'v1.2.3', CI_COMMIT_REF_SLUG: 'v1-2-3' }),
  'pre-release tag v2.0.0-rc.1': pipeline({ CI_PIPELINE_SOURCE: 'push', CI_COMMIT_TAG: 'v2.0.0-rc.1', CI_COMMIT_REF_NAME: 'v2.0.0-rc.1', CI_COMMIT_REF_SLUG: 'v2-0-0-rc-1' }),
  'merge request !42': pipeline({
    CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: '42', CI_COMMIT_REF_NAME: 'feature/Login', CI_COMMIT_REF_SLUG: 'feature-login',
    CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature/Login', CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
  }),
};

const rules = (...raw: string[]): TagRule[] => raw.map((r) => orThrow(parseTagRule(r)));
const FULL_RULES = rules('semver:{{version}}', 'semver:{{major}}.{{minor}}', 'semver:{{major}}', 'sha:short', 'ref', 'latest', 'mr');

function tagsFor(name: string, ruleSet: readonly TagRule[], explicit: string[] = [], defaulted = false): string[] {
  const { context, problems } = readGitlabContext(PIPELINES[name]!);
  assert.deepEqual(problems, []);
  const result = computeTags({ rules: ruleSet, explicit: explicit as Tag[], gitlab: context, defaulted });
  assert.deepEqual(result.problems, [], name);
  return result.tags;
}

test('acceptance: every rule, on each kind of pipeline', () => {
  const expected: Record<string, string[]> = {
    'default branch push': ['abcdef12', 'main', 'latest'],
    'other branch': ['abcdef12', 'feature-login'],
    'tag v1.2.3': ['1.2.3', '1.2', '1', 'abcdef12', 'v1-2-3'],
    'pre-release tag v2.0.0-rc.1': ['2.0.0-rc.1', 'abcdef12', 'v2-0-0-rc-1'],
    'merge request !42': ['abcdef12', 'feature-login', 'mr-42'],
  };
  for (const [name, tags] of Object.entries(expected)) assert.deepEqual(tagsFor(name, FULL_RULES), tags, name);
});

test('acceptance: the default rules (short SHA; latest only on the default branch, not on tags)', () => {
  const expected: Record<string, string[]> = {
    'default branch push': ['abcdef12', 'latest'],
    'other branch': ['abcdef12'],
    'tag v1.2.3': ['abcdef12'],
    'pre-release tag v2.0.0-rc.1': ['abcdef12'],
    'merge request !42': ['abcdef12'],
  };
  for (const [name, tags] of Object.entries(expected)) assert.deepEqual(tagsFor(name, DEFAULT_TAG_RULES, [], true), tags, name);
});

test('acceptance: OCI labels from the same variables', () => {
  const common = {
    'org.opencontainers.image.source': 'https://gitlab.com/mygroup/myrepo',
    'org.opencontainers.image.revision': SHA,
    'org.opencontainers.image.created': '2025-06-01T10:20:30Z',
    'org.opencontainers.image.title': 'myrepo',
    'org.opencontainers.image.url': 'https://gitlab.com/mygroup/myrepo',
  };
  const versions: Record<string, string> = {
    'default branch push': 'abcdef12', 'other branch': 'abcdef12', 'tag v1.2.3': '1.2.3',
    'pre-release tag v2.0.0-rc.1': '2.0.0-rc.1', 'merge request !42': 'abcdef12',
  };
  for (const [name, version] of Object.entries(versions)) {
    const { context } = readGitlabContext(PIPELINES[name]!);
    const tags = tagsFor(name, FULL_RULES);
    assert.deepEqual(ociLabels({ gitlab: context, tags: tags as Tag[] }), { ...common, 'org.opencontainers.image.version': version }, name);
  }
});

test('explicit tags come first, always; duplicates collapse and order is kept', () => {
  assert.deepEqual(tagsFor('tag v1.2.3', FULL_RULES, ['1.2.3', 'stable']), ['1.2.3', 'stable', '1.2', '1', 'abcdef12', 'v1-2-3']);
  assert.deepEqual(tagsFor('other branch', [], ['3.0.0']), ['3.0.0'], 'IMAGE_TAG alone: exactly the seed\'s behaviour');
});

test('more rules: sha lengths, latest on tags, a tag that is not semver', () => {
  assert.deepEqual(tagsFor('default branch push', rules('sha', 'sha:12')), [SHA, SHA.slice(0, 12)]);
  assert.deepEqual(tagsFor('tag v1.2.3', rules('latest:tag')), ['latest']);
  assert.deepEqual(tagsFor('pre-release tag v2.0.0-rc.1', rules('latest:tag', 'sha:short')), ['abcdef12'], 'a pre-release is never latest');
  assert.deepEqual(tagsFor('other branch', rules('latest:always')), ['latest']);
  const { context } = readGitlabContext(pipeline({ CI_COMMIT_TAG: 'release 2024/01', CI_COMMIT_REF_NAME: 'release 2024/01' }));
  assert.deepEqual(computeTags({ rules: rules('semver', 'semver:{{major}}', 'ref'), explicit: [], gitlab: context }).tags, ['release-2024-01'],
    'a non-semver tag is used as itself, sanitized; ref falls back to GitLab\'s slug rule');
});

test('outside a pipeline: the default rules ask for IMAGE_TAG; explicit rules name the missing variable', () => {
  const { context } = readGitlabContext({});
  const defaulted = computeTags({ rules: DEFAULT_TAG_RULES, explicit: [], gitlab: context, defaulted: true });
  assert.deepEqual(defaulted.tags, []);
  assert.deepEqual(defaulted.problems.map((p) => [p.source, p.hint]), [['IMAGE_TAG (environment)', 'Set IMAGE_TAG or pass --tag (e.g. --tag dev), or run inside a GitLab pipeline.']]);
  const explicit = computeTags({ rules: rules('sha', 'ref'), explicit: [], gitlab: context });
  assert.deepEqual(explicit.problems.map((p) => p.message), [
    'tag rule "sha" needs the commit SHA, but CI_COMMIT_SHA is not set',
    'tag rule "ref" needs the branch or tag name, but CI_COMMIT_REF_SLUG is not set',
  ]);
});

test('rules that give nothing on this pipeline are one problem, not an empty push', () => {
  const { context } = readGitlabContext(PIPELINES['other branch']!);
  const { tags, problems } = computeTags({ rules: rules('semver', 'mr'), explicit: [], gitlab: context });
  assert.deepEqual(tags, []);
  assert.deepEqual(problems.map((p) => p.message), ['no tag to push: the tag rules (semver, mr) give no tag on the pipeline for branch feature/Login']);
});

test('the GitLab context is typed, and overridden predefined variables are reported', () => {
  const { context } = readGitlabContext(PIPELINES['merge request !42']!);
  assert.deepEqual(context.mergeRequest, { iid: 42, sourceBranch: 'feature/Login', targetBranch: 'main' });
  assert.equal(context.pipeline.createdAt?.toISOString(), '2025-06-01T10:20:30.000Z');
  assert.equal(context.commit.branch, undefined, 'merge-request pipelines have no CI_COMMIT_BRANCH');
  const bad = readGitlabContext({ CI_COMMIT_SHA: 'HEAD', CI_MERGE_REQUEST_IID: '!42', CI_PIPELINE_CREATED_AT: 'yesterday', CI_COMMIT_BRANCH: '' });
  assert.deepEqual(bad.problems.map((p) => p.source), ['CI_COMMIT_SHA (environment)', 'CI_PIPELINE_CREATED_AT (environment)', 'CI_MERGE_REQUEST_IID (environment)']);
  assert.equal(bad.context.commit.sha, undefined);
  assert.equal(bad.context.commit.branch, undefined, 'empty means unset');
  assert.equal(slugify('Feature/ÜBER_long-'), 'feature--ber-long');
});

test('labels: user labels win, created falls back to the given time, absent variables leave labels out', () => {
  const { context } = readGitlabContext({ CI_COMMIT_SHA: SHA, CI_PROJECT_DESCRIPTION: 'Orders API' });
  const labels = ociLabels({ gitlab: context, tags: ['v1.0.0', 'x'] as Tag[], now: new Date('2025-01-02T03:04:05.678Z'), user: { 'org.opencontainers.image.title': 'orders', team: 'platform' } });
  assert.deepEqual(labels, {
    'org.opencontainers.image.revision': SHA,
    'org.opencontainers.image.created': '2025-01-02T03:04:05Z',
    'org.opencontainers.image.title': 'orders',
    'org.opencontainers.image.description': 'Orders API',
    'org.opencontainers.image.version': 'v1.0.0',
    team: 'platform',
  });
});

test('front half end to end: config → GitLab context → tags and labels', () => {
  const env = {
    ...PIPELINES['tag v1.2.3']!,
    AWS_REGION: 'ap-south-1', AWS_ROLE_ARN: 'arn:aws:iam::831955480324:role/gitlab-runner-ecr-role', ECR_REPOSITORY: 'order-microservice',
    AWS_ID_TOKEN: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
  };
  const config = resolvePushConfig({ env, flags: { tagRule: ['semver', 'semver:{{major}}.{{minor}}', 'sha:short'], label: ['team=platform'] } });
  const { context } = readGitlabContext(env);
  const { tags } = computeTags({ ...config.tags, gitlab: context });
  assert.deepEqual(tags, ['1.2.3', '1.2', 'abcdef12']);
  const labels = ociLabels({ gitlab: context, tags, user: config.build.labels });
  assert.equal(labels['org.opencontainers.image.version'], '1.2.3');
  assert.equal(labels.team, 'platform');
});
