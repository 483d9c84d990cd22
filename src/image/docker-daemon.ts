// `docker-daemon:IMAGE`: the image as the engine holds it, read from `docker save` (run
// through the exec runner: no shell, explicit env).
//
// The save is streamed, never written to disk uncompressed: each layer is gzipped (parallel
// members, pgzip.ts) and hashed both ways while it leaves the engine, and only the compressed
// blob is spooled to a private temp dir, removed when the source closes. An engine's export is
// slow to start (the classic image store exports every layer to its own temp dir before the
// first byte), so this is the one place hoist can win from the engine: it never writes the
// 1-2 GB of uncompressed tar a second time, and reads it once (registry-performance.md §D8).
//
// Layers the destination already holds, by the digest cache (§D9), are only hashed: Docker ≥ 25
// names a layer `blobs/sha256/<diffID>` so the check is per layer; the classic format names it
// by a v1 ID, so there it applies when every layer of the image is known.
//
// The containerd image store (the default for new installs since Docker 29) saves layers as it
// holds them: gzip already, named by their compressed digest (elastic/elastic-agent#12676,
// moby/moby#47065). Those go through untouched, their name checked and their diffID computed
// by a gunzip on the side, so the registry gets the very blobs the engine pulled or built.

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import { HoistError } from '../errors.ts';
import { diskFullError } from '../fs/disk-full.ts';
import type { Digest } from '../model/reference.ts';
import { type Descriptor, MEDIA, type RawManifest, rawManifest, sha256Digest } from './descriptor.ts';
import { type ArchiveEntry, BLOB_NAME, isGzip, pickImage } from './docker-archive.ts';
import { HashingStream, verifyingStream } from './digest-stream.ts';
import { type EngineAccess, type EngineEndpoint, socketEngine } from './engine-socket.ts';
import { semaphore, type Semaphore } from './limit.ts';
import { type GzipEngine, ParallelGzip, ZLIB } from './pgzip.ts';
import { concatFiles, gzipToFiles, isFileEngine } from './pgzip-files.ts';
import type { BlobOpener, ImageSource, KnownLayer } from './source.ts';
import { chain, DEFAULT_COMPRESSION_LEVEL } from './streams.ts';
import { eachTarEntry, type ReadEntry } from './tar-read.ts';

/** The slice of exec's Runner this needs (image/ may not import its sibling exec/). */
export type SaveRunner = (req: {
  program: string; args: readonly string[]; env: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number; op?: string; signal?: AbortSignal; stdout?: Writable;
}) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface DockerDaemonOptions {
  run: SaveRunner;
  /** Environment for the docker CLI (PATH, DOCKER_HOST, DOCKER_CONFIG, HOME, …). */
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** gzip level for the layers (default 1). */
  level?: number;
  /** Who compresses the layers (default: Node's zlib). */
  gzip?: GzipEngine;
  /** Where compressed layers are spooled (default: the OS temp dir). */
  tmpDir?: string;
  /**
   * The engine's socket, when it is where the docker CLI would go too, in plain HTTP (engineEndpoint()):
   * the save and the layer list are then read from it directly, without the CLI.
   */
  endpoint?: EngineEndpoint;
}

const SAVE_TIMEOUT_MS = 60 * 60_000;

/** Members kept in memory: manifest.json, configs, VERSION files. Layers go through gzip. */
const MAX_DOCUMENT = 16 * 1024 * 1024;
const SMALL = 1024 * 1024;

/**
 * A layer spooled gzipped: compressed here (`recompressed`), or passed through as the engine
 * held it. The blob is its files' concatenation (several gzip members with igzip, pgzip-files.ts).
 */
type Gzipped = { kind: 'gzipped'; diffId: Digest; blob: Descriptor; files: string[]; recompressed: boolean };
type Hashed = { kind: 'hashed'; diffId: Digest };
/** What one member of the save stream became. */
type Member = { kind: 'bytes'; bytes: Buffer } | Gzipped | Hashed;

function isDocumentName(path: string): boolean {
  return path === 'manifest.json' || path === 'index.json' || path === 'repositories' || path === 'oci-layout'
    || path.endsWith('.json') || path.endsWith('/json') || path.endsWith('/VERSION');
}

export function openDockerDaemonSource(image: string, opts: DockerDaemonOptions): Promise<ImageSource> {
  return Promise.resolve(new DaemonSource(image, opts));
}

class DaemonSource implements ImageSource {
  readonly name: string;
  readonly gzipped = new Map<Digest, Digest>();
  readonly diffIds = new Map<Digest, Digest>();
  /** Compressed digest → spool files, filled as each layer is spooled. */
  readonly #files = new Map<Digest, string[]>();
  #ready: ((desc: Descriptor) => void) | undefined;
  #known: KnownLayer | undefined;
  #loaded: Promise<Loaded> | undefined;
  #dir: string | undefined;

