// Issue 3, acceptance 1 and 2: `hoist push` with only the seed's variables, GitLab's CI_*
// values and a sandbox-minted token builds, creates the repository, pushes and verifies; a
// re-run reports its cache hits and sends nothing new, on mutable and immutable repositories.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { ensureDockerBaseImage } from './support/base-image.ts';
import { cleanEnv, run, runOk, skipUnless } from './support/components.ts';
import { appDir, hoistPush, jobEnv } from './support/push-job.ts';
import { admin, publishBase, sandboxToken } from './support/sandbox-admin.ts';
import { type SandboxProcess, startSandboxProcess } from './support/sandbox-cli.ts';
import { exemptFile } from './support/secret-scan.ts';

interface Report {
  digest: string;
  repositoryCreated: boolean;
  tags: { tag: string; ref: string; digest: string; status: string }[];
  build: { cachedSteps: number; totalSteps: number };
  layers: { pushed: number; existing: number };
}

/** A sandbox with the base image published, and the example app built FROM it. */
async function sandboxApp(t: TestContext): Promise<{ sb: SandboxProcess; cwd: string }> {
  const sb = await startSandboxProcess();
  t.after(() => sb.stop());
  await publishBase(sb);
  return { sb, cwd: appDir(sb) };
}

/** The docker CLI logged in to the sandbox's registry as its admin: the test's own pulls, not hoist's. */
async function adminDocker(sb: SandboxProcess): Promise<NodeJS.ProcessEnv> {
  const dockerConfig = mkdtempSync(join(tmpdir(), 'hoist-pull-'));
  const env = cleanEnv({ DOCKER_CONFIG: dockerConfig });
  const password = (await admin(sb, ['ecr', 'get-login-password'])).stdout.trim();
  await runOk('docker', ['login', '--username', 'AWS', '--password-stdin', sb.registry], { env, input: password });
  exemptFile(join(dockerConfig, 'config.json'), "the admin's own docker login (test harness, not hoist) stores its ECR password there");
  return env;
}

