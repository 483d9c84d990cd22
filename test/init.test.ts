// hoist init: the generated pipeline, component, policies and Terraform for a table of
// inputs; GitLab's CI keys checked offline by a focused structural validator; the trust
// policy evaluated against tokens of this project/branch and of others; never clobbering.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { init } from '../src/api/init.ts';
import { main } from '../src/cli/app.ts';
import type { Io } from '../src/cli/io.ts';
import {
  branchRule, initFiles, parseInitSpec, permissionsPolicy, policyText, trustPolicy, unifiedDiff, type InitInput,
} from '../src/generate/index.ts';
import { evaluate, parsePolicy, type Decision } from '../src/policy/index.ts';

const BASE: InitInput = {
  projectPath: 'mygroup/myrepo', repository: 'order-microservice', account: '831955480324', region: 'ap-south-1', branch: 'master',
};
const PROVIDER = 'arn:aws:iam::831955480324:oidc-provider/gitlab.com';
const REPO_ARN = 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice';

function files(input: InitInput): Record<string, string> {
  return Object.fromEntries(initFiles(parseInitSpec({ ...BASE, ...input })).map((f) => [f.path, f.content]));
}

// ---- a focused validator of the GitLab CI keys these files use (docs.gitlab.com/ci/yaml) ----

const GLOBAL_KEYS = new Set(['default', 'include', 'stages', 'variables', 'workflow', 'spec']);
const JOB_KEYS = new Set([
  'stage', 'image', 'services', 'interruptible', 'retry', 'id_tokens', 'variables', 'before_script', 'script',
  'after_script', 'artifacts', 'rules', 'needs', 'tags', 'timeout', 'cache', 'extends', 'environment', 'when',
]);
const RULE_KEYS = new Set(['if', 'changes', 'exists', 'when', 'variables', 'allow_failure', 'needs']);
const INPUT_KEYS = new Set(['default', 'description', 'options', 'regex', 'type']);

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string, problems: string[]): void {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) problems.push(`${where}: must be a non-empty list of strings`);
}

