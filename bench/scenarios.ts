// Bench scenarios beyond plain copies: peak memory on a huge layer, native builds, the seed's job.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, run, runOk } from '../test/support/components.ts';
import type { Row } from './run.ts';

interface MemoryDeps {
  rows: Row[];
  goal: (scenario: string, text: string, value: number, ok: (v: number) => boolean, unit?: string) => void;
  withRegistry: <T>(fn: (host: string) => Promise<T>) => Promise<T>;
  hoist: string;
  work: string;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/**
 * An OCI layout whose single layer is 2 GiB. The bytes are random (a registry does not read
 * layer contents), so the push path is measured, not compression.
 */
async function twoGigLayout(dir: string): Promise<string> {
  if (existsSync(join(dir, 'index.json'))) return dir;
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const tmp = join(dir, 'layer.tmp');
  await runOk('bash', ['-c', `head -c 2147483648 /dev/urandom > '${tmp}'`], { timeoutMs: 600_000 });
  const layer = await sha256File(tmp);
  renameSync(tmp, join(dir, 'blobs', 'sha256', layer.slice(7)));
  const put = (v: unknown) => {
    const b = Buffer.from(JSON.stringify(v));
    const d = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const config = put({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer] } });
  const manifest = put({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: statSync(join(dir, 'blobs', 'sha256', layer.slice(7))).size }],
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'big' } }] }));
  return dir;
}

export async function hugeLayerImage(d: MemoryDeps): Promise<void> {
  const s = 'peak memory, one 2 GiB layer';
  const dir = await twoGigLayout(join(d.work, 'big'));
  const kb = await d.withRegistry(async (h) => {
    const r = await run('/usr/bin/time', ['-f', '%M %e', process.execPath, d.hoist, 'copy', '--quiet', '--no-cache', `oci:${dir}:big`, `docker://${h}/big:1`],
      { env: cleanEnv(), timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`hoist copy of the 2 GiB layer failed: ${r.stderr.slice(-2000)}`);
    const [rss, secs] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    d.rows.push({ scenario: s, tool: 'hoist copy oci: (wall s)', stat: { min: secs!, median: secs!, runs: [secs!] } });
    return rss!;
  });
  d.goal(s, 'peak RSS at most 150 MB', kb / 1024, (mb) => mb <= 150, 'MB');
}

interface NativeDeps {
  measure: (scenario: string, tool: string, once: () => Promise<number>) => Promise<{ min: number }>;
  goal: MemoryDeps['goal'];
  withRegistry: MemoryDeps['withRegistry'];
  timed: (cmd: string, args: string[]) => Promise<number>;
  hoist: string;
  work: string;
}

/**
 * A COPY-only service (about 40 MB of documentation and libraries as its files) on the busybox
 * base: `hoist build` + `hoist copy` against `docker build` + `docker push`, cold registry each run.
 */
export async function nativeScenario(d: NativeDeps): Promise<void> {
  const s = 'native build + push, COPY-only';
  const { ensureDockerBaseImage, writeOciLayout } = await import('../test/support/base-image.ts');
  await ensureDockerBaseImage('hoist-test/busybox:latest');
  const base = join(d.work, 'busybox-oci');
  if (!existsSync(join(base, 'index.json'))) await writeOciLayout(base, { tag: 'latest' });
  const ctx = join(d.work, 'native-ctx');
  if (!existsSync(join(ctx, 'files'))) {
    mkdirSync(join(ctx, 'files'), { recursive: true });
    await runOk('bash', ['-c', `cp -r /usr/share/doc ${ctx}/files/doc && cp -r /usr/lib/python3 ${ctx}/files/python3 2>/dev/null || true`], { timeoutMs: 300_000 });
  }
  const dockerfile = (from: string) => `FROM ${from}\nWORKDIR /srv\nCOPY files/ ./files/\nENV APP=bench\nCMD ["/bin/sh"]\n`;
  const hoist = await d.measure(s, 'hoist build + hoist copy', () => d.withRegistry(async (h) => {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile(`oci:${base}:latest`));
    const out = join(d.work, `native-out-${Date.now()}`);
    const a = await d.timed(process.execPath, [d.hoist, 'build', '--context', ctx, '--output', `oci:${out}:1`]);
    const b = await d.timed(process.execPath, [d.hoist, 'copy', '--quiet', '--no-cache', `oci:${out}:1`, `docker://${h}/native:1`]);
    await run('rm', ['-rf', out]);
    return a + b;
  }));
  const docker = await d.measure(s, 'docker build + docker push', () => d.withRegistry(async (h) => {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile('hoist-test/busybox:latest'));
    const a = await d.timed('docker', ['build', '-q', '-t', `${h}/native:1`, ctx]);
    const b = await d.timed('docker', ['push', `${h}/native:1`]);
    await run('docker', ['rmi', `${h}/native:1`], { env: cleanEnv() });
    await run('docker', ['builder', 'prune', '-af'], { env: cleanEnv() });
    return a + b;
  }));
  d.goal(s, 'hoist at least 3x faster', docker.min / hoist.min, (r) => r >= 3);
}

