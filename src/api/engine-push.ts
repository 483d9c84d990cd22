// `hoist push --builder docker`: the engine builds; who pushes? `docker push` gzips every layer
// it has no record of at level 6 on one core inside the engine. hoist's registry client reads
// the image from the engine (docker-daemon:, engine-socket.ts) and gzips it with igzip in
// parallel while it streams: from the same engine, 2.3x faster than docker push on the bench
// image; the seed's whole job on an image FROM it: 13.3 s as `hoist push`, 28.2 s as the seed's
// own script (BENCHMARKS.md, "the seed job"). But `docker save` exports every layer, so where
// the engine knows layers are in the registry already (it pulled them from there), `docker
// push` skips or mounts those and sends only the new ones.
//
// `--pusher auto` (the default) therefore pushes with `docker push` when the engine pulled a
// cache image (--cache-from) or a base image (FROM) from the registry it pushes to, and with
// hoist otherwise: a first push, a job without --cache-from, and the seed's own job, which
// pulls `:latest` but only ever pushes IMAGE_TAG, so its cache pull never finds anything. A
// fresh DinD engine knows no layer of the registry it did not pull. On a long-lived engine that
// pushed the same layers itself before, `--pusher docker` can be the faster choice.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Builder, BuildRequest, BuildResult, CacheSource, PushedRef, PushRequest, PushResult, RegistryCredential } from '../build/builder.ts';
import { baseImages } from '../build/native.ts';
import { HoistError, isHoistError } from '../errors.ts';
import { exec, type Runner } from '../exec/index.ts';
import { DigestCache } from '../image/digest-cache.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../image/streams.ts';
import { parseDockerfile } from '../model/dockerfile/index.ts';
import { parseReference } from '../model/reference.ts';
import { openSource, parseTransport } from '../registry/transports.ts';
import { gzipEngineFor } from './compressor.ts';
import { RegistryPush } from './registry-push.ts';

export const PUSHERS = ['auto', 'docker', 'hoist'] as const;
export type Pusher = (typeof PUSHERS)[number];

export function parsePusher(raw: string | undefined, source: string): Pusher {
  const v = (raw ?? 'auto').trim().toLowerCase();
  if ((PUSHERS as readonly string[]).includes(v)) return v as Pusher;
  throw new HoistError(`${source}: "${raw}" is not a pusher`, { code: 'config.invalid', hint: 'Use auto, docker or hoist.' });
}

export interface PusherChoice {
  via: 'docker' | 'hoist';
  why: string;
}

/** What the choice of pusher goes by. */
export interface PushFacts {
  /** The build's cache images, and whether the engine pulled them. */
  cacheSources: readonly CacheSource[];
  /** The images the build starts FROM (baseImages); undefined when they could not be told. */
  bases: readonly string[] | undefined;
  /** The registry the image goes to. */
  registry: string;
}

/**
 * Who pushes an engine-built image. docker push when the engine knows layers of it are in the
 * registry already: it pulled a cache image or a base image from there (docker push then skips
 * or mounts those layers; hoist, gzipping them afresh, would name them by other digests and send
 * them again). hoist otherwise: every layer is new there, and docker push would gzip each itself.
 */
export function choosePusher(wanted: Pusher, facts: PushFacts | undefined): PusherChoice {
  if (wanted !== 'auto') return { via: wanted, why: `--pusher ${wanted}` };
  if (!facts) return { via: 'docker', why: 'nothing was built by this run' };
  if (facts.cacheSources.some((s) => s.status === 'available')) {
    return { via: 'docker', why: 'the cache image came from the registry: docker push sends only the layers it lacks' };
  }
  if (facts.bases === undefined) return { via: 'docker', why: 'the base images could not be told from the Dockerfile: docker push knows what the engine pulled' };
  const local = facts.bases.find((b) => registryOf(b) === facts.registry);
  if (local !== undefined) return { via: 'docker', why: `the base image ${local} is in this registry: docker push mounts its layers, hoist would send them again` };
  return { via: 'hoist', why: 'no cache or base image came from this registry, so docker push would gzip every layer itself' };
}

