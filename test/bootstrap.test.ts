// hoist bootstrap on an empty sandbox: --dry-run changes nothing; a real run creates the
// OIDC provider, role, inline policy and repository so that `hoist push` succeeds; a second
// run reports everything unchanged and changes nothing.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { cleanEnv, run, runOk, skipUnless } from './support/components.ts';
import { appDir, hoistPush, jobEnv } from './support/push-job.ts';
import { admin, adminEnv, publishBase, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';

const ARGS = ['--project-path', 'mygroup/myrepo', '--repository', 'order-microservice', '--branch', 'master', '--account', '831955480324', '--region', 'ap-south-1'];

const bootstrap = (sb: SandboxProcess, args: string[] = []) =>
  run(process.execPath, [HOIST, 'bootstrap', ...ARGS, ...args], { env: adminEnv(sb, { AWS_ENDPOINT_URL: sb.url }) });

/** Everything bootstrap may touch, as the account admin sees it through the AWS CLI. */
async function iamState(sb: SandboxProcess): Promise<string> {
  const tryJson = async (args: string[]) => {
    try {
      return JSON.parse((await admin(sb, args)).stdout);
    } catch (err) {
      return { error: /NoSuchEntity|RepositoryNotFound|cannot be found|not found/i.test(String(err)) ? 'not found' : String(err) };
    }
  };
  return JSON.stringify({
    providers: await tryJson(['iam', 'list-open-id-connect-providers']),
    provider: await tryJson(['iam', 'get-open-id-connect-provider', '--open-id-connect-provider-arn', 'arn:aws:iam::831955480324:oidc-provider/gitlab.com']),
    role: await tryJson(['iam', 'get-role', '--role-name', 'gitlab-runner-ecr-role']),
    policies: await tryJson(['iam', 'list-role-policies', '--role-name', 'gitlab-runner-ecr-role']),
    policy: await tryJson(['iam', 'get-role-policy', '--role-name', 'gitlab-runner-ecr-role', '--policy-name', 'ecr-push']),
    repositories: await tryJson(['ecr', 'describe-repositories']),
  }, null, 2);
}

describe('hoist bootstrap against hoist sandbox --empty', { timeout: 600_000 }, () => {
  test('--dry-run plans four creations and changes nothing; credentials of another account are refused', async (t) => {
    if (await skipUnless(t, 'awscli')) return;
    const sb = await startSandboxProcess(['--empty']);
    t.after(() => sb.stop());
    const before = await iamState(sb);
    assert.match(before, /"providers": \{\s*"OpenIDConnectProviderList": \[\]/);
    const r = await bootstrap(sb, ['--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^oidc-provider\s+arn:aws:iam::831955480324:oidc-provider\/gitlab\.com\s+would create/m);
    assert.match(r.stdout, /^role\s+arn:aws:iam::831955480324:role\/gitlab-runner-ecr-role\s+would create/m);
    assert.match(r.stdout, /^role-policy\s+gitlab-runner-ecr-role\/ecr-push\s+would create/m);
    assert.match(r.stdout, /^repository\s+order-microservice \(ap-south-1\)\s+would create/m);
    assert.match(r.stderr, /dry run: 4 change\(s\) planned, nothing was changed/);
    assert.equal(await iamState(sb), before);

    const wrong = await run(process.execPath, [HOIST, 'bootstrap', ...ARGS.slice(0, -4), '--account', '111111111111', '--region', 'ap-south-1'],
      { env: adminEnv(sb, { AWS_ENDPOINT_URL: sb.url }) });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /credentials belong to account 831955480324/);
    const noKeys = await run(process.execPath, [HOIST, 'bootstrap', ...ARGS, '--endpoint-url', sb.url]);
    assert.equal(noKeys.code, 2);
    assert.match(noKeys.stderr, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
    assert.equal(await iamState(sb), before);
  });

  test('bootstrap, then hoist push succeeds; a second bootstrap changes nothing; drift is repaired', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const sb = await startSandboxProcess(['--empty']);
    t.after(() => sb.stop());

    const first = await bootstrap(sb);
    assert.equal(first.code, 0, first.stderr);
    for (const kind of ['oidc-provider', 'role', 'role-policy', 'repository']) assert.match(first.stdout, new RegExp(`^${kind}\\s+\\S+\\s+created`, 'm'));
    const afterFirst = await iamState(sb);
    // The AWS CLI decodes the URL-encoded document IAM returns.
    const trust = JSON.parse(afterFirst).role.Role.AssumeRolePolicyDocument;
    assert.deepEqual(trust.Statement[0].Condition.StringEquals, {
      'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:master',
    });

    const second = await bootstrap(sb);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.split('\n').filter((l) => l.trim()).length, 4);
    for (const line of second.stdout.trim().split('\n')) assert.match(line, /\sunchanged$/);
    assert.match(second.stderr, /everything is already in place; nothing changed/);
    assert.equal(await iamState(sb), afterFirst);

    // publishBase adds the pull-base inline policy to the role and the base/busybox repository.
    await publishBase(sb);
    const cwd = appDir(sb);
    const push = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb, ['--project-path', 'mygroup/myrepo', '--ref', 'master'])), ['--no-create-repository']);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, new RegExp(`^${sb.registry.replace(/\./g, '\\.')}/order-microservice:3\\.0\\.0@sha256:[a-f0-9]{64}$`, 'm'));

    // The trust policy admits only this project's master branch.
    for (const other of [['--project-path', 'mygroup/other', '--ref', 'master'], ['--project-path', 'mygroup/myrepo', '--ref', 'feature']]) {
      const denied = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb, other)), ['--no-create-repository']);
      assert.equal(denied.code, 1, `${other.join(' ')}: ${denied.stdout}`);
      assert.match(denied.stderr, /AccessDenied|not authorized|trust policy/i);
    }

    // Drift: a widened trust policy and a provider without the audience are repaired; nothing else is touched.
    await admin(sb, ['iam', 'add-client-id-to-open-id-connect-provider', '--open-id-connect-provider-arn', 'arn:aws:iam::831955480324:oidc-provider/gitlab.com', '--client-id', 'other-audience']);
    await admin(sb, ['iam', 'remove-client-id-from-open-id-connect-provider', '--open-id-connect-provider-arn', 'arn:aws:iam::831955480324:oidc-provider/gitlab.com', '--client-id', 'sts.amazonaws.com']);
    await admin(sb, ['iam', 'update-assume-role-policy', '--role-name', 'gitlab-runner-ecr-role', '--policy-document', JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::831955480324:oidc-provider/gitlab.com' }, Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringLike: { 'gitlab.com:sub': 'project_path:*' } } }],
    })]);
    const repair = await bootstrap(sb);
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(repair.stdout, /^role\s+\S+\s+updated \(trust policy differs\)$/m);
    assert.match(repair.stdout, /^oidc-provider\s+\S+\s+updated \(add client ID sts\.amazonaws\.com\)$/m);
    assert.match(repair.stdout, /^role-policy\s+\S+\s+unchanged$/m);
    assert.match(repair.stderr, /2 change\(s\) made/);
    const final = JSON.parse(await iamState(sb));
    assert.deepEqual(final.role.Role.AssumeRolePolicyDocument, trust);
    assert.deepEqual(final.provider.ClientIDList.sort(), ['other-audience', 'sts.amazonaws.com'], 'other client IDs are kept');
    const again = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb)), ['--no-create-repository']);
    assert.equal(again.code, 0, again.stderr);
  });
});

