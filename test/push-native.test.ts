// Issue 4: `hoist push --builder native` against the sandbox — no Docker engine in the
// build, base layers mounted instead of downloaded, the pushed image pulled and run by
// docker with the digest hoist reported, and the same inputs giving the same digest.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ECRClient, PutAccountSettingCommand } from '@aws-sdk/client-ecr';
import { cleanEnv, run, runOk, skipUnless } from './support/components.ts';
import { hoistPush, jobEnv } from './support/push-job.ts';
import { admin, publishBase, sandboxToken } from './support/sandbox-admin.ts';
import { startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { exemptFile } from './support/secret-scan.ts';

function nativeApp(sb: SandboxProcess): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-native-app-'));
  cpSync(resolve(import.meta.dirname, 'fixtures', 'native-app'), dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), readFileSync(join(dir, 'Dockerfile.in'), 'utf8').replace('@BASE@', `${sb.registry}/base/busybox:1`));
  return dir;
}

async function enableBlobMounting(sb: SandboxProcess): Promise<void> {
  const ecr = new ECRClient({ endpoint: sb.url, region: 'ap-south-1', credentials: { accessKeyId: sb.exports.AWS_ACCESS_KEY_ID!, secretAccessKey: sb.exports.AWS_SECRET_ACCESS_KEY! } });
  await ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'ENABLED' }));
  ecr.destroy();
}

interface LogLine { kind: string; method?: string; path?: string; status: number }

describe('hoist push --builder native', { timeout: 600_000 }, () => {
  test('pushes without building in Docker; base layers are mounted, never downloaded; docker runs the result', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli', 'skopeo')) return;
    const logFile = join(mkdtempSync(join(tmpdir(), 'hoist-native-log-')), 'requests.jsonl');
    const sb = await startSandboxProcess(['--log', logFile]);
    t.after(() => sb.stop());
    await publishBase(sb);
    await enableBlobMounting(sb);
    const base = JSON.parse((await admin(sb, ['ecr', 'batch-get-image', '--repository-name', 'base/busybox', '--image-ids', 'imageTag=1'])).stdout);
    const baseLayers = (JSON.parse(base.images[0].imageManifest) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    const before = readFileSync(logFile, 'utf8').length;

    const cwd = nativeApp(sb);
    // No DOCKER_HOST and no docker on PATH: the native builder needs neither.
    const env = jobEnv(sb, await sandboxToken(sb), { DOCKER_HOST: 'tcp://127.0.0.1:1', SOURCE_DATE_EPOCH: '1700000000' });
    const r = await hoistPush(cwd, env, ['--builder', 'native', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { digest: string; tags: { ref: string }[]; steps: { step: string; detail: string }[] };
    assert.match(report.steps.find((s) => s.step === 'engine')!.detail, /native/);

    const log = readFileSync(logFile, 'utf8').slice(before).trim().split('\n').map((l) => JSON.parse(l) as LogLine);
    const baseGets = log.filter((l) => l.method === 'GET' && baseLayers.some((d) => l.path?.endsWith(d)));
    assert.deepEqual(baseGets, [], 'no base layer was downloaded');
    assert.ok(log.some((l) => l.method === 'POST' && l.path === '/v2/order-microservice/blobs/uploads/' && l.status === 201), 'a base layer was mounted');

    const ref = report.tags[0]!.ref;
    const password = (await admin(sb, ['ecr', 'get-login-password'])).stdout.trim();
    const inspect = await runOk('skopeo', ['inspect', '--tls-verify=false', '--creds', `AWS:${password}`, `docker://${ref}`]);
    assert.equal(JSON.parse(inspect.stdout).Digest, report.digest);
    const dockerConfig = mkdtempSync(join(tmpdir(), 'hoist-native-pull-'));
    const denv = cleanEnv({ DOCKER_CONFIG: dockerConfig });
    await runOk('docker', ['login', '--username', 'AWS', '--password-stdin', sb.registry], { env: denv, input: password });
    exemptFile(join(dockerConfig, 'config.json'), "the admin's own docker login (test harness, not hoist) stores its ECR password there");
    const pull = await runOk('docker', ['pull', ref], { env: denv, timeoutMs: 120_000 });
    assert.match(pull.stdout, new RegExp(`Digest: ${report.digest}`));
    assert.equal((await runOk('docker', ['run', '--rm', ref], { env: denv })).stdout.trim(), 'order-microservice: built natively as 0');
    await run('docker', ['rmi', '-f', ref], { env: denv });

    // Same inputs, same digest: a re-run is a no-op that reports the tag unchanged.
    const again = await hoistPush(cwd, { ...env, AWS_ID_TOKEN: await sandboxToken(sb) }, ['--builder', 'native', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout) as { digest: string; tags: { status: string }[] };
    assert.equal(second.digest, report.digest);
    assert.equal(second.tags[0]!.status, 'unchanged');
  });

  test('without blob mounting (ECR\'s default) the base layers are copied across and the push still succeeds', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    await publishBase(sb);
    const r = await hoistPush(nativeApp(sb), jobEnv(sb, await sandboxToken(sb)), ['--builder', 'auto', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { steps: { step: string; detail: string }[]; layers: { pushed: number } };
    assert.match(report.steps.find((s) => s.step === 'engine')!.detail, /^native/, 'auto picked native: no RUN');
    assert.ok(report.layers.pushed >= 2, 'base and app layers were uploaded');
  });

  test('a RUN line with --builder native names the line and the builders that can run it', async (t) => {
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    const cwd = nativeApp(sb);
    writeFileSync(join(cwd, 'Dockerfile'), 'FROM scratch\nCOPY app.sh /\nRUN echo hi\n');
    const r = await hoistPush(cwd, jobEnv(sb, await sandboxToken(sb)), ['--builder', 'native']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Dockerfile:3/);
    assert.match(r.stderr, /--builder docker/);
  });
});