interface JobDeps {
  measureInterleaved: (scenario: string, tools: [string, () => Promise<number>][]) => Promise<Map<string, { min: number }>>;
  timed: (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<number>;
  hoist: string;
  work: string;
  /** The bench image, as the engine holds it. */
  image: string;
}

/**
 * The seed's whole job against the sandbox (STS, ECR, its registry), on an image FROM the bench
 * image plus one COPY: `hoist push --builder docker` (its default pusher) against the seed's own
 * script (test/fixtures/seed-job.sh: aws CLI v2, docker login, describe-or-create, cache pull,
 * build, tag, docker push). Both build without --pull, as the base exists only in the engine;
 * each run gets a fresh sandbox, so every push is cold, as it is for the seed, which never pushes
 * the :latest it pulls.
 */
export async function seedJobScenario(d: JobDeps): Promise<void> {
  const s = 'the seed job, docker builder';
  const { startSandboxProcess } = await import('../test/support/sandbox-cli.ts');
  const { sandboxToken, ROLE_ARN } = await import('../test/support/sandbox-admin.ts');
  const { jobEnv } = await import('../test/support/push-job.ts');
  const { awsCliV2 } = await import('../test/support/components.ts');
  const ctx = join(d.work, 'job-ctx');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'app.txt'), 'order-microservice\n');
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${d.image}\nCOPY app.txt /app/app.txt\n`);
  const script = join(d.work, 'seed-job-nopull.sh');
  writeFileSync(script, readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'seed-job.sh'), 'utf8').replace('docker build --pull ', 'docker build '));
  const inSandbox = async (fn: (sb: Awaited<ReturnType<typeof startSandboxProcess>>, token: string, tmp: string) => Promise<number>): Promise<number> => {
    const sb = await startSandboxProcess();
    const tmp = mkdtempSync(join(d.work, 'job-'));
    try {
      return await fn(sb, await sandboxToken(sb), tmp);
    } finally {
      await sb.stop();
      await run('docker', ['rmi', `${sb.registry}/order-microservice:3.0.0`, 'order-microservice:latest'], { env: cleanEnv() });
      await run('rm', ['-rf', tmp]);
    }
  };
  await d.measureInterleaved(s, [
    ['hoist push --builder docker', () => inSandbox((sb, token, tmp) =>
      d.timed(process.execPath, [d.hoist, 'push', '--builder', 'docker', '--no-pull', '--quiet', '--context', ctx],
        jobEnv(sb, token, { XDG_CACHE_HOME: tmp })))],
    ["the seed's script (docker push)", () => inSandbox((sb, token, tmp) => d.timed('bash', ['-c', `cd ${ctx} && bash ${script} >/dev/null`], cleanEnv({
      AWS_V2: awsCliV2(), AWS_ENDPOINT_URL: sb.url, AWS_EC2_METADATA_DISABLED: 'true', DOCKER_CONFIG: join(tmp, 'docker'), JOB_TMP: tmp,
      AWS_ACCOUNT_ID: '831955480324', AWS_REGION: 'ap-south-1', AWS_ROLE_ARN: ROLE_ARN, ECR_REPOSITORY: 'order-microservice', IMAGE_TAG: '3.0.0',
      ECR_REGISTRY_OVERRIDE: sb.registry, AWS_ID_TOKEN: token, CI_COMMIT_SHA: 'f'.repeat(40), CI_COMMIT_REF_NAME: 'master', CI_PIPELINE_ID: '4242',
    })))],
  ]);
}