/** gitlab-ci-local 4.73.0, a devDependency (4.74+ crash on Node 20); $GITLAB_CI_LOCAL overrides. */
function gitlabCiLocal(): string | undefined {
  if (process.env.GITLAB_CI_LOCAL) return process.env.GITLAB_CI_LOCAL;
  const local = resolve(import.meta.dirname, '..', 'node_modules', '.bin', 'gitlab-ci-local');
  return existsSync(local) ? local : undefined;
}

async function gitRepo(cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const c of [['init', '-q', '-b', 'master'], ['add', '-A'], ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', 'commit', '-qm', 'app'],
    ['remote', 'add', 'origin', 'git@gitlab.com:mygroup/myrepo.git']]) await runOk('git', c, { cwd, env });
}

describe('the pipeline hoist init generates, run by gitlab-ci-local', { timeout: 600_000 }, () => {
  test('bootstrap + init, then gitlab-ci-local runs test and build-and-push green against the sandbox', async (t) => {
    const gcl = gitlabCiLocal();
    if (!gcl) {
      if (process.env.CI === 'true') throw new Error('gitlab-ci-local 4.73.0 is missing (npx -y gitlab-ci-local@4.73.0 --version)');
      return t.skip('gitlab-ci-local 4.73.0 not found (run npx -y gitlab-ci-local@4.73.0 --version once)');
    }
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const sb = await startSandboxProcess(['--empty']);
    t.after(() => sb.stop());
    assert.equal((await bootstrap(sb)).code, 0);
    await publishBase(sb);
    const cwd = appDir(sb);
    // The native builder runs no RUN: the app's Dockerfile for this pipeline only copies.
    writeFileSync(join(cwd, 'Dockerfile'), `FROM ${sb.registry}/base/busybox:1\nCOPY app.sh /app/app.sh\nCMD ["/bin/sh", "/app/app.sh"]\n`);
    // native layout: no DinD service and nothing to apk-add, so the shell executor runs it as written.
    await runOk(process.execPath, [HOIST, 'init', '--yes', '--dir', cwd, '--builder', 'native', '--test-stage', '--test-image', 'node:20', '--test-command', 'test -f Dockerfile', ...ARGS]);
    // A runner image with hoist preinstalled: the job's `command -v hoist || npm install -g` skips the install.
    const bin = join(cwd, '.bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'hoist'), `#!/bin/sh\nexec ${process.execPath} ${HOIST} "$@"\n`);
    chmodSync(join(bin, 'hoist'), 0o755);
    const env = cleanEnv({ PATH: `${bin}:${cleanEnv().PATH}` });
    await gitRepo(cwd, env);
    const sha = (await runOk('git', ['rev-parse', 'HEAD'], { cwd, env })).stdout.trim();
    // gitlab-ci-local ignores id_tokens:, so the token the sandbox's issuer minted comes in as a variable.
    const token = await sandboxToken(sb, ['--project-path', 'mygroup/myrepo', '--ref', 'master']);
    const r = await run(gcl, ['--force-shell-executor', '--variable', `AWS_ID_TOKEN=${token}`, '--variable', `AWS_ENDPOINT_URL=${sb.url}`,
      '--variable', 'DOCKER_HOST=unix:///var/run/docker.sock'], { cwd, env, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr + r.stdout, /json schema validated/);
    assert.match(r.stdout, /PASS\s+test/);
    assert.match(r.stdout, /PASS\s+build-and-push/);
    assert.match(r.stdout, new RegExp(`order-microservice:${sha}@sha256:[a-f0-9]{64}`), 'IMAGE_TAG is $CI_COMMIT_SHA');
    assert.match(readFileSync(join(cwd, 'hoist.env'), 'utf8'), new RegExp(`^IMAGE_URI=.*/order-microservice:${sha}@sha256:[a-f0-9]{64}\nIMAGE_DIGEST=sha256:[a-f0-9]{64}\nIMAGE_TAGS=${sha}\n$`));
  });

  test('gitlab-ci-local --preview accepts the DinD pipeline with tags and the component included with inputs', async (t) => {
    const gcl = gitlabCiLocal();
    if (!gcl) return t.skip('gitlab-ci-local 4.73.0 not found');
    const dir = appDir({ registry: 'registry.invalid' } as SandboxProcess);
    await runOk(process.execPath, [HOIST, 'init', '--yes', '--dir', dir, '--builder', 'docker', '--tags', ...ARGS]);
    const env = cleanEnv();
    await gitRepo(dir, env);
    const pipeline = await runOk(gcl, ['--preview'], { cwd: dir, env });
    assert.match(pipeline.stderr + pipeline.stdout, /json schema validated/);
    assert.match(pipeline.stdout, /name: docker:24\.0-dind/);
    writeFileSync(join(dir, 'via-component.yml'), [
      'include:', '  - local: templates/hoist-push.yml', '    inputs:', '      aws_account_id: "012345678901"', '      aws_region: eu-west-1',
      '      role_arn: arn:aws:iam::012345678901:role/r', '      repository: app', '      job_name: publish', 'stages: [build]', '',
    ].join('\n'));
    const comp = await runOk(gcl, ['--preview', '--file', 'via-component.yml'], { cwd: dir, env });
    assert.match(comp.stdout, /^publish:$/m);
    assert.match(comp.stdout, /AWS_ACCOUNT_ID: '012345678901'/);
    assert.match(comp.stdout, /aud: sts\.amazonaws\.com/);
  });
});
