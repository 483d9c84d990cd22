// Engine check, before any work (the seed runs `docker info` in before_script for the same
// reason): can the CLI reach an engine, which one, and which builder will `docker build` use?
//
// Builder selection, as found on real CLIs:
//   - a CLI with the buildx plugin: `docker build` is BuildKit (buildx);
//   - a classic CLI before 23.0 (e.g. Debian's 20.10): BuildKit built in, on with DOCKER_BUILDKIT=1;
//   - a 23+ CLI without buildx: DOCKER_BUILDKIT=1 fails ("BuildKit is enabled but the buildx
//     component is missing or broken"), so only the deprecated legacy builder remains.

import { existsSync } from 'node:fs';

import { HoistError, isHoistError } from '../errors.ts';
import type { BuilderInfo } from './builder.ts';
import { buildxVersionArgs, type DockerBuildMode, type DockerEnv, infoArgs, versionArgs } from './docker-args.ts';
import type { DockerCli } from './docker-cli.ts';
import { DEFAULT_DOCKER_HOST, diagnoseEngine, type EngineContext } from './docker-diagnose.ts';
import { type DockerVersions, majorVersion, parseBuildxVersion, parseInfoJson, parseVersionJson } from './docker-parse.ts';

export type ModeRequest = 'auto' | DockerBuildMode;

export interface EngineOptions {
  mode: ModeRequest;
  timeoutMs: number;
  /** Keep retrying an unreachable engine this long (a DinD service may still be starting). */
  waitMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface EngineCheck {
  info: BuilderInfo;
  mode: DockerBuildMode;
  versions: DockerVersions;
}

/** The first API version whose engine runs BuildKit builds (Docker 18.09). */
const BUILDKIT_MIN_API = [1, 39];

export function engineContext(userEnv: Readonly<DockerEnv>): EngineContext {
  const endpoint = userEnv.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  return {
    ...(userEnv.DOCKER_HOST ? { dockerHost: userEnv.DOCKER_HOST } : {}),
    tlsVerify: Boolean(userEnv.DOCKER_TLS_VERIFY),
    ...(userEnv.DOCKER_CERT_PATH ? { certPath: userEnv.DOCKER_CERT_PATH } : {}),
    ...(endpoint.startsWith('unix://') ? { socketExists: existsSync(endpoint.slice('unix://'.length)) } : {}),
  };
}

async function versionsOnce(cli: DockerCli, userEnv: Readonly<DockerEnv>, timeoutMs: number): Promise<DockerVersions> {
  let r;
  try {
    r = await cli.run({ args: versionArgs(), op: 'docker version', timeoutMs });
  } catch (err) {
    if (!isHoistError(err, 'exec.timeout')) throw err;
    const ctx = engineContext(userEnv);
    throw new HoistError(`the Docker engine at ${ctx.dockerHost ?? DEFAULT_DOCKER_HOST} did not answer within ${timeoutMs} ms`, {
      code: 'docker.unreachable',
      op: 'docker engine check',
      hint: 'a firewall may drop the connection, or the dind service hangs at start: check DOCKER_HOST and the service log',
      retryable: true,
      context: { dockerHost: ctx.dockerHost ?? DEFAULT_DOCKER_HOST },
      cause: err,
    });
  }
  const versions = parseVersionJson(r.stdout);
  if (r.code === 0 && versions?.server) return versions;
  throw diagnoseEngine(r.stderr, engineContext(userEnv));
}

async function versionsWithWait(cli: DockerCli, userEnv: Readonly<DockerEnv>, opts: EngineOptions): Promise<DockerVersions> {
  const deadline = Date.now() + opts.waitMs;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (;;) {
    try {
      return await versionsOnce(cli, userEnv, opts.timeoutMs);
    } catch (err) {
      if (!isHoistError(err) || !err.retryable || Date.now() >= deadline) throw err;
      await sleep(1_000);
    }
  }
}

function apiAtLeast(api: string | undefined, [major, minor]: number[]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(api ?? '');
  if (!m) return false;
  return Number(m[1]) > major! || (Number(m[1]) === major && Number(m[2]) >= minor!);
}

async function hasBuildx(cli: DockerCli, timeoutMs: number): Promise<string | undefined> {
  const r = await cli.run({ args: buildxVersionArgs(), op: 'docker buildx version', timeoutMs });
  return r.code === 0 ? (parseBuildxVersion(r.stdout) ?? 'unknown') : undefined;
}

interface ModeChoice {
  mode: DockerBuildMode;
  note?: string;
}

async function availableBuildKit(cli: DockerCli, v: DockerVersions, timeoutMs: number): Promise<ModeChoice | string> {
  const buildx = await hasBuildx(cli, timeoutMs);
  if (buildx) return { mode: 'buildx', note: `BuildKit via buildx ${buildx}` };
  if (!apiAtLeast(v.server?.apiVersion, BUILDKIT_MIN_API)) return `engine API ${v.server?.apiVersion ?? '?'} predates BuildKit`;
  if ((majorVersion(v.client.version) ?? 99) < 23) return { mode: 'buildkit', note: `BuildKit built into docker CLI ${v.client.version} (DOCKER_BUILDKIT=1)` };
  return `docker CLI ${v.client.version} has no buildx plugin, and CLIs since 23.0 need it for BuildKit`;
}

async function chooseMode(cli: DockerCli, v: DockerVersions, userEnv: Readonly<DockerEnv>, opts: EngineOptions): Promise<ModeChoice> {
  if (opts.mode === 'legacy') return { mode: 'legacy', note: 'legacy builder (requested)' };
  if (opts.mode === 'auto' && userEnv.DOCKER_BUILDKIT === '0') return { mode: 'legacy', note: 'legacy builder (DOCKER_BUILDKIT=0)' };
  const found = await availableBuildKit(cli, v, opts.timeoutMs);
  if (typeof found !== 'string') return found;
  if (opts.mode !== 'auto') {
    throw new HoistError(`BuildKit was requested but is not available: ${found}`, {
      code: 'docker.buildkit-unavailable',
      op: 'docker engine check',
      hint: 'install the buildx plugin (docker-buildx), use a docker CLI before 23.0, or use mode auto/legacy',
    });
  }
  return { mode: 'legacy', note: `legacy builder (deprecated): ${found}; --cache-from works with pulled images built by the legacy builder` };
}

async function infoNotes(cli: DockerCli, timeoutMs: number): Promise<string[]> {
  const r = await cli.run({ args: infoArgs(), op: 'docker info', timeoutMs });
  const info = r.code === 0 ? parseInfoJson(r.stdout) : undefined;
  if (info?.driver !== 'vfs') return [];
  // dind falls back to vfs when it cannot use overlay2 (often: not privileged): every layer is a full copy.
  return ['storage driver vfs: builds are slow and use much disk; a privileged dind service can use overlay2'];
}

export async function checkEngine(cli: DockerCli, userEnv: Readonly<DockerEnv>, opts: EngineOptions): Promise<EngineCheck> {
  const versions = await versionsWithWait(cli, userEnv, opts);
  const choice = await chooseMode(cli, versions, userEnv, opts);
  const notes = [...(choice.note ? [choice.note] : []), ...(await infoNotes(cli, opts.timeoutMs))];
  const info: BuilderInfo = {
    backend: 'docker',
    version: versions.server?.version ?? 'unknown',
    endpoint: userEnv.DOCKER_HOST || DEFAULT_DOCKER_HOST,
    mode: choice.mode,
    inlineCache: choice.mode !== 'legacy',
    notes,
  };
  return { info, mode: choice.mode, versions };
}