/** A reference's registry, Docker Hub's for bare names. */
function registryOf(ref: string): string | undefined {
  const parsed = parseReference(ref);
  return parsed.ok ? parsed.value.registry ?? 'docker.io' : undefined;
}

/** The FROM images of a build, as the Dockerfile names them; undefined when it cannot be read (the build says why). */
async function basesOf(req: BuildRequest): Promise<string[] | undefined> {
  const file = req.dockerfile ?? join(req.context, 'Dockerfile');
  try {
    return baseImages(parseDockerfile(await readFile(file, 'utf8'), file), req.target, req.buildArgs ?? {});
  } catch {
    return undefined;
  }
}

function fallbackReason(err: unknown): string | undefined {
  if (isHoistError(err, 'image.unsupported')) return `hoist cannot read this image's layers (${err.message})`;
  if (isHoistError(err, 'disk.full')) return `no room for hoist's compressed layers (${err.message})`;
  return undefined;
}

export interface EnginePushOptions {
  pusher: Pusher;
  /** The job's environment: DOCKER_HOST and the rest, as the docker builder has it. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where the digest cache lives (copy's default); none: this run only. */
  cacheDir?: string;
  run?: Runner;
}

/** The docker builder, pushing with docker push or hoist's registry client (choosePusher). */
export class EnginePushBuilder implements Builder {
  readonly backend: string;
  readonly #push = new RegistryPush();
  #built: { result: BuildResult; bases: string[] | undefined } | undefined;

  constructor(private readonly inner: Builder, private readonly opts: EnginePushOptions) {
    this.backend = inner.backend;
  }

  check() {
    return this.inner.check();
  }

  async login(cred: RegistryCredential): Promise<void> {
    this.#push.login(cred);
    await this.inner.login(cred);
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    const result = await this.inner.build(req);
    this.#built = { result, bases: await basesOf(req) };
    return result;
  }

  async push(req: PushRequest): Promise<PushResult> {
    const built = this.#built;
    const registry = req.refs[0] === undefined ? undefined : registryOf(req.refs[0]);
    const choice = choosePusher(this.opts.pusher, built && registry ? { cacheSources: built.result.cacheSources, bases: built.bases, registry } : undefined);
    if (choice.via === 'docker') return { ...(await this.inner.push(req)), pusher: choice };
    try {
      return { pushed: await this.#copy(req), pusher: choice };
    } catch (err) {
      // When hoist was auto's pick, what only stops hoist's way leaves docker push to do it:
      // layers hoist cannot read (zstd: Node 20 has no zstd), or no room in TMPDIR for the
      // compressed layers (docker push spools nothing). Nothing was tagged: the manifest goes last.
      const fallback = this.opts.pusher === 'auto' ? fallbackReason(err) : undefined;
      if (fallback) return { ...(await this.inner.push(req)), pusher: { via: 'docker', why: fallback } };
      throw err;
    }
  }

  /** The image read once from the engine, copied to every ref: after the first only HEADs and a manifest PUT. */
  async #copy(req: PushRequest): Promise<PushedRef[]> {
    const { env } = this.opts;
    const run = this.opts.run ?? exec;
    const level = DEFAULT_COMPRESSION_LEVEL;
    const gzip = gzipEngineFor('auto', level, env, run);
    const source = await openSource(parseTransport(`docker-daemon:${req.image}`), {
      client: this.#push.client, run, env, compressionLevel: level, gzip, ...(req.signal ? { signal: req.signal } : {}),
    });
    try {
      const cache = await DigestCache.open(this.opts.cacheDir);
      return await this.#push.toRefs(req.refs, async () => source, { gzip, compressionLevel: level, cache });
    } finally {
      await source.close();
    }
  }

  async dispose(): Promise<void> {
    this.#push.close();
    await this.inner.dispose();
  }
}
