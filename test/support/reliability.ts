// Shared by the fault matrix and the load test: one sandbox (state on disk, request log), a
// role allowed to push to any repository, a base image built FROM scratch with `hoist build`
// and copied in with `hoist copy`, `hoist push --builder native` jobs, and the invariant
// checked against the sandbox's own state on disk — never through hoist or the proxy.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECRClient, CreateRepositoryCommand, GetAuthorizationTokenCommand, PutAccountSettingCommand } from '@aws-sdk/client-ecr';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { run, runOk, type RunResult } from './components.ts';
import { jobEnv } from './push-job.ts';
import { ROLE } from './sandbox-admin.ts';
import { HOIST, startSandboxProcess, type SandboxProcess } from './sandbox-cli.ts';

export const BASE_REPO = 'base/runtime';

export interface PushWorld {
  sb: SandboxProcess;
  /** The sandbox's --dir: state.json and blobs/sha256. */
  dir: string;
  logFile: string;
  ecr: ECRClient;
  /** Root registry password (AWS:<password>). */
  password: string;
  /** Digests of the base image's layers. */
  baseLayers: string[];
  close(): Promise<void>;
}

export async function startPushWorld(opts: { sandboxArgs?: string[]; blobMounting?: boolean; base?: boolean } = {}): Promise<PushWorld> {
  const root = mkdtempSync(join(tmpdir(), 'hoist-reliability-'));
  const dir = join(root, 'state');
  const logFile = join(root, 'requests.jsonl');
  const sb = await startSandboxProcess(['--dir', dir, '--log', logFile, ...(opts.sandboxArgs ?? [])]);
  const credentials = { accessKeyId: sb.exports.AWS_ACCESS_KEY_ID!, secretAccessKey: sb.exports.AWS_SECRET_ACCESS_KEY! };
  const ecr = new ECRClient({ endpoint: sb.url, region: 'ap-south-1', credentials });
  const iam = new IAMClient({ endpoint: sb.url, region: 'ap-south-1', credentials });
  try {
    await iam.send(new PutRolePolicyCommand({
      RoleName: ROLE, PolicyName: 'push-anywhere',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: 'arn:aws:ecr:ap-south-1:831955480324:repository/*' }],
      }),
    }));
    if (opts.blobMounting) await ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'ENABLED' }));
    const auth = await ecr.send(new GetAuthorizationTokenCommand({}));
    const password = Buffer.from(auth.authorizationData![0]!.authorizationToken!, 'base64').toString('utf8').split(':')[1]!;
    // Worlds that only copy images in (no FROM) skip the base image.
    const baseLayers = opts.base === false ? [] : await publishScratchBase(sb, ecr, password, root);
    return { sb, dir, logFile, ecr, password, baseLayers, close: async () => { ecr.destroy(); await sb.stop(); } };
  } finally {
    iam.destroy();
  }
}

/** Deterministic filler, so layers are a few tens of KiB and bodies can be cut mid-way. */
function filler(seed: string, bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += createHash('sha256').update(`${seed}:${i}`).digest('hex') + '\n';
  return out.slice(0, bytes);
}

/** A two-layer base built FROM scratch by `hoist build`, copied into the sandbox by `hoist copy` as the admin. */
async function publishScratchBase(sb: SandboxProcess, ecr: ECRClient, password: string, root: string): Promise<string[]> {
  const ctx = join(root, 'base-context');
  mkdirSync(join(ctx, 'lib'), { recursive: true });
  mkdirSync(join(ctx, 'share'), { recursive: true });
  writeFileSync(join(ctx, 'lib', 'runtime.txt'), filler('runtime', 96 * 1024));
  writeFileSync(join(ctx, 'share', 'data.txt'), filler('share', 48 * 1024));
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY lib/ /usr/lib/runtime/\nCOPY share/ /usr/share/runtime/\n');
  const layout = join(root, 'base-layout');
  const env = { ...jobEnvBase(), SOURCE_DATE_EPOCH: '1700000000', XDG_CACHE_HOME: join(root, 'cache') };
  await runOk(process.execPath, [HOIST, 'build', '--builder', 'native', '--context', ctx, '--output', `oci:${layout}:1`], { env });
  await ecr.send(new CreateRepositoryCommand({ repositoryName: BASE_REPO }));
  await runOk(process.execPath, [HOIST, 'copy', `oci:${layout}:1`, `docker://${sb.registry}/${BASE_REPO}:1`, '--dest-creds-env', 'BASE_CREDS'],
    { env: { ...env, BASE_CREDS: `AWS:${password}` } });
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  return manifest.layers.map((l) => l.digest);
}

function jobEnvBase(): NodeJS.ProcessEnv {
  const { PATH, HOME, LANG, TMPDIR } = process.env;
  return { PATH: PATH ?? '/usr/bin:/bin', HOME: HOME ?? '/tmp', LANG: LANG ?? 'C.UTF-8', ...(TMPDIR ? { TMPDIR } : {}) };
}

