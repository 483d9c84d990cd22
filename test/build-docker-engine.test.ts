// The docker backend against the real engine (unix socket AND DinD-style tcp://127.0.0.1:2375)
// and a real CNCF registry with Basic auth: the seed's login → pull || true → build
// --cache-from → tag → push, proving the cache hit after the local image is gone, and that a
// re-push uploads nothing. Both builders: legacy (the 28 CLI without buildx) and BuildKit
// (a CLI that has it: Debian's 20.10 CLI with DOCKER_BUILDKIT=1, or one with buildx).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';

import type { Builder } from '../src/build/builder.ts';
import { createDockerBuilder, type DockerBuilder } from '../src/build/docker.ts';
import { isHoistError } from '../src/errors.ts';
import { recordingRunner, type RecordingRunner } from '../src/exec/index.ts';
import { Secret } from '../src/model/secret.ts';
import { ensureDockerBaseImage } from './support/base-image.ts';
import { startCncfRegistry, type CncfRegistry } from './support/cncf-registry.ts';
import { cleanEnv, dockerEnv, requireComponent, run, skipUnless } from './support/components.ts';

const NONCE = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
const BASE = 'hoist-test/busybox:latest';
const scratch = mkdtempSync(join(tmpdir(), 'hoist-docker-engine-test-'));
const created = new Set<string>();
let registry: CncfRegistry | undefined;
let setupSkip: string | undefined;

type Via = 'unix' | 'tcp';

/** Remove BuildKit cache records of this run (their descriptions hold the nonce), so only --cache-from can hit. */
async function pruneBuildKitRecords(tag: string): Promise<void> {
  const r = await run('docker', ['system', 'df', '-v', '--format', '{{json .BuildCache}}'], { env: dockerEnv('unix'), timeoutMs: 60_000 });
  if (r.code !== 0) return;
  const records = JSON.parse(r.stdout.trim() || '[]') as { ID: string; Description: string }[];
  // Children first: a record is removable once nothing refers to it; two passes are enough here.
  for (let pass = 0; pass < 2; pass++) {
    for (const rec of records.filter((x) => x.Description.includes(tag))) {
      await run('docker', ['builder', 'prune', '--force', '--filter', `id=${rec.ID}`], { env: dockerEnv('unix'), timeoutMs: 60_000 });
    }
  }
}

async function removeImages(refs: string[]): Promise<void> {
  if (refs.length === 0) return;
  await run('docker', ['rmi', '--force', ...refs], { env: dockerEnv('unix'), timeoutMs: 60_000 });
}

async function imageExists(ref: string): Promise<boolean> {
  return (await run('docker', ['image', 'inspect', ref], { env: dockerEnv('unix'), timeoutMs: 30_000 })).code === 0;
}