describe('hoist push against the sandbox and a real dockerd', { timeout: 900_000 }, () => {
  test('builds, creates the repository, pushes IMAGE_TAG; a fresh pull runs it', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const { sb, cwd } = await sandboxApp(t);
    const dotenv = join(cwd, 'push.env');
    const r = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb)), ['--dotenv', dotenv]);
    assert.equal(r.code, 0, r.stderr);
    const line = new RegExp(`^${sb.registry.replace(/\./g, '\\.')}/order-microservice:3\\.0\\.0@(sha256:[a-f0-9]{64})$`, 'm');
    const digest = line.exec(r.stdout)?.[1];
    assert.ok(digest, `stdout: ${r.stdout}`);
    assert.match(r.stderr, /section_start:\d+:hoist_build/, 'GitLab collapsible sections inside GitLab CI');
    assert.match(r.stderr, /created .*order-microservice/);
    assert.equal(readFileSync(dotenv, 'utf8'),
      `IMAGE_URI=${sb.registry}/order-microservice:3.0.0@${digest}\nIMAGE_DIGEST=${digest}\nIMAGE_TAGS=3.0.0\n`);

    const ref = `${sb.registry}/order-microservice:3.0.0`;
    const env = await adminDocker(sb);
    await run('docker', ['rmi', '-f', ref], { env });
    const pull = await runOk('docker', ['pull', ref], { env, timeoutMs: 120_000 });
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
    assert.equal((await runOk('docker', ['run', '--rm', ref], { env })).stdout.trim(), 'order-microservice 3.0.0: built');
    const labels = JSON.parse((await runOk('docker', ['inspect', '--format', '{{json .Config.Labels}}', ref], { env })).stdout);
    assert.equal(labels['org.opencontainers.image.revision'], 'c0ffee0000000000000000000000000000000001');
    assert.equal(labels['org.opencontainers.image.source'], 'https://gitlab.com/mygroup/myrepo');
    await run('docker', ['rmi', '-f', ref], { env });
  });

  test('who pushes: hoist\'s registry client while the registry holds nothing the engine pulled, else docker push; all run', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const { sb, cwd } = await sandboxApp(t);
    const job = async (tags: string[], args: string[]) => {
      const r = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb)), ['--json', ...tags.flatMap((x) => ['--tag', x]), ...args]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Report & { pusher: { via: string; why: string } };
    };
    const seedBase = readFileSync(join(cwd, 'Dockerfile'), 'utf8');
    // FROM an image the engine has but the registry does not (Docker Hub's, as in the seed), and
    // the seed's cache pull of :latest finds nothing: every layer is new there.
    writeFileSync(join(cwd, 'Dockerfile'), seedBase.replace(/^FROM .*$/m, `FROM ${(await ensureDockerBaseImage()).tag}`));
    const a = await job(['3.0.0', 'latest'], ['--cache-from', ':latest', '--no-pull']);
    assert.deepEqual(a.pusher, { via: 'hoist', why: 'no cache or base image came from this registry, so docker push would gzip every layer itself' });
    assert.ok(a.layers.pushed >= 2, JSON.stringify(a.layers));
    // Now :latest is there: the engine pulls it as the cache image, and docker push sends only what changed.
    writeFileSync(join(cwd, 'app.sh'), `${readFileSync(join(cwd, 'app.sh'), 'utf8')}# 3.0.1\n`);
    const b = await job(['3.0.1', 'latest'], ['--cache-from', ':latest', '--no-pull']);
    assert.equal(b.pusher.via, 'docker', b.pusher.why);
    assert.match(b.pusher.why, /^the cache image came from the registry/);
    assert.ok(b.layers.existing >= 1, `the base layer was already there: ${JSON.stringify(b.layers)}`);
    // FROM an image in this registry (the sandbox's base), no cache image: docker push, which
    // mounts the base's layers there.
    writeFileSync(join(cwd, 'Dockerfile'), seedBase);
    const c = await job(['3.0.2'], []);
    assert.equal(c.pusher.via, 'docker', c.pusher.why);
    assert.match(c.pusher.why, new RegExp(`^the base image ${sb.registry.replace(/\./g, '\\.')}/base/busybox:1 is in this registry`));
    // Every image, pulled afresh from the registry, runs.
    const pullEnv = await adminDocker(sb);
    for (const [tag, digest] of [['3.0.0', a.digest], ['3.0.1', b.digest], ['3.0.2', c.digest]] as const) {
      const ref = `${sb.registry}/order-microservice:${tag}`;
      await run('docker', ['rmi', '-f', ref], { env: pullEnv });
      assert.match((await runOk('docker', ['pull', ref], { env: pullEnv, timeoutMs: 120_000 })).stdout, new RegExp(`Digest: ${digest}`));
      assert.equal((await runOk('docker', ['run', '--rm', ref], { env: pullEnv })).stdout.trim(), 'order-microservice 3.0.0: built');
      await run('docker', ['rmi', '-f', ref], { env: pullEnv });
    }
  });

  for (const mutability of ['MUTABLE', 'IMMUTABLE']) {
    test(`a re-run on a ${mutability} repository hits the cache and uploads nothing new`, async (t) => {
      if (await skipUnless(t, 'docker-unix', 'awscli')) return;
      const { sb, cwd } = await sandboxApp(t);
      const env = jobEnv(sb, await sandboxToken(sb));
      const args = ['--json', '--tag-mutability', mutability];
      const first = await hoistPush(cwd, env, args);
      assert.equal(first.code, 0, first.stderr);
      const a = JSON.parse(first.stdout) as Report;
      assert.equal(a.repositoryCreated, true);
      assert.equal(a.tags[0]?.status, 'pushed');
      // The seed pushes :3.0.0 only, so the cache image is the tag itself on the re-run.
      const second = await hoistPush(cwd, { ...env, AWS_ID_TOKEN: await sandboxToken(sb) }, [...args, '--cache-from', `${sb.registry}/order-microservice:3.0.0`]);
      assert.equal(second.code, 0, second.stderr);
      const b = JSON.parse(second.stdout) as Report;
      assert.equal(b.repositoryCreated, false);
      assert.equal(b.digest, a.digest);
      assert.ok(b.build.cachedSteps > 0 && b.build.cachedSteps === b.build.totalSteps, `all steps from cache: ${JSON.stringify(b.build)}`);
      assert.equal(b.tags[0]?.status, 'unchanged');
      assert.equal(b.layers.pushed, 0);
    });
  }
});