  readonly #engine: EngineAccess;

  constructor(private readonly image: string, private readonly opts: DockerDaemonOptions) {
    this.name = `docker-daemon:${image}`;
    this.#engine = opts.endpoint ? socketEngine(opts.endpoint) : cliEngine(opts.run, opts.env);
  }

  useKnownLayers(known: KnownLayer): void {
    this.#known = known;
  }

  onBlobReady(ready: (desc: Descriptor) => void): void {
    this.#ready = ready;
  }

  async manifest(): Promise<RawManifest> {
    return (await this.#load()).manifest;
  }

  async manifestByDigest(): Promise<RawManifest> {
    return (await this.#load()).manifest;
  }

  blob(desc: Descriptor): BlobOpener {
    return () => chain(this.#open(desc), verifyingStream(desc.digest, desc.size));
  }

  /** Spooled blobs were hashed as they were written; a verifying sink checks them again. */
  unverifiedBlob(desc: Descriptor): BlobOpener {
    return () => this.#open(desc);
  }

  async close(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }

  #open(desc: Descriptor): Readable {
    // Layers can be read as soon as they are spooled (onBlobReady), the config once loaded.
    const loaded = this.#current;
    if (loaded && desc.digest === loaded.configDesc.digest) return Readable.from([loaded.config]);
    const files = this.#files.get(desc.digest);
    if (files === undefined) throw new HoistError(`${this.name} has no blob ${desc.digest}`, { code: 'image.not-found', op: 'read docker save' });
    return concatFiles(files);
  }

  #current: Loaded | undefined;

  #load(): Promise<Loaded> {
    // A failed save leaves no spool behind, whether or not the caller closes the source.
    this.#loaded ??= this.#save().then((l) => (this.#current = l), async (err: unknown) => {
      await this.close();
      throw diskFullError(err, { dir: this.opts.tmpDir ?? tmpdir(), what: "docker save's compressed layers", fix: 'point TMPDIR at a directory on a larger disk' });
    });
    return this.#loaded;
  }

  async #save(): Promise<Loaded> {
    this.#dir = await mkdtemp(join(this.opts.tmpDir ?? tmpdir(), 'hoist-save-'));
    const known = this.#known ? this.#knownLayers() : Promise.resolve(NONE_KNOWN);
    // Awaited when the first layer arrives and again at the end; a save that fails first (no
    // such image) reports its own error, and this one must not crash the process unhandled.
    known.catch(() => {});
    const spool = new SaveSpool(this.#dir, this.opts.level ?? DEFAULT_COMPRESSION_LEVEL, this.opts.gzip ?? ZLIB, known, (layer) => this.#spooled(layer));
    const input = new PassThrough({ highWaterMark: 1 << 20 });
    const consumed = spool.consume(input);
    // A consumer that fails (disk full, a broken stream) stops the save through the sink's error.
    consumed.catch((err: unknown) => input.destroy(err instanceof Error ? err : new Error(String(err))));
    // Stops the save for the caller, or for hoist once the archive is whole. (AbortSignal.any
    // would do, but only from Node 20.3; package.json allows every Node 20.)
    const stop = new AbortController();
    const callerStopped = (): void => stop.abort();
    this.opts.signal?.addEventListener('abort', callerStopped, { once: true });
    if (this.opts.signal?.aborted) stop.abort();
    const saved = this.#engine.save(this.image, input, SAVE_TIMEOUT_MS, stop.signal);
    saved.catch(() => {}); // settled below, or of no interest once the archive is whole
    const c = await consumed.then(() => undefined, (err: unknown) => ({ err }));
    this.opts.signal?.removeEventListener('abort', callerStopped);
    if (c === undefined) {
      // The archive is whole: its end-of-archive blocks are read and every layer is spooled. The
      // engine is only removing its temp dir now (moby tarexport save(): a deferred RemoveAll
      // after the copy, before the response ends): 0.35 s on the bench image that nothing
      // needs to wait for. Both ways to the engine are stopped; there is nothing left to read.
      stop.abort();
      await saved.catch(() => {});
    } else {
      // The engine's own words first (no such image, daemon down), else what broke the stream.
      const [r] = await Promise.allSettled([saved]);
      if (r.status === 'fulfilled' && r.value.code !== 0) throw saveFailed(this.image, r.value.stderr, r.value.code);
      // Stopped from outside (the caller's signal, the save's time limit): that, not the cut-off tar.
      if (r.status === 'rejected' && (this.opts.signal?.aborted || (r.reason as { code?: string }).code === 'exec.timeout')) throw r.reason;
      throw brokenStream(this.name, c.err);
    }
    return spool.assemble(this.name, (await known).layers, (layer) => this.#spooled(layer, false));
  }

  /** A layer's compressed blob is complete on disk: readable from now on, and announced. */
  #spooled(layer: Gzipped, announce = true): void {
    this.#files.set(layer.blob.digest, layer.files);
    (layer.recompressed ? this.gzipped : this.diffIds).set(layer.blob.digest, layer.diffId);
    if (announce) this.#ready?.(layer.blob);
  }

  /** diffID → the compressed blob the destination already holds, for this image's layers. */
  async #knownLayers(): Promise<KnownLayers> {
    const r = await this.#engine.layers(this.image, this.opts.signal);
    if (r.code !== 0) throw saveFailed(this.image, r.stderr, r.code);
    const diffIds = (r.layers ?? []) as Digest[];
    const layers = new Map<Digest, Descriptor>();
    await Promise.all(diffIds.map(async (d) => {
      const desc = await this.#known!(d, MEDIA.dockerLayerGzip);
      if (desc) layers.set(d, desc);
    }));
    return { layers, all: diffIds.length > 0 && layers.size === new Set(diffIds).size };
  }
}

