// Layer builder: tar stream → gzip → file, with the diffID (sha256 of the tar) and the digest
// (sha256 of the gzip) computed on the fly. Streams end to end: memory does not grow with the
// layer's size.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ParallelGzip } from './pgzip.ts';
import { tarStream, type TarEntry, type TarOptions } from './tar.ts';

export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface LayerInfo {
  /** `sha256:` of the gzip blob. */
  digest: string;
  /** `sha256:` of the uncompressed tar. */
  diffId: string;
  /** Bytes of the gzip blob. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  mediaType: string;
  /** Where the blob was written. */
  path: string;
}

export interface LayerOptions extends TarOptions {
  /** zlib level, default 1 (fast; DESIGN §5). */
  level?: number;
}

/** A pass-through that hashes and counts what flows through it. */
export class Digester extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** gzip already-made tar bytes (an iterable of chunks) into `path`. */
export async function writeGzipLayer(tar: AsyncIterable<Buffer>, path: string, level = 1): Promise<LayerInfo> {
  const diff = new Digester();
  const blob = new Digester();
  // gzip header: mtime 0, no file name, OS byte fixed by zlib → same bytes for the same input.
  // Parallel gzip members: both cores compress one big COPY layer (pgzip.ts).
  await pipeline(Readable.from(tar), diff, new ParallelGzip(level), blob, createWriteStream(path));
  return { digest: blob.digest(), diffId: diff.digest(), size: blob.bytes, tarSize: diff.bytes, mediaType: OCI_LAYER_GZIP, path };
}

/** Write `entries` (in the given order) as a gzip layer blob at `path`. */
export function writeLayer(entries: Iterable<TarEntry>, path: string, opts: LayerOptions): Promise<LayerInfo> {
  return writeGzipLayer(tarStream(entries, opts), path, opts.level ?? 1);
}