function validateVariables(v: unknown, where: string, problems: string[]): void {
  if (!isMap(v)) return void problems.push(`${where}: must be a map`);
  for (const [k, val] of Object.entries(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push(`${where}.${k}: not a variable name`);
    if (typeof val !== 'string') problems.push(`${where}.${k}: must be a string (YAML numbers lose leading zeros), got ${typeof val}`);
  }
}

function validateJob(name: string, job: unknown, stages: string[], problems: string[]): void {
  if (!isMap(job)) return void problems.push(`${name}: a job must be a map`);
  for (const k of Object.keys(job)) if (!JOB_KEYS.has(k)) problems.push(`${name}.${k}: unknown job keyword`);
  if (!job.script) problems.push(`${name}: a job needs script`);
  stringList(job.script, `${name}.script`, problems);
  if (job.before_script !== undefined) stringList(job.before_script, `${name}.before_script`, problems);
  if (typeof job.stage === 'string' && !job.stage.startsWith('$[[') && !stages.includes(job.stage)) problems.push(`${name}.stage: ${job.stage} is not in stages`);
  if (job.image !== undefined && typeof job.image !== 'string') problems.push(`${name}.image: must be a string`);
  if (job.interruptible !== undefined && typeof job.interruptible !== 'boolean') problems.push(`${name}.interruptible: must be boolean`);
  if (job.retry !== undefined && !(Number.isInteger(job.retry) && (job.retry as number) >= 0 && (job.retry as number) <= 2)) problems.push(`${name}.retry: 0, 1 or 2`);
  if (job.variables !== undefined) validateVariables(job.variables, `${name}.variables`, problems);
  if (job.services !== undefined) {
    if (!Array.isArray(job.services)) problems.push(`${name}.services: must be a list`);
    else for (const s of job.services) if (!(typeof s === 'string' || (isMap(s) && typeof s.name === 'string' && (s.command === undefined || Array.isArray(s.command))))) problems.push(`${name}.services: bad entry`);
  }
  if (job.id_tokens !== undefined) {
    if (!isMap(job.id_tokens)) problems.push(`${name}.id_tokens: must be a map`);
    else for (const [t, spec] of Object.entries(job.id_tokens)) if (!isMap(spec) || typeof spec.aud !== 'string' || Object.keys(spec).some((k) => k !== 'aud')) problems.push(`${name}.id_tokens.${t}: needs exactly aud`);
  }
  if (job.artifacts !== undefined) {
    const reports = isMap(job.artifacts) ? job.artifacts.reports : undefined;
    if (!isMap(reports) || typeof reports.dotenv !== 'string') problems.push(`${name}.artifacts.reports.dotenv: must be a file name`);
  }
  if (job.rules !== undefined) {
    if (!Array.isArray(job.rules)) problems.push(`${name}.rules: must be a list`);
    else for (const r of job.rules) {
      if (!isMap(r)) { problems.push(`${name}.rules: entries are maps`); continue; }
      for (const k of Object.keys(r)) if (!RULE_KEYS.has(k)) problems.push(`${name}.rules.${k}: unknown rules keyword`);
      if (typeof r.if !== 'string' || !/^\$\w+(\s*(==|!=|=~|!~)\s*("[^"]*"|\/.*\/|\$\w+))?$/.test(r.if)) problems.push(`${name}.rules.if: ${String(r.if)} is not a CI/CD variable expression`);
      if (r.variables !== undefined) validateVariables(r.variables, `${name}.rules.variables`, problems);
    }
  }
}

function validatePipeline(doc: unknown): string[] {
  const problems: string[] = [];
  if (!isMap(doc)) return ['the file must be a map'];
  const stages = Array.isArray(doc.stages) ? (doc.stages as string[]) : ['build', 'test', 'deploy'];
  if (doc.variables !== undefined) validateVariables(doc.variables, 'variables', problems);
  for (const [name, job] of Object.entries(doc)) if (!GLOBAL_KEYS.has(name)) validateJob(name, job, stages, problems);
  return problems;
}

/** spec: inputs in the header document; every $[[ inputs.x ]] in the body is declared, and vice versa. */
function validateComponent(text: string): string[] {
  const docs = parseAllDocuments(text);
  if (docs.length !== 2) return [`a component has a spec document and a body, got ${docs.length} documents`];
  const problems = docs.flatMap((d) => d.errors.map((e) => e.message));
  const header = docs[0]!.toJS() as { spec?: { inputs?: Record<string, unknown> } };
  const inputs = header.spec?.inputs ?? {};
  for (const [name, spec] of Object.entries(inputs)) {
    if (!isMap(spec)) { problems.push(`inputs.${name}: must be a map`); continue; }
    for (const k of Object.keys(spec)) if (!INPUT_KEYS.has(k)) problems.push(`inputs.${name}.${k}: unknown input keyword`);
    if (Array.isArray(spec.options) && spec.default !== undefined && !spec.options.includes(spec.default)) problems.push(`inputs.${name}: default not in options`);
  }
  const body = text.slice(text.indexOf('\n---\n') + 5);
  const used = new Set([...body.matchAll(/\$\[\[\s*inputs\.(\w+)\s*\]\]/g)].map((m) => m[1]!));
  for (const u of used) if (!(u in inputs)) problems.push(`$[[ inputs.${u} ]] is not declared`);
  for (const d of Object.keys(inputs)) if (!used.has(d)) problems.push(`input ${d} is never used`);
  // Interpolate the declared defaults (and sample values for required ones) and validate the job.
  const sample: Record<string, string> = { aws_account_id: '012345678901', aws_region: 'eu-west-1', role_arn: 'arn:aws:iam::012345678901:role/r', repository: 'app' };
  const filled = body.replace(/\$\[\[\s*inputs\.(\w+)\s*\]\]/g, (_, k: string) => String((inputs[k] as { default?: unknown }).default ?? sample[k] ?? ''));
  problems.push(...validatePipeline(parseYaml(filled)));
  return problems;
}

const quiet = (): Io & { out: string; err: string } => {
  const io = { out: '', err: '', env: {}, signal: new AbortController().signal } as Io & { out: string; err: string };
  io.stdout = (s) => void (io.out += s);
  io.stderr = (s) => void (io.err += s);
  return io;
};

// ---- the table -------------------------------------------------------------------------------

const TABLE: Array<{ name: string; input: InitInput }> = [
  { name: 'docker', input: { builder: 'docker' } },
  { name: 'docker + tags + test stage', input: { builder: 'docker', tags: true, testStage: true } },
  { name: 'native', input: { builder: 'native' } },
  { name: 'native + tags + create repository', input: { builder: 'native', tags: true, createRepository: true } },
  { name: 'auto + test stage (custom image)', input: { builder: 'auto', testStage: true, testImage: 'node:20', testCommand: 'npm test' } },
];

describe('hoist init: generated files', () => {
  for (const row of TABLE) {
    test(`${row.name}: .gitlab-ci.yml and the component are valid GitLab CI`, () => {
      const f = files(row.input);
      assert.deepEqual(Object.keys(f).sort(), ['.gitlab-ci.yml', 'iam/main.tf', 'iam/permissions-policy.json', 'iam/trust-policy.json', 'templates/hoist-push.yml']);
      const ci = parseYaml(f['.gitlab-ci.yml']!) as Record<string, any>;
      assert.deepEqual(validatePipeline(ci), []);
      assert.deepEqual(validateComponent(f['templates/hoist-push.yml']!), []);

      assert.deepEqual(ci.variables, {
        AWS_ACCOUNT_ID: '831955480324', AWS_REGION: 'ap-south-1', AWS_ROLE_ARN: 'arn:aws:iam::831955480324:role/gitlab-runner-ecr-role',
        ECR_REPOSITORY: 'order-microservice', IMAGE_TAG: '$CI_COMMIT_SHA', HOIST_PACKAGE: 'hoist',
      });
      const job = ci['build-and-push'];
      assert.deepEqual(job.id_tokens, { AWS_ID_TOKEN: { aud: 'sts.amazonaws.com' } });
      assert.equal(job.interruptible, true);
      assert.equal(job.retry, 1);
      assert.deepEqual(job.artifacts, { reports: { dotenv: 'hoist.env' } });
      assert.equal(job.variables.HOIST_BUILDER, row.input.builder);
      assert.equal(job.script.length, 1);
      assert.match(job.script[0], /^hoist push --dotenv hoist\.env/);
      assert.equal(job.script[0].includes('--no-create-repository'), !row.input.createRepository);

      if (row.input.builder === 'native') {
        assert.equal(job.image, 'node:20');
        assert.equal(job.services, undefined, 'daemonless: no DinD service');
        assert.equal(job.variables.DOCKER_HOST, undefined);
        assert.ok(!f['.gitlab-ci.yml']!.includes('privileged'));
      } else {
        assert.equal(job.image, 'docker:24.0');
        assert.deepEqual(job.services, [{ name: 'docker:24.0-dind', command: ['--tls=false'] }]);
        assert.deepEqual(job.variables, { HOIST_BUILDER: row.input.builder, DOCKER_HOST: 'tcp://docker:2375', DOCKER_TLS_CERTDIR: '', DOCKER_DRIVER: 'overlay2' });
        assert.deepEqual(job.before_script, ['apk add --no-cache nodejs npm', 'command -v hoist >/dev/null 2>&1 || npm install -g "$HOIST_PACKAGE"']);
      }

      const rules = job.rules as Array<Record<string, unknown>>;
      assert.deepEqual(rules[0], { if: '$CI_COMMIT_BRANCH == "master"' });
      if (row.input.tags) assert.deepEqual(rules[1], { if: '$CI_COMMIT_TAG', variables: { IMAGE_TAG: '$CI_COMMIT_TAG' } });
      else assert.equal(rules.length, 1);

      if (row.input.testStage) {
        assert.deepEqual(ci.stages, ['test', 'build']);
        assert.equal(ci.test.stage, 'test');
        assert.equal(ci.test.image, row.input.testImage ?? 'maven:3.9-eclipse-temurin-21');
        assert.deepEqual(ci.test.script, [row.input.testCommand ?? 'mvn -B test']);
      } else {
        assert.deepEqual(ci.stages, ['build']);
        assert.equal(ci.test, undefined);
      }
    });
  }

  test('the component declares the seed\'s settings as inputs and uses them in the job', () => {
    const text = files({})['templates/hoist-push.yml']!;
    const inputs = (parseAllDocuments(text)[0]!.toJS() as { spec: { inputs: Record<string, { default?: string }> } }).spec.inputs;
    for (const required of ['aws_account_id', 'aws_region', 'role_arn', 'repository']) assert.equal(inputs[required]!.default, undefined, `${required} is required`);
    assert.equal(inputs.image_tag!.default, '$CI_COMMIT_SHA');
    assert.equal(inputs.stage!.default, 'build');
    assert.equal(inputs.builder!.default, 'docker');
    assert.match(text, /aud: \$\[\[ inputs\.audience \]\]/);
  });

  test('the hoist push command line the pipeline runs uses only flags push accepts', async () => {
    for (const createRepository of [false, true]) {
      const line = (parseYaml(files({ createRepository })['.gitlab-ci.yml']!) as any)['build-and-push'].script[0] as string;
      const io = quiet();
      // parseArgs is strict: an unknown flag fails before --help is honoured.
      assert.equal(await main([...line.split(' ').slice(1), '--help'], io), 0, io.err);
      assert.match(io.out, /Usage: hoist push/);
    }
  });

  test('a wildcard branch becomes a rules regex and a StringLike sub', () => {
    assert.equal(branchRule('release/*'), '$CI_COMMIT_BRANCH =~ /^release\\/.*$/');
    const f = files({ branch: 'release/*' });
    assert.deepEqual(validatePipeline(parseYaml(f['.gitlab-ci.yml']!)), []);
    const cond = JSON.parse(f['iam/trust-policy.json']!).Statement[0].Condition;
    assert.deepEqual(cond.StringLike, { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:release/*' });
    assert.equal(cond.StringEquals['gitlab.com:sub'], undefined);
  });

  test('Terraform reads the same JSON and is formatted as terraform fmt wants', (t) => {
    const tf = files({})['iam/main.tf']!;
    assert.match(tf, /assume_role_policy\s+= file\("\$\{path\.module\}\/trust-policy\.json"\)/);
    assert.match(tf, /policy = file\("\$\{path\.module\}\/permissions-policy\.json"\)/);
    assert.match(tf, /url\s+= "https:\/\/gitlab\.com"/);
    assert.match(tf, /client_id_list = \["sts\.amazonaws\.com"\]/);
    assert.match(tf, /resource "aws_ecr_repository" "app" \{\n\s+name\s+= "order-microservice"/);
    let terraform: string | undefined;
    try {
      terraform = execFileSync('sh', ['-c', 'command -v terraform'], { encoding: 'utf8' }).trim();
    } catch {
      return t.skip('terraform is not installed');
    }
    const dir = mkdtempSync(join(tmpdir(), 'hoist-tf-'));
    writeFileSync(join(dir, 'main.tf'), tf);
    // fmt works offline; it exits non-zero on syntax errors and lists files it would reformat.
    assert.equal(execFileSync(terraform, ['fmt', '-check', '-list=true', dir], { encoding: 'utf8' }), '');
  });
});

// ---- policies ----------------------------------------------------------------------------------

function tokenKeys(projectPath: string, refType: 'branch' | 'tag', ref: string, extra: Record<string, string> = {}) {
  return {
    'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    'gitlab.com:project_id': '4242', 'gitlab.com:namespace_id': '1001', ...extra,
  };
}

function assume(input: InitInput, keys: Record<string, string>): Decision {
  const doc = parsePolicy(policyText(trustPolicy(parseInitSpec({ ...BASE, ...input }))), 'trust policy', 'trust');
  return evaluate([doc], { action: 'sts:AssumeRoleWithWebIdentity', principal: { federated: PROVIDER }, keys }).decision;
}

describe('hoist init: the trust policy', () => {
  const CASES: Array<[string, InitInput, Record<string, string>, Decision]> = [
    ['this project, this branch', {}, tokenKeys('mygroup/myrepo', 'branch', 'master'), 'allow'],
    ['another project', {}, tokenKeys('mygroup/other', 'branch', 'master'), 'implicit-deny'],
    ['a project whose path extends this one', {}, tokenKeys('mygroup/myrepo-fork', 'branch', 'master'), 'implicit-deny'],
    ['another branch', {}, tokenKeys('mygroup/myrepo', 'branch', 'feature'), 'implicit-deny'],
    ['a tag pipeline without --tags', {}, tokenKeys('mygroup/myrepo', 'tag', 'v1.0.0'), 'implicit-deny'],
    ['a tag pipeline with --tags', { tags: true }, tokenKeys('mygroup/myrepo', 'tag', 'v1.0.0'), 'allow'],
    ['the branch with --tags', { tags: true }, tokenKeys('mygroup/myrepo', 'branch', 'master'), 'allow'],
    ['another branch with --tags', { tags: true }, tokenKeys('mygroup/myrepo', 'branch', 'feature'), 'implicit-deny'],
    ['another project\'s tag with --tags', { tags: true }, tokenKeys('mygroup/other', 'tag', 'v1'), 'implicit-deny'],
    ['another audience', {}, tokenKeys('mygroup/myrepo', 'branch', 'master', { 'gitlab.com:aud': 'https://gitlab.com' }), 'implicit-deny'],
    ['project_id pinned, same project', { projectId: '4242', namespaceId: '1001' }, tokenKeys('mygroup/myrepo', 'branch', 'master'), 'allow'],
    ['project_id pinned, a new project reusing the path', { projectId: '4242' }, tokenKeys('mygroup/myrepo', 'branch', 'master', { 'gitlab.com:project_id': '9999' }), 'implicit-deny'],
  ];
  for (const [name, input, keys, expected] of CASES) {
    test(`${name} → ${expected}`, () => assert.equal(assume(input, keys), expected));
  }

  test('an exact branch uses StringEquals only (StringLike only for wildcards)', () => {
    const cond = trustPolicy(parseInitSpec(BASE)).Statement[0]!.Condition as Record<string, unknown>;
    assert.deepEqual(cond, { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:master' } });
  });

  test('project_id/namespace_id pins are refused for a self-managed issuer (AWS only evaluates sub there)', () => {
    assert.throws(() => parseInitSpec({ ...BASE, issuer: 'https://gitlab.example.com', projectId: '1' }),
      (err: { problems: Array<{ message: string }> }) => /only for the gitlab\.com identity provider/.test(err.problems[0]!.message));
    const doc = trustPolicy(parseInitSpec({ ...BASE, issuer: 'https://gitlab.example.com' }));
    assert.equal((doc.Statement[0]!.Principal as { Federated: string }).Federated, 'arn:aws:iam::831955480324:oidc-provider/gitlab.example.com');
    assert.ok('gitlab.example.com:sub' in ((doc.Statement[0]!.Condition as any).StringEquals));
  });
});

describe('hoist init: the permissions policy', () => {
  const decide = (input: InitInput, action: string, resource: string) =>
    evaluate([parsePolicy(policyText(permissionsPolicy(parseInitSpec({ ...BASE, ...input }))), 'permissions', 'identity')], { action, resource, keys: {} }).decision;

  test('the seed\'s push/pull actions on the repository ARN only, login on *', () => {
    for (const a of ['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeRepositories']) {
      assert.equal(decide({}, a, REPO_ARN), 'allow', a);
      assert.equal(decide({}, a, 'arn:aws:ecr:ap-south-1:831955480324:repository/other'), 'implicit-deny', a);
    }
    assert.equal(decide({}, 'ecr:GetAuthorizationToken', '*'), 'allow');
    assert.equal(decide({}, 'ecr:DeleteRepository', REPO_ARN), 'implicit-deny');
    assert.equal(decide({}, 'ecr:BatchDeleteImage', REPO_ARN), 'implicit-deny');
  });

  test('ecr:CreateRepository only with --create-repository', () => {
    assert.equal(decide({}, 'ecr:CreateRepository', REPO_ARN), 'implicit-deny');
    assert.equal(decide({ createRepository: true }, 'ecr:CreateRepository', REPO_ARN), 'allow');
    assert.equal(decide({ createRepository: true }, 'ecr:CreateRepository', 'arn:aws:ecr:ap-south-1:831955480324:repository/other'), 'implicit-deny');
  });

  test('other partitions get their ARNs and audience', () => {
    const s = parseInitSpec({ ...BASE, region: 'cn-north-1' });
    assert.equal((permissionsPolicy(s).Statement[1]!.Resource), 'arn:aws-cn:ecr:cn-north-1:831955480324:repository/order-microservice');
    assert.equal(s.audience, 'sts.amazonaws.com.cn');
  });
});

// ---- writing files -------------------------------------------------------------------------------

describe('hoist init: writing files', () => {
  test('creates, then reports unchanged; a differing file is skipped with a diff unless --force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-init-'));
    const first = await init(BASE, { dir });
    assert.deepEqual(first.files.map((f) => f.status), ['created', 'created', 'created', 'created', 'created']);
    const again = await init(BASE, { dir });
    assert.deepEqual(again.files.map((f) => f.status), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);

    const ci = join(dir, '.gitlab-ci.yml');
    const edited = readFileSync(ci, 'utf8') + '# my own note\n';
    writeFileSync(ci, edited);
    const skipped = await init(BASE, { dir });
    const entry = skipped.files.find((f) => f.path === '.gitlab-ci.yml')!;
    assert.equal(entry.status, 'skipped');
    assert.match(entry.diff!, /^--- a\/\.gitlab-ci\.yml\n\+\+\+ b\/\.gitlab-ci\.yml\n@@ /);
    assert.match(entry.diff!, /^-# my own note$/m);
    assert.equal(readFileSync(ci, 'utf8'), edited, 'left alone');

    const forced = await init(BASE, { dir, force: true });
    assert.equal(forced.files.find((f) => f.path === '.gitlab-ci.yml')!.status, 'overwritten');
    assert.equal(readFileSync(ci, 'utf8'), files({})['.gitlab-ci.yml']);
  });

  test('the CLI: exit 1 and a diff for a differing file, 0 with --force; missing flags are all listed (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-init-cli-'));
    const args = ['init', '--yes', '--dir', dir, '--project-path', 'mygroup/myrepo', '--repository', 'order-microservice', '--account', '831955480324', '--region', 'ap-south-1'];
    let io = quiet();
    assert.equal(await main([...args, '--branch', 'master'], io), 0, io.err);
    assert.match(io.out, /^created\s+\.gitlab-ci\.yml/m);
    assert.match(io.err, /hoist bootstrap --project-path mygroup\/myrepo --repository order-microservice --account 831955480324 --region ap-south-1 --branch master/);
    io = quiet();
    assert.equal(await main([...args, '--branch', 'main'], io), 1);
    assert.match(io.out, /^skipped\s+\.gitlab-ci\.yml/m);
    assert.match(io.out, /^-    - if: \$CI_COMMIT_BRANCH == "master"\n\+    - if: \$CI_COMMIT_BRANCH == "main"$/m);
    assert.match(io.out, /^unchanged\s+iam\/permissions-policy\.json/m);
    io = quiet();
    assert.equal(await main([...args, '--branch', 'main', '--force'], io), 0, io.err);
    assert.match(io.out, /^overwritten\s+iam\/trust-policy\.json/m);
    io = quiet();
    assert.equal(await main(['init', '--yes', '--account', '12'], io), 2);
    assert.match(io.err, /missing --project-path, --repository, --region, --branch/);
    io = quiet();
    assert.equal(await main(['init', '--yes', '--dir', dir, '--project-path', 'nogroup', '--repository', 'Bad__Name', '--account', '12', '--region', 'mumbai', '--branch', 'x', '--builder', 'kaniko'], io), 2);
    for (const flag of ['--project-path', '--repository', '--account', '--region', '--builder']) assert.match(io.err, new RegExp(`  - ${flag}: `));
  });
});

test('unifiedDiff', () => {
  assert.equal(unifiedDiff('a\n', 'a\n', 'f'), '');
  assert.equal(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'f'), '--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  const long = Array.from({ length: 20 }, (_, i) => `l${i}`);
  const changed = [...long];
  changed[1] = 'X';
  changed[18] = 'Y';
  const d = unifiedDiff(long.join('\n') + '\n', changed.join('\n') + '\n', 'f');
  assert.deepEqual(d.split('\n').filter((l) => l.startsWith('@@')), ['@@ -1,5 +1,5 @@', '@@ -16,5 +16,5 @@']);
  assert.equal(unifiedDiff('', 'x\n', 'f'), '--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n');
});
