// Streaming tar reader (ustar, PAX `x`/`g`, GNU long names) for reading layers back: a stage's
// filesystem for COPY --from, /etc/passwd for --chown=name, flattening in tests. File data is
// materialised only for entries the caller asks for.

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

import { chain } from './streams.ts';

export type ReadEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface ReadEntry {
  /** Normalised: no leading `./` or `/`, no trailing `/`. */
  path: string;
  type: ReadEntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  /** Set when `want(entry)` returned true (regular files only). */
  data?: Buffer;
}

const BLOCK = 512;

class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  private async fill(n: number): Promise<boolean> {
    while (this.length < n) {
      const r = await this.it.next();
      if (r.done) return false;
      const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      this.chunks.push(b);
      this.length += b.length;
    }
    return true;
  }
  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    return all.subarray(0, n);
  }
  /** Up to `n` bytes, as soon as any are there (no copying beyond the first chunk). */
  async takeSome(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(1))) return undefined;
    const first = this.chunks[0]!;
    const out = first.length > n ? first.subarray(0, n) : first;
    if (first.length > n) this.chunks[0] = first.subarray(n);
    else this.chunks.shift();
    this.length -= out.length;
    return out;
  }
  async skip(n: number): Promise<void> {
    while (n > 0) {
      const step = Math.min(n, 1 << 20);
      if ((await this.take(step)) === undefined) throw new Error('tar: unexpected end of archive');
      n -= step;
    }
  }
}

const str = (b: Buffer, off: number, len: number): string => {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return (nul < 0 ? s : s.subarray(0, nul)).toString('utf8');
};

function octal(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if ((f[0]! & 0x80) !== 0) {
    let v = 0;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    return v;
  }
  const s = str(b, off, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const sp = body.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = parseInt(body.subarray(pos, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = body.subarray(sp + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

export function normalizeTarPath(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

const TYPES: Record<string, ReadEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };

interface Header {
  entry: ReadEntry;
  /** Data bytes of the entry, and the same rounded up to whole blocks. */
  size: number;
  dataBlocks: number;
}

/**
 * Headers of a tar stream, in order; the caller consumes or skips each entry's data blocks.
 * With `whole`, a stream that ends without its end-of-archive block is an error, not the end.
 */
async function* headers(q: ByteQueue, whole = false): AsyncGenerator<Header> {
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await q.take(BLOCK);
    if (h === undefined && whole) throw new Error('tar: unexpected end of archive (no end-of-archive block)');
    if (h === undefined || h.every((b) => b === 0)) return;
    const flag = String.fromCharCode(h[156]!);
    let size = octal(h, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const body = (await q.take(padded))!.subarray(0, size);
      if (flag === 'x') pax = { ...pax, ...parsePax(body) };
      else if (flag === 'L') longName = str(body, 0, body.length);
      else if (flag === 'K') longLink = str(body, 0, body.length);
      continue;
    }
    const prefix = str(h, 345, 155);
    const name = longName ?? pax.path ?? (prefix === '' ? str(h, 0, 100) : `${prefix}/${str(h, 0, 100)}`);
    if (pax.size !== undefined) size = Number(pax.size);
    const entry: ReadEntry = {
      path: normalizeTarPath(name),
      type: TYPES[flag] ?? 'other',
      mode: octal(h, 100, 8) & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : octal(h, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : octal(h, 116, 8),
      mtime: octal(h, 136, 12),
      size: TYPES[flag] === 'file' ? size : 0,
      linkname: longLink ?? pax.linkpath ?? str(h, 157, 100),
    };
    if (entry.type === 'hardlink') entry.linkname = normalizeTarPath(entry.linkname);
    pax = {};
    longName = undefined;
    longLink = undefined;
    yield { entry, size, dataBlocks: Math.ceil(size / BLOCK) * BLOCK };
  }
}

function queueOf(source: AsyncIterable<Buffer> | Iterable<Buffer>): ByteQueue {
  return new ByteQueue(Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (async function* () { yield* source; })());
}

/** Entries of a tar stream (uncompressed). */
export async function* readTar(source: AsyncIterable<Buffer> | Iterable<Buffer>, want: (e: ReadEntry) => boolean = () => false): AsyncGenerator<ReadEntry> {
  const q = queueOf(source);
  for await (const { entry, size, dataBlocks } of headers(q)) {
    if (entry.type === 'file' && want(entry)) {
      entry.data = Buffer.from((await q.take(dataBlocks))!.subarray(0, size));
    } else await q.skip(dataBlocks);
    yield entry;
  }
}

/**
 * Every entry of a tar stream with its data as a stream of chunks, for members too large to
 * hold in memory (the layers of a `docker save` stream). `visit` reads as much of `data` as it
 * wants before it settles; whatever it left is skipped. Settles at the end-of-archive blocks
 * (a stream that ends before them is cut off, and rejects):
 * whatever follows them is left unread, and the caller stops the producer (a `docker save`
 * still removing its temp dir, or a writer blocked on a full pipe).
 */
export async function eachTarEntry(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  visit: (entry: ReadEntry, data: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const q = queueOf(source);
  for await (const { entry, size, dataBlocks } of headers(q, true)) {
    let left = size;
    const data = (async function* () {
      while (left > 0) {
        const chunk = await q.takeSome(Math.min(left, 1 << 20));
        if (chunk === undefined) throw new Error('tar: unexpected end of archive');
        left -= chunk.length;
        yield chunk;
      }
    })();
    await visit(entry, data);
    await q.skip(left + (dataBlocks - size));
  }
}

/** Open a layer blob (gzip or plain tar, detected by magic) as a stream of tar bytes. */
export async function openLayer(path: string): Promise<Readable> {
  const fh = createReadStream(path, { start: 0, end: 1 });
  let magic = Buffer.alloc(0);
  for await (const c of fh) magic = Buffer.concat([magic, c as Buffer]);
  const raw = createReadStream(path);
  return magic[0] === 0x1f && magic[1] === 0x8b ? chain(raw, createGunzip()) : raw;
}
