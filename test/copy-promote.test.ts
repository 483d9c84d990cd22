// `hoist copy` and `hoist promote` end to end, as a user runs them (the bundled CLI), against
// the sandbox's ECR registry (request log from `hoist sandbox --log`) and the real CNCF
// registry, checked with independent clients: skopeo inspect, docker pull + docker run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RequestLogEntry } from '../src/sandbox/protocol.ts';
import { ensureDockerBaseImage, writeOciLayout } from './support/base-image.ts';
import { startCncfRegistry } from './support/cncf-registry.ts';
import { cleanEnv, dockerEnv, requireComponent, run, runOk, skipUnless } from './support/components.ts';
import { ROLE_ARN, admin, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { exemptFile } from './support/secret-scan.ts';

const missing = await requireComponent('docker-unix', 'skopeo', 'docker-registry', 'awscli', 'busybox');
const tmp = mkdtempSync(join(tmpdir(), 'hoist-copy-test-'));

function authFiles(registry: string, user: string, password: string): { authfile: string; dockerConfig: string } {
  const dockerConfig = join(tmp, `docker-${registry.replace(/[^\w]/g, '_')}`);
  mkdirSync(dockerConfig, { recursive: true });
  const authfile = join(dockerConfig, 'config.json');
  writeFileSync(authfile, JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }), { mode: 0o600 });
  exemptFile(authfile, 'the test writes the registry credentials hoist, skopeo and docker read');
  return { authfile, dockerConfig };
}

const hoist = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [HOIST, ...args], { env: cleanEnv({ XDG_CACHE_HOME: join(tmp, 'cache'), ...env }), timeoutMs: 180_000 });

async function hoistOk(args: string[], env: Record<string, string> = {}) {
  const r = await hoist(args, env);
  assert.equal(r.code, 0, `hoist ${args.join(' ')}: ${r.stderr}`);
  return r;
}

async function skopeoDigest(ref: string, authfile?: string): Promise<string> {
  const r = await runOk('skopeo', ['inspect', '--tls-verify=false', ...(authfile ? ['--authfile', authfile] : []), '--format', '{{.Digest}}', ref], { timeoutMs: 60_000 });
  return r.stdout.trim();
}

async function dockerPullRun(ref: string, dockerConfig: string | undefined, cmd: string[]): Promise<{ digest: string; out: string }> {
  const env = dockerEnv('unix', dockerConfig ? { DOCKER_CONFIG: dockerConfig } : {});
  await runOk('docker', ['pull', ref], { env, timeoutMs: 120_000 });
  // The same image may hold digests from other registries: take the one of the repository pulled.
  const name = ref.slice(0, ref.lastIndexOf(':'));
  const digests = (await runOk('docker', ['image', 'inspect', '--format', '{{range .RepoDigests}}{{println .}}{{end}}', ref], { env })).stdout.split('\n');
  const digest = digests.find((d) => d.startsWith(`${name}@`)) ?? '';
  const out = (await runOk('docker', ['run', '--rm', ref, ...cmd], { env, timeoutMs: 60_000 })).stdout;
  await run('docker', ['rmi', '-f', ref], { env });
  return { digest: digest.slice(digest.indexOf('@') + 1), out };
}

