// `hoist sandbox`: open (or create) a world and serve it.

import { readFile } from 'node:fs/promises';
import { HoistError } from '../errors.ts';
import {
  emptyWorld, parseWorldSpec, seedWorld, startSandboxServer, World, worldFromSpec,
  type RequestLogEntry, type RunningSandbox, type TokenRequest, type WorldState,
} from '../sandbox/index.ts';

export interface SandboxOptions {
  host?: string;
  port?: number;
  /** Persist state here; absent = in memory. */
  dir?: string;
  /** A world file (JSON); absent = the seed's world. */
  worldFile?: string;
  empty?: boolean;
  log?: (entry: RequestLogEntry) => void;
  now?: () => number;
  /** Enforce ECR's rate quotas (PutImage 10/s). */
  throttle?: boolean;
  /**
   * STS credentials expire after min(DurationSeconds, this) seconds, and ECR tokens with them:
   * rehearses jobs that outlive their credentials.
   */
  credentialSeconds?: number;
}

export interface Sandbox extends RunningSandbox {
  world: World;
  /** Shell lines a user `eval`s to point the AWS CLI, SDKs and hoist at the sandbox. */
  exports: Record<string, string>;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const initial = await initialWorld(opts);
  const world = await World.open({ initial, ...(opts.dir ? { dir: opts.dir } : {}), ...(opts.now ? { now: opts.now } : {}) });
  const running = await startSandboxServer({
    world, ...(opts.host ? { host: opts.host } : {}), port: opts.port ?? 4566, ...(opts.log ? { log: opts.log } : {}),
    ...(opts.throttle ? { throttle: true } : {}),
    ...(opts.credentialSeconds !== undefined ? { credentialSeconds: checkedSeconds(opts.credentialSeconds) } : {}),
  });
  const s = world.state;
  return {
    ...running,
    world,
    exports: {
      AWS_ENDPOINT_URL: running.url,
      AWS_REGION: s.region,
      AWS_DEFAULT_REGION: s.region,
      AWS_ACCESS_KEY_ID: s.rootUser.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.rootUser.secretAccessKey,
      HOIST_SANDBOX_REGISTRY: running.registryHost,
    },
  };
}

function checkedSeconds(seconds: number): number {
  if (Number.isInteger(seconds) && seconds >= 1 && seconds <= 43200) return seconds;
  throw new HoistError(`credential lifetime ${seconds} is not a whole number of seconds from 1 to 43200`, {
    code: 'config.invalid', hint: 'Give --credential-seconds a number of seconds, e.g. 3.',
  });
}

async function initialWorld(opts: SandboxOptions): Promise<() => WorldState> {
  if (opts.empty) return () => emptyWorld();
  if (!opts.worldFile) return () => seedWorld();
  const file = opts.worldFile;
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new HoistError(`cannot read world file ${file}: ${err.code ?? err.message}`, {
      code: 'config.invalid', hint: 'Check the path given to --world.', cause: err,
    });
  });
  const spec = parseWorldSpec(text, file);
  return () => worldFromSpec(spec);
}

/** Asks a running sandbox's issuer for an ID token (`hoist sandbox token`). */
export async function requestSandboxToken(endpoint: string, req: TokenRequest): Promise<string> {
  const url = new URL('/_sandbox/token', endpoint);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
  } catch (err) {
    throw new HoistError(`no sandbox answers at ${url.origin}`, {
      code: 'sandbox.unreachable', op: 'sandbox token', cause: err,
      hint: 'Start one with `hoist sandbox` (it prints AWS_ENDPOINT_URL), or pass --endpoint.',
    });
  }
  if (!res.ok) {
    throw new HoistError(`the sandbox at ${url.origin} refused to mint a token (HTTP ${res.status})`, {
      code: 'sandbox.token-failed', op: 'sandbox token',
    });
  }
  const body = (await res.json()) as { token?: string };
  if (!body.token) throw new HoistError('the sandbox answered without a token', { code: 'sandbox.token-failed' });
  return body.token;
}
