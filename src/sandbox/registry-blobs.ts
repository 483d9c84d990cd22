// Blob reads: GET (with byte ranges) and HEAD. A repository sees only the blobs linked to it
// (uploaded or mounted there) or referenced by its manifests, even when the store holds
// the bytes for another repository. Blob DELETE is UNSUPPORTED, as on ECR.

import { pipeline } from 'node:stream/promises';
import { authorizeRepository } from './registry-auth.ts';
import { RegistryError, errors, findRepository, send, type Exchange } from './registry-http.ts';
import { isSha256Digest } from './store.ts';
import type { Repository } from './world.ts';

export function blobVisible(repo: Repository, digest: string): boolean {
  if (Object.hasOwn(repo.layers, digest)) return true;
  return Object.values(repo.images).some((img) => img.references.includes(digest));
}

/** The size of a blob the repository may serve, or BLOB_UNKNOWN. */
export async function visibleBlobSize(ex: Exchange, repo: Repository, digest: string): Promise<number> {
  if (!isSha256Digest(digest) || !blobVisible(repo, digest)) throw errors.blobUnknown(digest);
  const size = await ex.ctx.world.blobs.stat(digest);
  if (size === undefined) throw errors.blobUnknown(digest);
  return size;
}

type ByteRange = { start: number; end: number };

/** RFC 9110 single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); undefined = whole blob. */
function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = new RegistryError(416, 'UNSUPPORTED', 'requested range not satisfiable', undefined, {
    'content-range': `bytes */${size}`,
  });
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable;
  return { start, end };
}

export async function getBlob(ex: Exchange, name: string, digest: string): Promise<void> {
  const head = ex.req.method === 'HEAD';
  authorizeRepository(ex, head ? 'ecr:BatchCheckLayerAvailability' : 'ecr:GetDownloadUrlForLayer', name);
  const repo = findRepository(ex, name);
  const size = await visibleBlobSize(ex, repo, digest);
  const range = head ? undefined : parseRange(ex.req.headers.range, size);
  const length = range ? range.end - range.start + 1 : size;
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'content-length': length,
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
  };
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
  if (head) return send(ex, 200, headers);
  ex.res.writeHead(range ? 206 : 200, { 'docker-distribution-api-version': 'registry/2.0', ...headers });
  if (length === 0) {
    ex.res.end();
    return;
  }
  await pipeline(ex.ctx.world.blobs.stream(digest, range), ex.res);
  ex.bytesOut += length;
}

export async function deleteBlob(ex: Exchange, name: string): Promise<void> {
  authorizeRepository(ex, 'ecr:BatchDeleteImage', name);
  findRepository(ex, name);
  throw errors.unsupported('The operation is unsupported.');
}