/** An ID token from the sandbox's issuer with the default (seed) claims. */
export async function mintToken(sb: SandboxProcess): Promise<string> {
  const res = await fetch(`${sb.url}/_sandbox/token`, { method: 'POST', body: '{}' });
  return ((await res.json()) as { token: string }).token;
}

/** A build context: FROM the base (named on `registry`), plus one layer unique to `unique`. */
export function appContext(registry: string, unique: string, kib = 24): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-reliability-app-'));
  writeFileSync(join(dir, 'app.txt'), filler(`app:${unique}`, kib * 1024));
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${registry}/${BASE_REPO}:1\nWORKDIR /app\nCOPY app.txt ./\nCMD ["/app/app.txt"]\n`);
  return dir;
}

export interface PushJob {
  /** Where AWS calls go (the sandbox or a proxy in front of it). */
  endpoint: string;
  /** The registry host images go to (--registry): the sandbox's or a proxy's. */
  registry: string;
  repository: string;
  tag: string;
  token: string;
  cwd: string;
  timeoutMs?: number;
  /** native (default: no engine at all) or docker (dockerd on its unix socket builds and pushes). */
  builder?: 'native' | 'docker';
  /** With the docker builder: who pushes (default: hoist push's own choice). */
  pusher?: 'docker' | 'hoist';
}

export interface PushRun extends RunResult {
  ms: number;
  report?: { digest: string; tags: { tag: string; digest: string; status: string }[]; layers: { pushed: number; existing: number; mounted: number } };
}

/** `hoist push --builder native|docker --json --registry HOST`, as a CI job would run it (fresh cache, own token). */
export async function hoistPushJob(world: PushWorld, job: PushJob): Promise<PushRun> {
  const builder = job.builder ?? 'native';
  const env = jobEnv(world.sb, job.token, {
    AWS_ENDPOINT_URL: job.endpoint, ECR_REPOSITORY: job.repository, IMAGE_TAG: job.tag,
    // The native builder must not need an engine: point DOCKER_HOST at nothing.
    DOCKER_HOST: builder === 'docker' ? 'unix:///var/run/docker.sock' : 'tcp://127.0.0.1:1', SOURCE_DATE_EPOCH: '1700000000',
    XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'hoist-reliability-cache-')),
  });
  const t0 = performance.now();
  const r = await run(process.execPath, [HOIST, 'push', '--builder', builder, ...(job.pusher ? ['--pusher', job.pusher] : []), '--json', '--registry', job.registry],
    { cwd: job.cwd, env, timeoutMs: job.timeoutMs ?? 120_000 });
  const ms = Math.round(performance.now() - t0);
  let report: PushRun['report'];
  if (r.code === 0) report = JSON.parse(r.stdout) as PushRun['report'];
  return { ...r, ms, ...(report ? { report } : {}) };
}

interface StateFile {
  repositories: Record<string, {
    tagMutability: string;
    images: Record<string, { digest: string; references: string[] }>;
    tags: Record<string, string>;
    layers: Record<string, number>;
  }>;
}

export interface Invariant {
  problems: string[];
  /** repository → tag → digest, as the sandbox stores it. */
  tags: Record<string, Record<string, string>>;
  blobs: number;
}

/**
 * The invariant, read from the sandbox's own state on disk: every blob file hashes to
 * its name (nothing acknowledged that is not whole), every tag names an image whose manifest
 * and every referenced blob are present in that repository and on disk.
 */
export function checkInvariant(world: PushWorld): Invariant {
  const problems: string[] = [];
  // State first: whatever it names was stored before it was saved, so a blob listing taken
  // afterwards must include it even while other jobs keep pushing.
  const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as StateFile;
  const blobDir = join(world.dir, 'blobs', 'sha256');
  const onDisk = new Set<string>();
  for (const hex of readdirSync(blobDir)) {
    const actual = createHash('sha256').update(readFileSync(join(blobDir, hex))).digest('hex');
    if (actual !== hex) problems.push(`blob sha256:${hex} holds bytes hashing to sha256:${actual}`);
    onDisk.add(`sha256:${hex}`);
  }
  const tags: Invariant['tags'] = {};
  for (const [name, repo] of Object.entries(state.repositories)) {
    tags[name] = { ...repo.tags };
    for (const [tag, digest] of Object.entries(repo.tags)) {
      const image = repo.images[digest];
      if (!image) { problems.push(`${name}:${tag} names ${digest}, which the repository does not hold`); continue; }
      if (!onDisk.has(digest)) problems.push(`${name}:${tag}: manifest ${digest} is not stored`);
      for (const ref of image.references) {
        if (!onDisk.has(ref)) problems.push(`${name}:${tag}: blob ${ref} is missing from storage`);
        if (!(ref in repo.layers)) problems.push(`${name}:${tag}: blob ${ref} is not linked to the repository`);
      }
    }
  }
  return { problems, tags, blobs: onDisk.size };
}

export interface LogLine {
  kind: string;
  method?: string;
  path?: string;
  action?: string;
  status: number;
  error?: string;
  principal?: string;
}

export function readLog(file: string, from = 0): LogLine[] {
  return readFileSync(file, 'utf8').slice(from).split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
}