/** The engine through the docker CLI: whatever DOCKER_HOST, context or TLS settings it knows. */
function cliEngine(run: SaveRunner, env: DockerDaemonOptions['env']): EngineAccess {
  const signalOf = (signal?: AbortSignal) => (signal ? { signal } : {});
  return {
    save: (image, stdout, timeoutMs, signal) =>
      run({ program: 'docker', args: ['save', image], env, timeoutMs, op: 'docker save', stdout, ...signalOf(signal) }),
    layers: async (image, signal) => {
      const r = await run({ program: 'docker', args: ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', image], env, op: 'docker image inspect', ...signalOf(signal) });
      return r.code !== 0 ? r : { ...r, layers: (JSON.parse(r.stdout) as string[] | null) ?? [] };
    },
  };
}

interface KnownLayers {
  /** diffID → the compressed blob the destination holds. */
  layers: Map<Digest, Descriptor>;
  /** Every layer of the image is known: the classic format, which names layers by v1 IDs, can skip them all. */
  all: boolean;
}

const NONE_KNOWN: KnownLayers = { layers: new Map(), all: false };

interface Loaded {
  manifest: RawManifest;
  config: Buffer;
  configDesc: Descriptor;
}

function saveFailed(image: string, stderr: string, code: number): HoistError {
  const said = stderr.trim().split('\n').pop() || `exit ${code}`;
  return new HoistError(`docker save ${image} failed: ${said}`, { code: 'image.daemon-failed', op: 'docker save', hint: daemonHint(said) });
}

/** What to do, by what the engine (or the way to it) said; the wording is the docker CLI's. */
function daemonHint(said: string): string {
  // A tcp:// engine that does not answer is, in CI, almost always the DinD service (the seed's
  // "DinD connectivity issues"); the CLI words a failed DNS lookup as "error during connect".
  if (/^Cannot connect to the Docker daemon at tcp:\/\/|^error during connect/.test(said)) {
    return 'Check the Docker-in-Docker service: `services: [docker:…-dind]` in the job, DOCKER_HOST=tcp://docker:2375 with DOCKER_TLS_CERTDIR="" (or tcp://docker:2376 with TLS and DOCKER_TLS_VERIFY=1), and a runner with privileged = true.';
  }
  if (/^Cannot connect to the Docker daemon/.test(said)) {
    return 'Start the Docker engine, or point DOCKER_HOST at the one that holds the image (docker-daemon: reads unix:///var/run/docker.sock unless DOCKER_HOST says otherwise).';
  }
  if (/permission denied while trying to connect/.test(said)) {
    return 'Run the job as a user in the docker group, or point DOCKER_HOST at an engine socket this user may open.';
  }
  return 'Check that the image exists (docker image ls) and DOCKER_HOST reaches the engine.';
}

/** Reads one `docker save` tar stream: documents into memory, layers gzipped into `dir`. */
class SaveSpool {
  readonly #members = new Map<string, Member>();
  readonly #links = new Map<string, string>();
  /** Layers whose input is read but whose last members may still compress. */
  readonly #pending: Promise<void>[] = [];
  #failure: { err: unknown } | undefined;
  /** One set of compressor processes for every layer of the save (gzipToFiles). */
  readonly #slots: Semaphore;
  #n = 0;

  constructor(
    private readonly dir: string, private readonly level: number, private readonly gzip: GzipEngine,
    private readonly known: Promise<KnownLayers>, private readonly spooled: (layer: Gzipped) => void,
  ) {
    this.#slots = semaphore(gzip.inFlight);
  }

  /**
   * Reads the save to its end-of-archive blocks. A layer's last members may still compress while
   * the next layer is read; they all finish (or fail) before this settles, so nothing is still
   * writing into the spool when the save is called done or broken.
   */
  async consume(input: Readable): Promise<void> {
    const read = await eachTarEntry(input as AsyncIterable<Buffer>, (e, data) => this.#visit(e, data)).then(() => undefined, (err: unknown) => ({ err }));
    const layers = await Promise.allSettled(this.#pending);
    if (read) throw read.err;
    const failed = layers.find((l) => l.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async #visit(e: ReadEntry, data: AsyncIterable<Buffer>): Promise<void> {
    if (e.type === 'symlink') {
      this.#links.set(e.path, posix.normalize(posix.join(posix.dirname(e.path), e.linkname)));
      return;
    }
    if (e.type !== 'file') return;
    if (e.size <= SMALL || (isDocumentName(e.path) && e.size <= MAX_DOCUMENT)) {
      this.#members.set(e.path, { kind: 'bytes', bytes: await collect(data, e.size) });
      return;
    }
    const named = BLOB_NAME.exec(e.path);
    const known = await this.known;
    const skip = named ? known.layers.has(`sha256:${named[1]}` as Digest) : known.all;
    if (skip) return void this.#members.set(e.path, await hashOnly(data));
    // A layer that failed while finishing stops the save here, not after the rest is read.
    if (this.#failure) throw this.#failure.err;
    const job = await this.#layer(data, e.path);
    const done = job.done.then((layer) => {
      this.#members.set(e.path, layer);
      this.spooled(layer);
    });
    done.catch((err: unknown) => void (this.#failure ??= { err }));
    this.#pending.push(done);
  }

  /** A layer tar, gzipped here; or, when it arrives gzipped (containerd store), kept as it is. */
  async #layer(data: AsyncIterable<Buffer>, path: string): Promise<{ done: Promise<Gzipped> }> {
    const [head, rest] = await peek(data, 4);
    if (head.equals(ZSTD_MAGIC)) throw zstdLayer(path);
    const input = Readable.from(rest);
    return isGzip(head) ? { done: Promise.resolve(await this.#passThrough(input, path)) } : this.#gzip(input);
  }

  async #gzip(data: Readable): Promise<{ done: Promise<Gzipped> }> {
    const n = this.#n++;
    if (isFileEngine(this.gzip)) {
      // Members stay where the engine wrote them: no second copy of the compressed layer.
      const raw = new HashingStream();
      const job = await gzipToFiles(chain(data, raw), this.gzip, this.level, this.dir, `layer-${n}`, this.#slots);
      const diffId = raw.digest();
      return { done: job.done.then((gz) => ({ kind: 'gzipped', diffId, blob: { mediaType: MEDIA.dockerLayerGzip, digest: gz.digest, size: gz.size }, files: gz.files, recompressed: true })) };
    }
    const file = join(this.dir, `layer-${n}.gz`);
    const raw = new HashingStream();
    const gz = new HashingStream();
    await pipeline(data, raw, new ParallelGzip(this.level, this.gzip), gz, createWriteStream(file));
    return { done: Promise.resolve({ kind: 'gzipped', diffId: raw.digest(), blob: { mediaType: MEDIA.dockerLayerGzip, digest: gz.digest(), size: gz.size }, files: [file], recompressed: true }) };
  }

  /** Spooled byte for byte; a gunzip on the side yields the diffID the config is checked against. */
  async #passThrough(data: Readable, path: string): Promise<Gzipped> {
    const file = join(this.dir, `layer-${this.#n++}.gz`);
    const gz = new HashingStream();
    const raw = new HashingStream();
    const gunzip = createGunzip();
    const unpacked = pipeline(gunzip, raw, new Writable({ write: (_c, _e, cb) => cb() })).catch((err: Error) => {
      throw invalid('docker save', `${path} is gzip but does not gunzip (${err.message})`);
    });
    unpacked.catch(() => {}); // awaited below, after the spool's pipeline
    await Promise.all([pipeline(data, gz, tee(gunzip), createWriteStream(file)), unpacked]);
    const digest = gz.digest();
    const named = BLOB_NAME.exec(path);
    if (named && `sha256:${named[1]}` !== digest) throw invalid('docker save', `${path} hashes to ${digest}`);
    return { kind: 'gzipped', diffId: raw.digest(), blob: { mediaType: MEDIA.dockerLayerGzip, digest, size: gz.size }, files: [file], recompressed: false };
  }

  #member(path: string): Member | undefined {
    const p = posix.normalize(path);
    return this.#members.get(this.#links.get(p) ?? p);
  }

  /** manifest.json → config and layers, each layer checked against the config's diff_ids. */
  async assemble(label: string, known: Map<Digest, Descriptor>, spooledLate: (layer: Gzipped) => void): Promise<Loaded> {
    const doc = this.#member('manifest.json');
    if (doc?.kind !== 'bytes') throw invalid(label, 'no manifest.json in the docker save stream');
    const entry = pickImage(JSON.parse(doc.bytes.toString('utf8')) as ArchiveEntry[], label);
    const cfg = this.#member(entry.Config);
    if (cfg?.kind !== 'bytes') throw invalid(label, `config ${entry.Config} missing from the docker save stream`);
    const diffIds = (JSON.parse(cfg.bytes.toString('utf8')) as { rootfs?: { diff_ids?: Digest[] } }).rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) throw invalid(label, `${entry.Layers.length} layers but ${diffIds.length} diff_ids in the config`);
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const want = diffIds[i]!;
      const found = this.#member(path);
      if (found === undefined) throw invalid(label, `layer ${path} missing from the docker save stream`);
      const m = found.kind === 'bytes' ? await (await this.#layer(Readable.from([found.bytes]), path)).done : found;
      if (m.diffId !== want) throw invalid(label, `layer ${i + 1} (${path}) hashes to ${m.diffId}, but the config says ${want}`);
      if (m.kind === 'hashed') {
        const at = known.get(want);
        if (!at) throw invalid(label, `layer ${want} was skipped as already pushed, but the destination does not hold it: the image changed during the save`);
        layers.push(at);
        continue;
      }
      if (found.kind === 'bytes') spooledLate(m);
      layers.push(m.blob);
    }
    const configDesc: Descriptor = { mediaType: MEDIA.dockerConfig, digest: sha256Digest(cfg.bytes), size: cfg.bytes.length };
    const manifest = rawManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: configDesc, layers })), MEDIA.dockerManifest);
    return { manifest, config: cfg.bytes, configDesc };
  }
}

async function collect(data: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of data) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks, size);
}

