// Parallel gzip, after pigz: the input is cut into fixed-size blocks, each compressed as its
// own gzip member, and the members are emitted in order. A sequence of members is one valid
// gzip stream (RFC 1952 §2.2), which gunzip, Go's compress/gzip (the registry, containerd,
// docker) and Node all read as a whole. Fixed blocks keep the output deterministic: the same
// input gives the same bytes. Memory is bounded by the blocks in flight.
//
// Who compresses a member is a GzipEngine: Node's zlib on libuv's threadpool by default (the
// native builder always uses it, so its digests are the same on every machine), or an
// external compressor (igzip.ts) for layers whose compressed bytes need not be reproducible.
// Dedicated worker threads for zlib were measured too (bench, 1.45 GB docker save, 2 cores):
// within noise of the threadpool, with 70 MB more memory, so the simpler path stays.

import { Transform, type TransformCallback } from 'node:stream';
import { gzip } from 'node:zlib';

export const PGZIP_BLOCK = 1 << 20;
/** Node's threadpool has 4 threads by default; more blocks in flight only queue. */
export const PGZIP_IN_FLIGHT = 4;

/** Compresses blocks into complete gzip members. */
export interface GzipEngine {
  /** What compresses, as reported to the user ("zlib", "igzip"). */
  readonly name: string;
  /** Input bytes per member. */
  readonly block: number;
  /** Members compressing at once. */
  readonly inFlight: number;
  /**
   * One member of `parts`, in order: several buffers when the block spans upstream chunks. The
   * list is the engine's from then on: it may empty it once the bytes are consumed, to let go
   * of them before the member is done.
   */
  member(parts: readonly Buffer[], level: number): Promise<Buffer>;
  /**
   * Engines that run on files (igzip) also compress file to file: one member of `input`,
   * written to `output`. gzipToFiles() then keeps the members on disk as they are.
   */
  memberFile?(input: string, output: string, level: number): Promise<void>;
  /** Input bytes per member file to file (default `block`): no block is held in memory there. */
  readonly fileBlock?: number;
}

/**
 * One gzip member. The output buffer holds the whole worst case (deflate's stored blocks add 5
 * bytes per 16 KiB, RFC 1951 §3.2.4, plus the 18-byte gzip frame): zlib then finishes in one
 * pass on the threadpool instead of a main-thread callback per 16 KiB of output, which made the
 * main thread the bottleneck of a 1.5 GB docker save (4.4 s of its profile).
 */
function outputSize(n: number): number {
  return Math.max(64 * 1024, n + (n >> 10) + 1024);
}

/**
 * memLevel 9 (zlib's largest hash table) measured 131 MB/s against 112 MB/s at the default 8 on
 * this machine's layer tars, for a ratio within 0.1 % (level 1, 1 MiB blocks).
 */
function gzipBlock(block: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    gzip(block, { level, memLevel: 9, chunkSize: outputSize(block.length) }, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Node's zlib: deterministic for a given Node, no dependency. */
export const ZLIB: GzipEngine = {
  name: 'zlib', block: PGZIP_BLOCK, inFlight: PGZIP_IN_FLIGHT,
  // tar.ts hands out whole blocks, so the concat (a copy) is rare on the native path.
  member: (parts, level) => gzipBlock(parts.length === 1 ? parts[0]! : Buffer.concat(parts), level),
};

export class ParallelGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly queue: Promise<Buffer>[] = [];
  private members = 0;

  private readonly block: number;
  private readonly inFlight: number;

  constructor(private readonly level = 1, private readonly engine: GzipEngine = ZLIB, block?: number) {
    super();
    this.block = block ?? engine.block;
    this.inFlight = engine.inFlight;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainBlocks(false).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.drainBlocks(true).then(() => this.emitAll()).then(() => cb(), cb);
  }

  /**
   * Starts compression of every full block (and the tail at the end), keeping at most `inFlight`
   * running. A block is a list of views into upstream buffers, never written again once pushed:
   * no copy here (an engine that writes files writes the list as is).
   */
  private async drainBlocks(final: boolean): Promise<void> {
    while (this.pendingBytes >= this.block || (final && this.pendingBytes > 0)) {
      const parts: Buffer[] = [];
      let need = Math.min(this.block, this.pendingBytes);
      while (need > 0) {
        const head = this.pending[0]!;
        if (head.length <= need) {
          parts.push(head);
          this.pending.shift();
          need -= head.length;
          this.pendingBytes -= head.length;
        } else {
          parts.push(head.subarray(0, need));
          this.pending[0] = head.subarray(need);
          this.pendingBytes -= need;
          need = 0;
        }
      }
      this.start(parts);
      if (this.queue.length >= this.inFlight) this.push(await this.queue.shift()!);
    }
  }

  private start(parts: readonly Buffer[]): void {
    const p = this.engine.member(parts, this.level);
    // Awaited in order later; until then a failure must not surface as an unhandled rejection.
    p.catch(() => {});
    this.queue.push(p);
    this.members++;
  }

  private async emitAll(): Promise<void> {
    // An empty input still yields one (empty) member, as gzip does.
    if (this.members === 0) this.start([Buffer.alloc(0)]);
    while (this.queue.length > 0) this.push(await this.queue.shift()!);
  }
}
