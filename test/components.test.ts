// The real components of DESIGN.md §4 work on this machine (run scripts/ensure-test-env.sh first).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  awsCliV2,
  cleanEnv,
  dockerEnv,
  requireComponent,
  run,
  runOk,
  DOCKER_TCP_HOST,
} from './support/components.ts';
import { busyboxRootfsTar, ensureBuildahBaseImage, ensureDockerBaseImage, writeOciLayout } from './support/base-image.ts';
import { startCncfRegistry } from './support/cncf-registry.ts';

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

test('cleanEnv inherits no AWS_* / DOCKER_* and never the pyenv aws', () => {
  const saved = { a: process.env.AWS_PROFILE, d: process.env.DOCKER_HOST };
  process.env.AWS_PROFILE = 'leak';
  process.env.DOCKER_HOST = 'tcp://leak:1';
  try {
    const env = cleanEnv({ EXTRA: '1' });
    assert.deepEqual(
      Object.keys(env).filter((k) => k.startsWith('AWS_') || k.startsWith('DOCKER_')),
      [],
    );
    assert.equal(env.EXTRA, '1');
    assert.ok(env.HOME && env.HOME !== process.env.HOME, 'HOME is a temp dir');
    assert.ok(!env.PATH?.includes('.pyenv'));
    assert.equal(dockerEnv('tcp').DOCKER_HOST, DOCKER_TCP_HOST);
  } finally {
    if (saved.a === undefined) delete process.env.AWS_PROFILE;
    else process.env.AWS_PROFILE = saved.a;
    if (saved.d === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved.d;
  }
});

test('run() is bounded by its timeout', async () => {
  const t0 = Date.now();
  await assert.rejects(run('sleep', ['30'], { timeoutMs: 300 }), /timed out after 300 ms/);
  assert.ok(Date.now() - t0 < 5_000);
  const r = await run('cat', [], { input: 'piped' });
  assert.deepEqual([r.code, r.stdout], [0, 'piped']);
});

test('docker engine answers on the unix socket and on tcp://127.0.0.1:2375', async (t) => {
  const skip = await requireComponent('docker');
  if (skip) return t.skip(skip);
  const unix = await runOk('docker', ['info', '--format', '{{.ServerVersion}} {{.Driver}}'], { env: dockerEnv('unix') });
  const tcp = await runOk('docker', ['info', '--format', '{{.ServerVersion}} {{.Driver}}'], { env: dockerEnv('tcp') });
  assert.match(unix.stdout.trim(), /^\d+\.\d+/);
  assert.equal(tcp.stdout.trim(), unix.stdout.trim(), 'same engine on both endpoints');
});

test('locally made base image runs: docker run --rm hoist-test/busybox:latest echo hi', async (t) => {
  const skip = await requireComponent('docker', 'busybox');
  if (skip) return t.skip(skip);
  const img = await ensureDockerBaseImage();
  assert.match(img.id, /^sha256:[0-9a-f]{64}$/);
  const again = await ensureDockerBaseImage();
  assert.equal(again.imported, false, 'second call is a no-op');
  assert.equal(again.id, img.id);
  for (const via of ['unix', 'tcp'] as const) {
    const r = await runOk('docker', ['run', '--rm', 'hoist-test/busybox:latest', 'echo', 'hi'], { env: dockerEnv(via), timeoutMs: 60_000 });
    assert.equal(r.stdout, 'hi\n');
  }
  const sh = await runOk('docker', ['run', '--rm', 'hoist-test/busybox:latest', 'sh', '-c', 'id -u; ls /tmp >/dev/null && env | grep ^PATH='], {
    env: dockerEnv('unix'),
    timeoutMs: 60_000,
  });
  assert.match(sh.stdout, /^0\nPATH=\/usr\/local\/sbin:/);
});

test('busybox rootfs tar is cached and contains the basics', async (t) => {
  const skip = await requireComponent('busybox');
  if (skip) return t.skip(skip);
  const a = await busyboxRootfsTar();
  assert.equal(await busyboxRootfsTar(), a);
  const list = await runOk('tar', ['-tvf', a]);
  for (const p of ['bin/busybox', 'bin/sh -> /bin/busybox', 'bin/echo', 'bin/cat', 'bin/ls', 'usr/bin/env', 'bin/sleep', 'etc/passwd', 'etc/group']) {
    assert.ok(list.stdout.includes(p), `rootfs lists ${p}`);
  }
  assert.match(list.stdout, /^drwxrwxrwt .* tmp\/$/m);
});

test('OCI layout -> CNCF registry via skopeo copy, skopeo inspect returns the digest', async (t) => {
  const skip = await requireComponent('docker-registry', 'skopeo', 'busybox');
  if (skip) return t.skip(skip);
  const dir = tempDir('hoist-oci-');
  const img = await writeOciLayout(dir, { tag: 'v1' });
  // deterministic: same inputs give the same digest
  const again = await writeOciLayout(tempDir('hoist-oci-'), { tag: 'v1' });
  assert.equal(again.manifest.digest, img.manifest.digest);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  assert.equal(index.manifests[0]?.digest, img.manifest.digest);

  const reg = await startCncfRegistry();
  t.after(() => reg.stop());
  const env = cleanEnv();
  await runOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${dir}:v1`, `docker://${reg.host}/hoist/busybox:v1`], {
    env,
    timeoutMs: 120_000,
  });
  const insp = await runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/hoist/busybox:v1`], { env });
  const info = JSON.parse(insp.stdout) as { Digest: string; Layers: string[] };
  assert.equal(info.Digest, img.manifest.digest, 'registry keeps the OCI manifest byte for byte');
  assert.deepEqual(info.Layers, img.layers.map((l) => l.digest));
  // the registry API itself agrees, and deletes are enabled
  const head = await fetch(`${reg.url}/v2/hoist/busybox/manifests/v1`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(head.headers.get('docker-content-digest'), img.manifest.digest);
  const del = await fetch(`${reg.url}/v2/hoist/busybox/manifests/${img.manifest.digest}`, { method: 'DELETE' });
  assert.equal(del.status, 202);
});

test('CNCF registry with Basic auth (htpasswd bcrypt)', async (t) => {
  const skip = await requireComponent('docker-registry', 'skopeo', 'htpasswd', 'busybox');
  if (skip) return t.skip(skip);
  const reg = await startCncfRegistry({ auth: 'basic' });
  t.after(() => reg.stop());
  const user = reg.users?.[0];
  assert.ok(user);
  const anon = await fetch(`${reg.url}/v2/`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm="hoist-test"/);
  const basic = 'Basic ' + Buffer.from(`${user.username}:${user.password}`).toString('base64');
  const authed = await fetch(`${reg.url}/v2/`, { headers: { Authorization: basic } });
  assert.equal(authed.status, 200);

  const img = await writeOciLayout(tempDir('hoist-oci-'), { tag: 'x', extraFiles: { 'app/hello.txt': 'hello\n' } });
  assert.equal(img.layers.length, 2);
  const env = cleanEnv();
  const denied = await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', img.ref, `docker://${reg.host}/hoist/app:x`], { env, timeoutMs: 60_000 });
  assert.notEqual(denied.code, 0, 'push without credentials is refused');
  await runOk(
    'skopeo',
    ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `${user.username}:${user.password}`, img.ref, `docker://${reg.host}/hoist/app:x`],
    { env, timeoutMs: 120_000 },
  );
  const insp = await runOk('skopeo', ['inspect', '--tls-verify=false', '--creds', `${user.username}:${user.password}`, `docker://${reg.host}/hoist/app:x`], { env });
  assert.equal((JSON.parse(insp.stdout) as { Digest: string }).Digest, img.manifest.digest);
});

test('buildah can use the local base image from containers-storage', async (t) => {
  const skip = await requireComponent('buildah', 'skopeo', 'busybox');
  if (skip) return t.skip(skip);
  const base = await ensureBuildahBaseImage();
  const env = cleanEnv();
  const ctr = (await runOk('buildah', ['from', '--pull-never', base.name], { env, timeoutMs: 60_000 })).stdout.trim();
  t.after(() => run('buildah', ['rm', ctr], { env }).then(() => undefined));
  const r = await runOk('buildah', ['run', ctr, '--', 'echo', 'hi'], { env, timeoutMs: 60_000 });
  assert.equal(r.stdout, 'hi\n');
});

test('AWS CLI v2 (Debian awscli), not the pyenv v1', async (t) => {
  const skip = await requireComponent('awscli');
  if (skip) return t.skip(skip);
  const aws = awsCliV2();
  assert.ok(!aws.includes('.pyenv'));
  const r = await runOk(aws, ['--version'], { env: cleanEnv() });
  assert.match(r.stdout + r.stderr, /^aws-cli\/2\./);
});