describe('hoist copy / promote against the sandbox ECR registry', { skip: missing }, () => {
  let sb: SandboxProcess;
  let logFile: string;
  let env: Record<string, string>;
  let auth: { authfile: string; dockerConfig: string };
  const registryLog = (): RequestLogEntry[] => readFileSync(logFile, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as RequestLogEntry).filter((e) => e.kind === 'registry');
  /**
   * The sandbox logs a request once its answer has left, so the last lines can land a moment
   * after the client exits: read until the log stops growing (bounded).
   */
  const settledLog = async (): Promise<RequestLogEntry[]> => {
    let last = -1;
    for (let i = 0; i < 40; i++) {
      const size = readFileSync(logFile).length;
      if (size === last) break;
      last = size;
      await new Promise((r) => setTimeout(r, 50));
    }
    return registryLog();
  };
  const since = async (n: number) => (await settledLog()).slice(n);

  before(async () => {
    logFile = join(tmp, 'sandbox.log');
    sb = await startSandboxProcess(['--log', logFile]);
    for (const name of ['copy/app', 'order-microservice']) await admin(sb, ['ecr', 'create-repository', '--repository-name', name]);
    await admin(sb, ['ecr', 'create-repository', '--repository-name', 'copy/locked', '--image-tag-mutability', 'IMMUTABLE']);
    const password = (await admin(sb, ['ecr', 'get-login-password'])).stdout.trim();
    env = { HOIST_DEST: `AWS:${password}` };
    auth = authFiles(sb.registry, 'AWS', password);
  });
  after(() => sb?.stop());

  it('oci: → sandbox: skopeo and docker pull + run see the digest hoist reported; a re-push is only HEADs', async () => {
    const layout = await writeOciLayout(join(tmp, 'layout'), { tag: 'v1', extraFiles: { 'hello.txt': 'hello from hoist copy\n' } });
    const dst = `docker://${sb.registry}/copy/app:v1`;
    const first = await hoistOk(['copy', `oci:${layout.dir}:v1`, dst, '--dest-creds-env', 'HOIST_DEST'], env);
    assert.equal(first.stdout, `${dst}@${layout.manifest.digest}\n`);
    assert.doesNotMatch(first.stdout + first.stderr, new RegExp(env.HOIST_DEST!.slice(4, 40)));
    assert.equal(await skopeoDigest(dst, auth.authfile), layout.manifest.digest);
    const pulled = await dockerPullRun(`${sb.registry}/copy/app:v1`, auth.dockerConfig, ['cat', '/hello.txt']);
    assert.equal(pulled.digest, layout.manifest.digest);
    assert.equal(pulled.out, 'hello from hoist copy\n');

    const mark = (await settledLog()).length;
    const again = await hoistOk(['copy', `oci:${layout.dir}:v1`, dst, '--dest-creds-env', 'HOIST_DEST', '--json'], env);
    const report = JSON.parse(again.stdout) as { manifest: string; stats: { present: number; uploaded: number } };
    assert.equal(report.manifest, 'unchanged');
    assert.equal(report.stats.uploaded, 0);
    const methods = (await since(mark)).map((e) => `${e.method} ${e.path}`);
    assert.ok(methods.length >= 4, methods.join('\n'));
    assert.deepEqual(methods.filter((m) => !m.startsWith('HEAD ')), [], 'only HEAD requests on a re-push');
  });

  it('promote adds tags without uploading a blob, and is idempotent', async () => {
    const ref = `${sb.registry}/copy/app:v1`;
    const digest = await skopeoDigest(`docker://${ref}`, auth.authfile);
    const mark = (await settledLog()).length;
    const r = await hoistOk(['promote', ref, '--tag', 'stable', '--tag', 'v1.0.0', '--creds-env', 'HOIST_DEST'], env);
    assert.equal(r.stdout, `${sb.registry}/copy/app:stable@${digest}\n${sb.registry}/copy/app:v1.0.0@${digest}\n`);
    const calls = await since(mark);
    assert.deepEqual(calls.filter((e) => /\/blobs\//.test(e.path ?? '') && e.method !== 'HEAD' && e.method !== 'GET'), []);
    assert.equal(calls.filter((e) => e.method === 'PUT' && /\/manifests\//.test(e.path ?? '')).length, 2);
    assert.equal(await skopeoDigest(`docker://${sb.registry}/copy/app:stable`, auth.authfile), digest);
    const mark2 = (await settledLog()).length;
    await hoistOk(['promote', ref, '--tag', 'stable', '--creds-env', 'HOIST_DEST'], env);
    assert.deepEqual((await since(mark2)).filter((e) => e.method === 'PUT'), [], 'a tag already on the digest is not PUT again');
  });

  it('IMMUTABLE repository: same digest is success, another digest is a clear error', async () => {
    const a = await writeOciLayout(join(tmp, 'locked-a'), { tag: 'a', extraFiles: { 'a.txt': 'a' } });
    const b = await writeOciLayout(join(tmp, 'locked-b'), { tag: 'b', extraFiles: { 'b.txt': 'b' } });
    const base = `${sb.registry}/copy/locked`;
    await hoistOk(['copy', `oci:${a.dir}:a`, `docker://${base}:a`, '--dest-creds-env', 'HOIST_DEST'], env);
    await hoistOk(['copy', `oci:${a.dir}:a`, `docker://${base}:a`, '--dest-creds-env', 'HOIST_DEST'], env);
    await hoistOk(['copy', `oci:${b.dir}:b`, `docker://${base}:b`, '--dest-creds-env', 'HOIST_DEST'], env);
    await hoistOk(['promote', `${base}:a`, '--tag', 'release', '--creds-env', 'HOIST_DEST'], env);
    const again = await hoistOk(['promote', `${base}:a`, '--tag', 'release', '--creds-env', 'HOIST_DEST'], env);
    assert.match(again.stderr, /release already there/);
    const clash = await hoist(['promote', `${base}:b`, '--tag', 'release', '--creds-env', 'HOIST_DEST'], env);
    assert.equal(clash.code, 1, clash.stderr);
    assert.match(clash.stderr, /immutable and already holds sha256:[0-9a-f]{64}/);
    assert.ok(clash.stderr.includes(a.manifest.digest), clash.stderr);
  });

  it('promote in ECR mode: AWS_ROLE_ARN + the job\'s ID token, no credentials given', async () => {
    const layout = await writeOciLayout(join(tmp, 'ecr-mode'), { tag: 'v1', extraFiles: { 'svc.txt': 'svc' } });
    const ref = `${sb.registry}/order-microservice`;
    await hoistOk(['copy', `oci:${layout.dir}:v1`, `docker://${ref}:build-1`, '--dest-creds-env', 'HOIST_DEST'], env);
    const token = await sandboxToken(sb);
    const r = await hoistOk(['promote', `${ref}:build-1`, '--tag', 'production'], {
      AWS_ROLE_ARN: ROLE_ARN, AWS_REGION: sb.exports.AWS_REGION!, AWS_ENDPOINT_URL: sb.url, AWS_ID_TOKEN: token, CI_PIPELINE_ID: '42',
    });
    assert.equal(r.stdout, `${ref}:production@${layout.manifest.digest}\n`);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token));
  });
});

/** A PATH with igzip and nothing else (no docker CLI). */
function onlyIgzip(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-path-'));
  symlinkSync(execFileSync('sh', ['-c', 'command -v igzip'], { encoding: 'utf8' }).trim(), join(dir, 'igzip'));
  return dir;
}

/** A DOCKER_CONFIG whose context `hoist-tcp` points the docker CLI at the engine's tcp port. */
async function tcpContext(): Promise<string> {
  const dir = mkdtempSync(join(tmp, 'context-'));
  await runOk('docker', ['context', 'create', 'hoist-tcp', '--docker', 'host=tcp://127.0.0.1:2375'], { env: cleanEnv({ DOCKER_CONFIG: dir }) });
  return dir;
}

describe('hoist copy docker-daemon: → CNCF registry', { skip: missing }, () => {
  // Both compressors a user can get: igzip (the default when installed) and Node's zlib; and
  // every way to the engine: its unix socket and its plain tcp:// port (the seed's DinD service)
  // read directly (engine-socket.ts), and the docker CLI, which hoist leaves contexts (and TLS,
  // ssh://) to.
  const cases = [
    { compressor: 'igzip', via: 'unix' },
    { compressor: 'zlib', via: 'tcp' },
    { compressor: 'zlib', via: 'context' },
  ] as const;
  for (const { compressor, via } of cases) {
    const how = { unix: 'engine socket', tcp: 'tcp:// engine, no CLI', context: 'docker CLI through a context' }[via];
    it(`gzips docker save layers on the fly (${compressor}, ${how}); skopeo and docker see the digest; a re-copy recompresses nothing`, async (t) => {
      if (await skipUnless(t, ...(compressor === 'igzip' ? ['igzip' as const] : []), ...(via !== 'unix' ? ['docker-tcp' as const] : []))) return;
      // Read directly, hoist needs no docker CLI: its PATH then holds igzip and nothing else.
      const engine: Record<string, string> = via === 'context' ? { DOCKER_CONTEXT: 'hoist-tcp', DOCKER_CONFIG: await tcpContext() }
        : { DOCKER_HOST: via === 'unix' ? 'unix:///var/run/docker.sock' : 'tcp://127.0.0.1:2375', PATH: onlyIgzip() };
      const registry = await startCncfRegistry({ auth: 'none' });
      after(() => registry.stop());
      const base = await ensureDockerBaseImage();
      const dst = `docker://${registry.host}/daemon/busybox:v1`;
      const r = await hoistOk(['copy', `docker-daemon:${base.tag}`, dst, '--json', '--compressor', compressor], engine);
      const report = JSON.parse(r.stdout) as { digest: string; compressor: string; stats: { compressed: number; present: number } };
      assert.ok(report.stats.compressed >= 1);
      assert.equal(report.compressor, compressor);
      assert.equal(await skopeoDigest(dst), report.digest);
      const pulled = await dockerPullRun(`${registry.host}/daemon/busybox:v1`, undefined, ['echo', 'ran']);
      assert.equal(pulled.digest, report.digest);
      assert.equal(pulled.out, 'ran\n');
      const logFrom = registry.log().length;
      const again = JSON.parse((await hoistOk(['copy', `docker-daemon:${base.tag}`, dst, '--json'], engine)).stdout) as typeof report & { manifest: string };
      assert.equal(again.digest, report.digest);
      assert.equal(again.stats.compressed, 0, 'digest cache: nothing recompressed');
      assert.equal(again.manifest, 'unchanged');
      // The HEAD that told hoist not to compress a layer also tells it not to send it.
      const heads = [...registry.log().slice(logFrom).matchAll(/"HEAD \/v2\/daemon\/busybox\/blobs\/(sha256:[0-9a-f]{64}) /g)].map((m) => m[1]!);
      assert.ok(heads.length >= 2, `blob HEADs seen in the registry's access log: ${heads.length}`);
      assert.deepEqual(heads, [...new Set(heads)], 'each blob HEADed once');
    });
  }
});
