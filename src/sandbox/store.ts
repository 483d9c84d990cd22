// Content-addressed blob storage and atomic state persistence for the sandbox.
//
// Invariant (issue 2, acceptance 5): anything acknowledged to a client is on disk before the
// answer leaves, and nothing is visible that was not acknowledged. Blobs are spooled to a
// private file, hashed on the way in, verified, fsynced and only then renamed into
// `blobs/sha256/<hex>`; state.json is replaced by write-temp + fsync + rename.

import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
export { writeFileAtomic } from '../fs/atomic.ts';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** An upload in progress: bytes appended across requests, hashed as they arrive. */
export interface Spool {
  readonly id: string;
  readonly size: number;
  append(body: Readable): Promise<number>;
  /** Verifies the digest, then makes the blob visible. Throws DigestMismatch. */
  commit(expectedDigest: string): Promise<BlobInfo>;
  abort(): Promise<void>;
}

export interface BlobStore {
  stat(digest: string): Promise<number | undefined>;
  read(digest: string): Promise<Buffer>;
  stream(digest: string, range?: { start: number; end: number }): Readable;
  put(bytes: Buffer): Promise<BlobInfo>;
  spool(): Promise<Spool>;
}

export class DigestMismatch extends Error {
  constructor(readonly expected: string, readonly actual: string) {
    super(`digest mismatch: expected ${expected}, got ${actual}`);
  }
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
export function isSha256Digest(s: string): boolean {
  return DIGEST.test(s);
}

function verify(hash: Hash, expected: string): string {
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== expected) throw new DigestMismatch(expected, actual);
  return actual;
}

// ---- memory -------------------------------------------------------------------------

export function memoryBlobStore(): BlobStore {
  const blobs = new Map<string, Buffer>();
  const get = (digest: string): Buffer => {
    const b = blobs.get(digest);
    if (!b) throw new Error(`blob ${digest} not found`);
    return b;
  };
  return {
    stat: async (digest) => blobs.get(digest)?.length,
    read: async (digest) => get(digest),
    stream: (digest, range) => Readable.from([range ? get(digest).subarray(range.start, range.end + 1) : get(digest)]),
    put: async (bytes) => {
      const digest = sha256(bytes);
      blobs.set(digest, bytes);
      return { digest, size: bytes.length };
    },
    spool: async () => memorySpool(blobs),
  };
}

function memorySpool(blobs: Map<string, Buffer>): Spool {
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  let size = 0;
  return {
    id: randomUUID(),
    get size() {
      return size;
    },
    async append(body) {
      for await (const chunk of body) {
        const b = chunk as Buffer;
        chunks.push(b);
        hash.update(b);
        size += b.length;
      }
      return size;
    },
    async commit(expected) {
      const digest = verify(hash, expected);
      blobs.set(digest, Buffer.concat(chunks, size));
      return { digest, size };
    },
    async abort() {
      chunks.length = 0;
    },
  };
}

// ---- directory ----------------------------------------------------------------------

export async function dirBlobStore(dir: string): Promise<BlobStore> {
  const blobsDir = join(dir, 'blobs', 'sha256');
  const uploadsDir = join(dir, 'uploads');
  await mkdir(blobsDir, { recursive: true });
  // Partial uploads never survive a restart: they were never acknowledged.
  await rm(uploadsDir, { recursive: true, force: true });
  await mkdir(uploadsDir, { recursive: true });
  const pathOf = (digest: string): string => {
    if (!isSha256Digest(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    return join(blobsDir, digest.slice('sha256:'.length));
  };
  const store: BlobStore = {
    async stat(digest) {
      if (!isSha256Digest(digest)) return undefined;
      return stat(pathOf(digest)).then((s) => s.size, () => undefined);
    },
    read: (digest) => readFile(pathOf(digest)),
    stream: (digest, range) => createReadStream(pathOf(digest), range ? { start: range.start, end: range.end } : {}),
    async put(bytes) {
      const spool = await store.spool();
      await spool.append(Readable.from([bytes]));
      return spool.commit(sha256(bytes));
    },
    spool: async () => dirSpool(uploadsDir, pathOf),
  };
  return store;
}

function dirSpool(uploadsDir: string, pathOf: (d: string) => string): Spool {
  const id = randomUUID();
  const file = join(uploadsDir, id);
  const hash = createHash('sha256');
  let size = 0;
  return {
    id,
    get size() {
      return size;
    },
    async append(body) {
      const counter = async function* (src: AsyncIterable<Buffer>) {
        for await (const chunk of src) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      };
      await pipeline(body, counter, createWriteStream(file, { flags: 'a' }));
      return size;
    },
    async commit(expected) {
      const digest = verify(hash, expected);
      await touch(file);
      await fsyncFile(file);
      await rename(file, pathOf(digest));
      return { digest, size };
    },
    abort: () => rm(file, { force: true }),
  };
}

async function touch(file: string): Promise<void> {
  // A zero-length blob never had an append that created the file.
  const fh = await open(file, 'a');
  await fh.close();
}

async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
