// Docker CLI commands as data: pure functions from intent to argv and env. Nothing here runs a
// program, so every flag decision is unit-tested without an engine (docker/actions-toolkit
// style). The runner (src/exec) executes the result; docker-parse.ts reads what comes back.

import { join } from 'node:path';

/** How `docker build` runs on this machine (decided by docker-engine.ts). */
export type DockerBuildMode =
  /** The classic builder (moby's `builder/dockerfile`): deprecated, no `--progress`, cache-from needs pulled images. */
  | 'legacy'
  /** A pre-23 CLI with built-in BuildKit support, switched on by DOCKER_BUILDKIT=1. */
  | 'buildkit'
  /** A CLI with the buildx plugin: `docker build` is `docker buildx build`. */
  | 'buildx';

export const INLINE_CACHE_ARG = 'BUILDKIT_INLINE_CACHE';

export function versionArgs(): string[] {
  return ['version', '--format', '{{json .}}'];
}

export function infoArgs(): string[] {
  return ['info', '--format', '{{json .}}'];
}

export function buildxVersionArgs(): string[] {
  return ['buildx', 'version'];
}

/** The password is NOT here: it goes on stdin (`--password-stdin`), never argv. */
export function loginArgs(registry: string, username: string): string[] {
  return ['login', '--username', username, '--password-stdin', registry];
}

export function pullArgs(ref: string, platform?: string): string[] {
  return ['pull', ...(platform ? ['--platform', platform] : []), ref];
}

export function tagArgs(source: string, target: string): string[] {
  return ['tag', source, target];
}

export function pushArgs(ref: string): string[] {
  return ['push', ref];
}

export interface BuildArgvInput {
  context: string;
  dockerfile?: string;
  tags: readonly string[];
  buildArgs?: Readonly<Record<string, string>>;
  target?: string;
  platform?: string;
  labels?: Readonly<Record<string, string>>;
  cacheFrom?: readonly string[];
  /** Default true, like the seed's `docker build --pull`. */
  pull?: boolean;
  /** Where docker writes the image ID (works with every builder, unlike parsing output). */
  iidFile: string;
}

function pairs(flag: string, record: Readonly<Record<string, string>> | undefined): string[] {
  if (!record) return [];
  return Object.keys(record)
    .sort()
    .flatMap((k) => [flag, `${k}=${record[k]}`]);
}

function modeFlags(mode: DockerBuildMode): string[] {
  // Plain progress gives one line per event ("#6 CACHED"), which the parser reads; the legacy
  // builder of a 23+ CLI rejects the flag ("unknown flag: --progress"), and prints steps anyway.
  if (mode === 'legacy') return [];
  // With buildx the current builder may be a docker-container one whose results stay inside
  // BuildKit unless loaded; `--load` makes `docker tag`/`docker push` see the image either way.
  return mode === 'buildx' ? ['--progress=plain', '--load'] : ['--progress=plain'];
}

/**
 * Under BuildKit, `--cache-from <image>` only works when that image carries inline cache
 * metadata, which BuildKit writes only when BUILDKIT_INLINE_CACHE=1 is set at build time
 * (moby/buildkit README "Inline cache"; mission-anchors pain point 11: cache-from silently
 * unused). So every BuildKit build exports it: it costs a few hundred bytes of image config,
 * and makes the pushed image the next run's cache. The legacy builder ignores it.
 */
function inlineCacheArgs(mode: DockerBuildMode, buildArgs: Readonly<Record<string, string>> | undefined): string[] {
  if (mode === 'legacy' || buildArgs?.[INLINE_CACHE_ARG] !== undefined) return [];
  return ['--build-arg', `${INLINE_CACHE_ARG}=1`];
}

export function buildArgs(input: BuildArgvInput, mode: DockerBuildMode): string[] {
  return [
    'build',
    ...modeFlags(mode),
    '--file',
    input.dockerfile ?? join(input.context, 'Dockerfile'),
    '--iidfile',
    input.iidFile,
    ...(input.pull === false ? [] : ['--pull']),
    ...input.tags.flatMap((t) => ['--tag', t]),
    ...pairs('--build-arg', input.buildArgs),
    ...inlineCacheArgs(mode, input.buildArgs),
    ...(input.cacheFrom ?? []).flatMap((c) => ['--cache-from', c]),
    ...(input.target ? ['--target', input.target] : []),
    ...(input.platform ? ['--platform', input.platform] : []),
    ...pairs('--label', input.labels),
    input.context,
  ];
}

export type DockerEnv = Record<string, string | undefined>;

/** The user's Docker config dir (where TLS client certs live by default). */
export function userConfigDir(env: Readonly<DockerEnv>): string | undefined {
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return env.HOME ? join(env.HOME, '.docker') : undefined;
}

/**
 * The env every docker command runs with: the caller's env, but DOCKER_CONFIG pointing at the
 * job's private config dir (so no host credsStore, keychain or stale `auths` entry takes part:
 * pain point 8). Docker looks for TLS client certs in DOCKER_CONFIG when DOCKER_CERT_PATH is
 * unset, so it is pinned to where they were before the switch.
 */
export function commandEnv(base: Readonly<DockerEnv>, configDir: string): DockerEnv {
  const env: DockerEnv = { ...base, DOCKER_CONFIG: configDir };
  const certs = userConfigDir(base);
  if (base.DOCKER_TLS_VERIFY && !base.DOCKER_CERT_PATH && certs) env.DOCKER_CERT_PATH = certs;
  return env;
}

/**
 * Env for `docker build`: DOCKER_BUILDKIT says which builder runs, so the output format the
 * parser expects is the one docker prints (a 23+ CLI with buildx would otherwise use BuildKit
 * even when we planned for legacy). BUILDX_NO_DEFAULT_ATTESTATIONS keeps buildx from turning a
 * single image into an index with provenance (pain point 12: Lambda, immutable ECR tags).
 */
export function buildEnv(env: Readonly<DockerEnv>, mode: DockerBuildMode): DockerEnv {
  const out: DockerEnv = { ...env, DOCKER_BUILDKIT: mode === 'legacy' ? '0' : '1' };
  if (mode === 'buildx') out.BUILDX_NO_DEFAULT_ATTESTATIONS = '1';
  return out;
}