/** The first `n` bytes (or fewer, at the end) and the whole stream, the peeked bytes included. */
async function peek(data: AsyncIterable<Buffer>, n: number): Promise<[Buffer, AsyncIterable<Buffer>]> {
  const it = data[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let size = 0;
  while (size < n) {
    const r = await it.next();
    if (r.done) break;
    seen.push(r.value);
    size += r.value.length;
  }
  async function* whole(): AsyncGenerator<Buffer> {
    yield* seen;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return [Buffer.concat(seen).subarray(0, n), whole()];
}

/** RFC 8878 §3.1.1: a zstd frame's magic number, little-endian. */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function zstdLayer(path: string): HoistError {
  return new HoistError(`docker save: ${path} is a zstd-compressed layer, which hoist cannot read on Node 20 (no zstd in its zlib)`, {
    code: 'image.unsupported', op: 'read docker save',
    hint: 'Push this image with `docker push`, or rebuild or re-pull it with gzip layers.',
  });
}

/** Passes chunks on and writes each to `side` too, waiting for it when it is full. */
function tee(side: Writable): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (side.write(chunk)) cb(null, chunk);
      else side.once('drain', () => cb(null, chunk));
    },
    flush(cb) {
      side.end();
      cb();
    },
  });
}

async function hashOnly(data: AsyncIterable<Buffer>): Promise<Hashed> {
  const h = new HashingStream();
  await pipeline(Readable.from(data), h, new Writable({ write: (_c, _e, cb) => cb() }));
  return { kind: 'hashed', diffId: h.digest() };
}

/**
 * The tar reader's own failures (a stream that ends inside an entry) as hoist's error; errors
 * that already say what happened (hoist's, and errno ones such as a full disk) pass unchanged.
 */
function brokenStream(label: string, err: unknown): unknown {
  if (err instanceof HoistError || (err as NodeJS.ErrnoException)?.code !== undefined || !(err instanceof Error)) return err;
  return invalid(label, `the docker save stream broke off (${err.message})`);
}

function invalid(label: string, why: string): HoistError {
  return new HoistError(`${label}: ${why}`, {
    code: 'image.archive-invalid', op: 'read docker save',
    hint: 'Run the copy again; if it persists, check the engine with `docker save IMAGE | tar -t`.',
  });
}
