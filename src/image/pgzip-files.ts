// Parallel gzip whose blocks and members live in files (the engine path with igzip): each
// block is written to disk as its bytes arrive, compressed file to file by the engine, and the
// members stay where the engine wrote them as the compressed blob, read back in order.
//
// Why not ParallelGzip + a spool file: that path held every 32 MiB block in memory until its
// member was done, read each member back into a fresh buffer and wrote it again to the spool.
// Here the 0.6 GB of members of the 1.45 GB bench save are written once (by igzip) and read
// once to hash them, into one reused buffer (BENCHMARKS.md, engine scenario).
//
// Same output as ParallelGzip with the same engine: fixed blocks, one member each, in order
// (RFC 1952 §2.2: members in sequence are one gzip stream).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import type { Digest } from '../model/reference.ts';
import { type Semaphore, semaphore } from './limit.ts';
import type { GzipEngine } from './pgzip.ts';
import { FILE_READ_CHUNK } from './streams.ts';

export interface GzipFiles {
  /** The members, in order: their concatenation is the compressed blob. */
  files: string[];
  digest: Digest;
  size: number;
}

export type FileGzipEngine = GzipEngine & Required<Pick<GzipEngine, 'memberFile'>>;

export function isFileEngine(engine: GzipEngine): engine is FileGzipEngine {
  return engine.memberFile !== undefined;
}

/** Bytes gathered before a write: 1 MiB per writev instead of one write per 64 KiB chunk. */
const BATCH = 1 << 20;
/** Linux's limit on buffers per writev. */
const IOV_MAX = 1024;

/** A layer being compressed once all of its input is in block files. */
export interface GzipFilesJob {
  /** Settles when the members still compressing are done and hashed, in order. */
  done: Promise<GzipFiles>;
}

/**
 * Compresses `input` into members under `dir`, named `<prefix>-<n>.gz`, and resolves as soon as
 * the last input byte is in a block file: the caller can read on (the next layer of a save)
 * while the last members compress, instead of leaving a core idle at every layer's end.
 *
 * `slots` bounds the engine's processes, shared by every call that passes the same one; the
 * input waits (backpressure) until its block's process has started. Block files are removed as
 * their member completes; on failure every file this call made is removed once nothing is
 * writing to it any more, and `done` (or the call itself) rejects.
 */
export async function gzipToFiles(
  input: AsyncIterable<Buffer>, engine: FileGzipEngine, level: number, dir: string, prefix: string,
  slots: Semaphore = semaphore(engine.inFlight),
): Promise<GzipFilesJob> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const files: string[] = [];
  const members: Promise<string>[] = [];
  const made: string[] = [];
  let size = 0;
  let n = 0;
  let block: BlockFile | undefined;
  let failed: { err: unknown } | undefined;
  const blockSize = engine.fileBlock ?? engine.block;
  // Members are hashed in order as they complete, each one while later ones still compress.
  let hashed: Promise<void> = Promise.resolve();

  const next = async (): Promise<BlockFile> => {
    const path = join(dir, `${prefix}-${n++}`);
    made.push(path, `${path}.gz`);
    return new BlockFile(path, await open(path, 'wx', 0o600));
  };
  const start = async (b: BlockFile): Promise<void> => {
    await b.close();
    const release = await slots.acquire();
    if (failed) {
      release();
      throw failed.err;
    }
    const member = engine.memberFile(b.path, `${b.path}.gz`, level).finally(release).then(async () => {
      await rm(b.path, { force: true });
      return `${b.path}.gz`;
    });
    member.catch((err: unknown) => void (failed ??= { err }));
    members.push(member);
    hashed = hashed.then(async () => {
      const file = await member;
      size += await hashInto(file, hash, buf);
      files.push(file);
    });
    hashed.catch(() => {}); // settled through `done`
  };
  const cleanUp = async (err: unknown): Promise<never> => {
    await block?.close().catch(() => {});
    await Promise.allSettled(members);
    await hashed.catch(() => {});
    await Promise.all(made.map((f) => rm(f, { force: true })));
    throw err;
  };

  try {
    for await (const chunk of input) {
      if (failed) throw failed.err;
      let rest = chunk;
      while (rest.length > 0) {
        block ??= await next();
        const take = Math.min(rest.length, blockSize - block.bytes);
        await block.write(rest.subarray(0, take));
        rest = rest.subarray(take);
        if (block.bytes === blockSize) {
          const full = block;
          block = undefined;
          await start(full);
        }
      }
    }
    // The tail, or the one empty member an empty input still gets (as gzip gives one).
    const tail = block ?? (n === 0 ? await next() : undefined);
    block = undefined;
    if (tail) await start(tail);
  } catch (err) {
    return cleanUp(err);
  }
  return { done: hashed.then(() => ({ files, digest: `sha256:${hash.digest('hex')}` as Digest, size }), cleanUp) };
}

/** A new file (mode 0600) holding `parts` in order: a block as ParallelGzip hands it over. */
export async function writeBlockFile(path: string, parts: readonly Buffer[]): Promise<void> {
  const block = new BlockFile(path, await open(path, 'wx', 0o600));
  try {
    for (const part of parts) await block.write(part);
  } finally {
    await block.close();
  }
}

/** A block being written: chunks gathered into batches, one writev per batch. */
class BlockFile {
  bytes = 0;
  #batch: Buffer[] = [];
  #batched = 0;

  constructor(readonly path: string, private readonly fh: FileHandle) {}

  async write(chunk: Buffer): Promise<void> {
    this.#batch.push(chunk);
    this.#batched += chunk.length;
    this.bytes += chunk.length;
    if (this.#batched >= BATCH || this.#batch.length >= IOV_MAX) await this.#flush();
  }

  async close(): Promise<void> {
    try {
      await this.#flush();
    } finally {
      await this.fh.close();
    }
  }

  async #flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#batched = 0;
    if (batch.length > 0) await this.fh.writev(batch);
  }
}

/** Adds a file's bytes to `hash` through one reused buffer; returns how many there were. */
async function hashInto(path: string, hash: ReturnType<typeof createHash>, buf: Buffer): Promise<number> {
  const fh = await open(path, 'r');
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return total;
      hash.update(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** The files, one after another, as one stream (one file: its own read stream, no extra stage). */
export function concatFiles(files: readonly string[]): Readable {
  if (files.length === 1) return createReadStream(files[0]!, { highWaterMark: FILE_READ_CHUNK });
  return Readable.from((async function* () {
    for (const f of files) yield* createReadStream(f, { highWaterMark: FILE_READ_CHUNK }) as AsyncIterable<Buffer>;
  })(), { objectMode: false });
}