function contextDir(tag: string): string {
  const dir = mkdtempSync(join(scratch, 'ctx-'));
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${BASE}\nRUN echo "hoist ${tag}" > /hoist-nonce.txt\nRUN echo "second ${tag}" > /second.txt\n`);
  return dir;
}

before(async () => {
  setupSkip = await requireComponent('docker-unix', 'docker-registry', 'htpasswd');
  if (setupSkip) return;
  await ensureDockerBaseImage(BASE);
  registry = await startCncfRegistry({ auth: 'basic' });
});

after(async () => {
  await removeImages([...created]);
  await pruneBuildKitRecords(NONCE);
  await registry?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function user(): { username: string; password: string } {
  return registry!.users![0]!;
}

/** A CLI and mode that run BuildKit here, or why there is none. */
async function findBuildKit(via: Via): Promise<{ docker: string } | string> {
  const reasons: string[] = [];
  for (const docker of ['docker', '/usr/bin/docker']) {
    if (docker.startsWith('/') && !existsSync(docker)) continue;
    const b = createDockerBuilder({ env: dockerEnv(via), docker, mode: 'buildkit', tmpDir: scratch });
    try {
      await b.check();
      return { docker };
    } catch (e) {
      reasons.push(`${docker}: ${(e as Error).message}`);
    } finally {
      await b.dispose();
    }
  }
  return reasons.join('; ');
}

function assertNoSecretIn(rec: RecordingRunner, password: string): void {
  assert.ok(rec.calls.length > 5);
  for (const c of rec.calls) {
    assert.ok(!c.args.some((a) => a.includes(password)), `password in argv of docker ${c.args[0]}`);
    assert.ok(!Object.values(c.env).some((v) => v?.includes(password)), `password in env of docker ${c.args[0]}`);
  }
  const logins = rec.calls.filter((c) => c.args[0] === 'login');
  assert.equal(logins.length, 1);
  assert.ok(logins[0]!.args.includes('--password-stdin'));
  assert.equal(logins[0]!.stdinBytes, Buffer.byteLength(password));
}

async function timed<T>(t: TestContext, what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const out = await fn();
  t.diagnostic(`${what}: ${Date.now() - started} ms`);
  return out;
}

async function roundTrip(t: TestContext, via: Via, docker: string, mode: 'legacy' | 'buildkit'): Promise<void> {
  const tag = `${NONCE}-${via}-${mode}`;
  const repo = `${registry!.host}/hoist-test-${tag}`;
  const cacheRef = `${repo}:latest`;
  const local = `hoist-test-local-${tag}:1`;
  [cacheRef, `${repo}:1.0.0`, local, `${local}-again`].forEach((r) => created.add(r));
  const rec = recordingRunner();
  const builder: DockerBuilder = createDockerBuilder({ env: dockerEnv(via), docker, mode, runner: rec, tmpDir: scratch });
  const generic: Builder = builder; // push never knows which backend built the image
  const context = contextDir(tag);
  try {
    const info = await generic.check();
    assert.equal(info.endpoint, via === 'tcp' ? 'tcp://127.0.0.1:2375' : 'unix:///var/run/docker.sock');
    assert.equal(info.inlineCache, mode === 'buildkit');
    t.diagnostic(`engine ${info.version}, mode ${info.mode}: ${info.notes.join('; ')}`);
    await generic.login({ registry: registry!.host, username: user().username, password: new Secret(user().password) });

    const first = await timed(t, 'build (no cache)', () => generic.build({ context, tags: [local], cacheFrom: [cacheRef], pull: false }));
    assert.deepEqual(first.cacheSources.map((s) => s.status), ['missing'], 'a missing cache image is not an error');
    assert.deepEqual([first.cachedSteps, first.totalSteps], [0, 2]);

    const pushed = await timed(t, 'push', () => generic.push({ image: local, refs: [cacheRef, `${repo}:1.0.0`] }));
    const firstPush = pushed.pushed[0]!;
    // The two RUN layers are new; the base layer may be mounted from another repository of this registry.
    assert.ok(firstPush.layersPushed >= 2, `layers uploaded: ${firstPush.layersPushed}`);
    const layers = firstPush.layersPushed + firstPush.layersExisting + firstPush.layersMounted;
    assert.equal(pushed.pushed[1]!.layersPushed, 0, 'the second tag uploads nothing');
    assert.equal(pushed.pushed[1]!.digest, pushed.pushed[0]!.digest);
    const again = await timed(t, 're-push', () => generic.push({ image: local, refs: [cacheRef] }));
    assert.equal(again.pushed[0]!.layersPushed, 0, 'a re-push uploads nothing ("Layer already exists")');
    assert.equal(again.pushed[0]!.layersExisting, layers);
    assert.equal(again.pushed[0]!.digest, pushed.pushed[0]!.digest);

    // Forget everything local: the next build can only hit through --cache-from.
    await removeImages([local, cacheRef, `${repo}:1.0.0`]);
    await pruneBuildKitRecords(tag);
    assert.equal(await imageExists(cacheRef), false);

    const second = await timed(t, 'cached rebuild (after rmi)', () => generic.build({ context, tags: [`${local}-again`], cacheFrom: [cacheRef], pull: false }));
    assert.equal(second.cacheSources[0]?.status, 'available');
    assert.deepEqual([second.cachedSteps, second.totalSteps], [2, 2], `cache hits: ${second.cacheHits.join(', ')}`);
    assert.deepEqual(second.warnings, []);
    if (mode === 'legacy') assert.equal(second.imageId, first.imageId, 'legacy cache reproduces the very same image');

    const repush = await timed(t, 're-push after cached rebuild', () => generic.push({ image: `${local}-again`, refs: [cacheRef] }));
    assert.equal(repush.pushed[0]!.layersPushed, 0, 'a cached rebuild uploads no layer');

    // Negative control: without --cache-from (and with local state gone) nothing is cached.
    await removeImages([`${local}-again`, cacheRef]);
    await pruneBuildKitRecords(tag);
    const cold = await generic.build({ context, tags: [local], pull: false });
    assert.equal(cold.cachedSteps, 0, 'hits above came from the cache image, not from leftovers');

    const dir = await builder.configDir();
    await generic.dispose();
    assert.equal(existsSync(dir), false, 'private DOCKER_CONFIG removed');
    assertNoSecretIn(rec, user().password);
  } finally {
    await builder.dispose();
  }
}

describe('docker backend on the real engine', () => {
  for (const via of ['unix', 'tcp'] as const) {
    test(`check() over ${via}`, async (t) => {
      if (await skipUnless(t, via === 'tcp' ? 'docker-tcp' : 'docker-unix')) return;
      const b = createDockerBuilder({ env: dockerEnv(via), tmpDir: scratch });
      const info = await b.check();
      assert.equal(info.backend, 'docker');
      assert.match(info.version, /^\d+\.\d+/);
      assert.ok(['legacy', 'buildkit', 'buildx'].includes(info.mode));
      await b.dispose();
    });

    test(`legacy builder over ${via}: login, build, push, cache hit after rmi, re-push uploads nothing`, async (t) => {
      if (setupSkip) return void t.skip(setupSkip);
      if (await skipUnless(t, via === 'tcp' ? 'docker-tcp' : 'docker-unix')) return;
      await roundTrip(t, via, 'docker', 'legacy');
    });

    test(`BuildKit over ${via}: inline cache makes the pushed image the next run's cache`, async (t) => {
      if (setupSkip) return void t.skip(setupSkip);
      if (await skipUnless(t, via === 'tcp' ? 'docker-tcp' : 'docker-unix')) return;
      const cli = await findBuildKit(via);
      if (typeof cli === 'string') return void t.skip(`no BuildKit-capable docker CLI here: ${cli}`);
      t.diagnostic(`BuildKit via ${cli.docker}`);
      await roundTrip(t, via, cli.docker, 'buildkit');
    });
  }

  test('cache-from silently unused is made loud: legacy build from a BuildKit-built cache image warns', async (t) => {
    if (setupSkip) return void t.skip(setupSkip);
    const cli = await findBuildKit('tcp');
    if (typeof cli === 'string') return void t.skip(`no BuildKit-capable docker CLI here: ${cli}`);
    const tag = `${NONCE}-cross`;
    const ref = `${registry!.host}/hoist-test-${tag}:bk`;
    const local = `hoist-test-local-${tag}:1`;
    [ref, local].forEach((r) => created.add(r));
    const context = contextDir(tag);
    const bk = createDockerBuilder({ env: dockerEnv('tcp'), docker: cli.docker, mode: 'buildkit', tmpDir: scratch });
    const legacy = createDockerBuilder({ env: dockerEnv('tcp'), mode: 'legacy', tmpDir: scratch });
    try {
      for (const b of [bk, legacy]) await b.login({ registry: registry!.host, username: user().username, password: new Secret(user().password) });
      await bk.build({ context, tags: [ref], pull: false });
      await bk.push({ image: ref, refs: [ref] });
      await removeImages([ref]);
      await pruneBuildKitRecords(tag);
      const r = await legacy.build({ context, tags: [local], cacheFrom: [ref], pull: false });
      assert.equal(r.cacheSources[0]?.status, 'available');
      assert.equal(r.cachedSteps, 0);
      assert.match(r.warnings[0] ?? '', /no step matched: the legacy builder matches on layer history/);
    } finally {
      await bk.dispose();
      await legacy.dispose();
    }
  });

  test('pain point 8: a credential helper that cannot store breaks plain `docker login`, not hoist', async (t) => {
    if (setupSkip) return void t.skip(setupSkip);
    const bin = mkdtempSync(join(scratch, 'bin-'));
    const helper = join(bin, 'docker-credential-secretservice');
    writeFileSync(helper, '#!/bin/sh\ncat >/dev/null\necho "not implemented"\nexit 1\n');
    chmodSync(helper, 0o755);
    const env = dockerEnv('unix', { PATH: `${bin}:${cleanEnv().PATH}` });
    const control = await run('docker', ['login', '--username', user().username, '--password-stdin', registry!.host], {
      env: { ...env, DOCKER_CONFIG: mkdtempSync(join(scratch, 'cfg-')) },
      input: user().password,
    });
    assert.notEqual(control.code, 0);
    assert.match(control.stderr, /error storing credentials/);
    const b = createDockerBuilder({ env, tmpDir: scratch });
    try {
      await b.login({ registry: registry!.host, username: user().username, password: new Secret(user().password) });
      const ref = `${registry!.host}/hoist-test-${NONCE}-helper:1`;
      created.add(ref);
      const pushed = await b.push({ image: BASE, refs: [ref] });
      assert.match(pushed.pushed[0]!.digest, /^sha256:/);
    } finally {
      await b.dispose();
    }
  });

  test('a wrong password → docker.login-unauthorized, and the password is in no message', async (t) => {
    if (setupSkip) return void t.skip(setupSkip);
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const b = createDockerBuilder({ env: dockerEnv('tcp'), tmpDir: scratch });
    try {
      await assert.rejects(b.login({ registry: registry!.host, username: user().username, password: new Secret(wrong) }), (e: unknown) => {
        assert.ok(isHoistError(e, 'docker.login-unauthorized'));
        assert.ok(!JSON.stringify({ m: e.message, c: e.context, h: e.hint }).includes(wrong));
        return true;
      });
    } finally {
      await b.dispose();
    }
  });
});
