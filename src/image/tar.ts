// Deterministic tar writer for image layers (ko-style: fixed mtime, fixed owners, sorted
// entries). ustar headers, PAX extended headers when a name, link target or number does not
// fit. File data streams from disk (or a Buffer); memory does not grow with file size.

import { closeSync, createReadStream, openSync, readSync } from 'node:fs';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarEntry {
  /** Path inside the layer, relative (no leading `/`); dirs without trailing `/`. */
  path: string;
  type: TarEntryType;
  /** Permission bits incl. setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; default: the writer's mtime. */
  mtime?: number;
  /** symlink target, or for hardlinks the path (in this tar) it links to. */
  linkname?: string;
  /** Regular file content: bytes in memory or a file on disk of `size` bytes. */
  data?: Uint8Array;
  file?: string;
  size?: number;
  /** PAX xattrs (`SCHILY.xattr.*`), e.g. security.capability. */
  xattrs?: Record<string, Uint8Array>;
}

export interface TarOptions {
  /** mtime for every entry that does not set one (seconds). */
  mtime: number;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5' };

/** Byte-wise path order (what `sort` does in C locale), parents before children. */
export function comparePaths(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

export function sortEntries(entries: readonly TarEntry[]): TarEntry[] {
  return [...entries].sort((a, b) => comparePaths(a.path, b.path));
}

function putString(h: Buffer, off: number, len: number, v: string): boolean {
  const b = Buffer.from(v, 'utf8');
  if (b.length > len) return false;
  b.copy(h, off);
  return true;
}

function putOctal(h: Buffer, off: number, len: number, v: number): boolean {
  const s = Math.trunc(v).toString(8);
  if (s.length > len - 1) return false;
  h.write(s.padStart(len - 1, '0') + '\0', off, 'ascii');
  return true;
}

function paxRecord(key: string, value: string | Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function splitUstar(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (name !== '' && Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  return undefined;
}

function rawHeader(name: string, prefix: string, e: TarEntry, type: string, size: number, mtime: number, pax: Buffer[]): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, e.mode & 0o7777);
  if (!putOctal(h, 108, 8, e.uid)) pax.push(paxRecord('uid', String(e.uid)));
  if (!putOctal(h, 116, 8, e.gid)) pax.push(paxRecord('gid', String(e.gid)));
  if (!putOctal(h, 124, 12, size)) pax.push(paxRecord('size', String(size)));
  putOctal(h, 136, 12, mtime);
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  putOctal(h, 329, 8, 0);
  putOctal(h, 337, 8, 0);
  putString(h, 345, 155, prefix);
  return h;
}

function checksum(h: Buffer): void {
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
}

function pad(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest, 0);
}

/** Header block(s) for one entry: a PAX `x` header first when needed. */
export function headerFor(e: TarEntry, opts: TarOptions): Buffer {
  const pax: Buffer[] = [];
  const path = e.type === 'dir' ? `${e.path}/` : e.path;
  const split = splitUstar(path);
  if (split === undefined) pax.push(paxRecord('path', path));
  const link = e.linkname ?? '';
  const size = e.type === 'file' ? entrySize(e) : 0;
  const mtime = e.mtime ?? opts.mtime;
  const h = rawHeader(split?.name ?? path.slice(-100).replace(/^\/+/, ''), split?.prefix ?? '', e, TYPEFLAG[e.type], size, mtime, pax);
  if (!putString(h, 157, 100, link)) pax.push(paxRecord('linkpath', link));
  for (const [k, v] of Object.entries(e.xattrs ?? {}).sort(([a], [b]) => comparePaths(a, b))) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
  checksum(h);
  if (pax.length === 0) return h;
  const body = Buffer.concat(pax);
  const ph = rawHeader(`PaxHeaders/${(split?.name ?? 'entry').slice(0, 80)}`, '', { ...e, uid: 0, gid: 0, mode: 0o644 }, 'x', body.length, mtime, []);
  checksum(ph);
  return Buffer.concat([ph, body, pad(body.length), h]);
}

function entrySize(e: TarEntry): number {
  if (e.data !== undefined) return e.data.length;
  if (e.size === undefined) throw new Error(`tar: ${e.path}: file entry without data or size`);
  return e.size;
}

/** Output blocks: the size of a parallel-gzip block, so no block is ever re-cut (pgzip.ts). */
const OUT_BLOCK = 1 << 20;
/** Files up to this size are read with one synchronous call straight into the output block. */
const SYNC_READ_MAX = 1 << 20;

/** Fills fixed-size output buffers; a full one is handed out and never touched again. */
class BlockWriter {
  buf = Buffer.allocUnsafe(OUT_BLOCK);
  pos = 0;
  get space(): number {
    return this.buf.length - this.pos;
  }
  /** Copies `bytes` in; returns the blocks that filled up. */
  put(bytes: Uint8Array): Buffer[] {
    const full: Buffer[] = [];
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(this.space, bytes.length - off);
      this.buf.set(bytes.subarray(off, off + n), this.pos);
      this.pos += n;
      off += n;
      if (this.space === 0) full.push(this.take());
    }
    return full;
  }
  take(): Buffer {
    const out = this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(OUT_BLOCK);
    this.pos = 0;
    return out;
  }
}

/**
 * A small file read straight into the output with synchronous calls. Layers of many small files
 * were bound by the libuv threadpool: each async open/read/close queued behind the gzip blocks
 * compressing on the same four threads, so the tar writer mostly waited. A page-cache read of
 * ≤ 1 MiB costs microseconds on the main thread.
 */
function* readSmallFile(w: BlockWriter, file: string, size: number): Generator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    let left = size;
    while (left > 0) {
      const n = readSync(fd, w.buf, w.pos, Math.min(left, w.space), null);
      if (n === 0) throw new Error(`tar: ${file} shrank while being archived`);
      w.pos += n;
      left -= n;
      if (w.space === 0) yield w.take();
    }
    if (readSync(fd, Buffer.allocUnsafe(1), 0, 1, null) !== 0) throw new Error(`tar: ${file} grew while being archived`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The tar bytes for `entries` in the given order (callers sort with sortEntries for
 * reproducible layers), in 1 MiB buffers. Streams large files from disk; checks that files did
 * not change size.
 */
export async function* tarStream(entries: Iterable<TarEntry>, opts: TarOptions): AsyncGenerator<Buffer> {
  const w = new BlockWriter();
  for (const e of entries) {
    yield* w.put(headerFor(e, opts));
    if (e.type !== 'file') continue;
    const size = entrySize(e);
    if (e.data !== undefined) yield* w.put(e.data);
    else if (size > 0 && size <= SYNC_READ_MAX) yield* readSmallFile(w, e.file!, size);
    else if (size > 0) {
      let seen = 0;
      for await (const chunk of createReadStream(e.file!, { highWaterMark: OUT_BLOCK })) {
        const c = chunk as Buffer;
        seen += c.length;
        if (seen > size) throw new Error(`tar: ${e.file} grew while being archived`);
        yield* w.put(c);
      }
      if (seen !== size) throw new Error(`tar: ${e.file} shrank while being archived`);
    }
    yield* w.put(pad(size));
  }
  yield* w.put(Buffer.alloc(BLOCK * 2, 0));
  if (w.pos > 0) yield w.take();
}

/** Whole tar in memory (small layers, tests). */
export async function tarBuffer(entries: Iterable<TarEntry>, opts: TarOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of tarStream(entries, opts)) parts.push(b);
  return Buffer.concat(parts);
}
