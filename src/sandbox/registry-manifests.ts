// Manifests and tags over the registry API, stored through images.ts so the ECR API sees the
// same images: PUT by tag or digest (ECR's 4 MiB limit, references verified, TAG_INVALID on
// an immutable tag even for the same digest), GET/HEAD serve the stored bytes and media type,
// DELETE by digest deletes the image and by tag untags it (ECR), tags/list pages like ECR.

import type { IncomingMessage } from 'node:http';
import {
  ImageReferenced, MAX_MANIFEST_BYTES, ManifestInvalid, ReferencesMissing, TagImmutable, deleteManifest,
  putManifest, resolveReference, untag,
} from './images.ts';
import { authorizeRepository } from './registry-auth.ts';
import { RegistryError, errors, findRepository, page, pageParams, send, sendJson, type Exchange } from './registry-http.ts';
import { isSha256Digest, sha256 } from './store.ts';

/** Docker's tag grammar (distribution reference): 1–128 of [A-Za-z0-9_.-], not starting with . or -. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const isDigestReference = (reference: string): boolean => reference.includes(':');

/** Beyond this the connection is closed rather than the rest of an oversized manifest read. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/** Reads a manifest body; beyond ECR's 4 MiB limit, 413 MANIFEST_INVALID once the body is drained. */
function readManifest(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = (headers: Record<string, string> = {}) => new RegistryError(
    413, 'MANIFEST_INVALID', `manifest exceeds the maximum size of ${MAX_MANIFEST_BYTES} bytes`, undefined, headers,
  );
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_MANIFEST_BYTES) chunks.push(c);
      else if (size > DISCARD_LIMIT) {
        req.pause();
        reject(tooLarge({ connection: 'close' }));
      }
    });
    req.on('end', () => (size > MAX_MANIFEST_BYTES ? reject(tooLarge()) : resolve(Buffer.concat(chunks, size))));
    req.on('error', reject);
  });
}

/** The media type the client declared, when it names a manifest type; generic types defer to the document. */
function declaredMediaType(req: IncomingMessage): string | undefined {
  const raw = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (!raw || raw === 'application/json' || raw === 'application/octet-stream' || raw === 'text/plain') return undefined;
  return raw;
}

function checkReference(bytes: Buffer, reference: string): string | undefined {
  if (isDigestReference(reference)) {
    if (!isSha256Digest(reference)) throw errors.digestInvalid(`invalid digest '${reference}'`, { digest: reference });
    if (sha256(bytes) !== reference) {
      throw errors.digestInvalid('manifest digest did not match the digest in the URL', { digest: reference });
    }
    return undefined;
  }
  if (!TAG.test(reference)) throw new RegistryError(400, 'TAG_INVALID', `invalid tag '${reference}'`, { tag: reference });
  return reference;
}

export async function putManifestRoute(ex: Exchange, name: string, reference: string): Promise<void> {
  authorizeRepository(ex, 'ecr:PutImage', name);
  findRepository(ex, name);
  const bytes = await readManifest(ex.req);
  const repo = findRepository(ex, name); // again: it may have been deleted while the body arrived
  ex.bytesIn += bytes.length;
  const tag = checkReference(bytes, reference);
  const declared = declaredMediaType(ex.req);
  try {
    const { digest, info } = await putManifest(ex.ctx.world, repo, bytes, declared, tag);
    const headers: Record<string, string | number> = {
      location: `/v2/${name}/manifests/${digest}`, 'docker-content-digest': digest, 'content-length': 0,
    };
    if (info.subject) headers['oci-subject'] = info.subject;
    send(ex, 201, headers);
  } catch (err) {
    throw manifestError(err, name);
  }
}

function manifestError(err: unknown, repository: string): unknown {
  if (err instanceof ManifestInvalid) return errors.manifestInvalid(err.reason);
  if (err instanceof ReferencesMissing) {
    const what = err.isIndex ? 'manifest' : 'blob';
    return new RegistryError(400, 'MANIFEST_BLOB_UNKNOWN', `${what} unknown to registry: ${err.digests[0]}`, { digest: err.digests[0] });
  }
  if (err instanceof TagImmutable) {
    return new RegistryError(
      400, 'TAG_INVALID',
      `The image tag '${err.tag}' already exists in the '${repository}' repository and cannot be overwritten because the tag is immutable.`,
    );
  }
  return err;
}

export async function getManifest(ex: Exchange, name: string, reference: string): Promise<void> {
  authorizeRepository(ex, 'ecr:BatchGetImage', name);
  const repo = findRepository(ex, name);
  const digest = resolveReference(repo, reference);
  const image = digest === undefined ? undefined : repo.images[digest];
  if (!digest || !image) throw errors.manifestUnknown(reference);
  // ECR converts schema 2 ↔ OCI only in rare cases; it serves what was pushed.
  const bytes = await ex.ctx.world.blobs.read(digest);
  send(ex, 200, {
    'content-type': image.mediaType, 'content-length': bytes.length, 'docker-content-digest': digest, etag: `"${digest}"`,
  }, bytes);
}

export async function deleteManifestRoute(ex: Exchange, name: string, reference: string): Promise<void> {
  authorizeRepository(ex, 'ecr:BatchDeleteImage', name);
  const repo = findRepository(ex, name);
  try {
    const done = isDigestReference(reference)
      ? await deleteManifest(ex.ctx.world, repo, reference)
      : await untag(ex.ctx.world, repo, reference); // ECR untags; distribution answers UNSUPPORTED
    if (done === undefined) throw errors.manifestUnknown(reference);
  } catch (err) {
    if (err instanceof ImageReferenced) {
      throw errors.manifestInvalid(`The image ${err.digest} is referenced by the image index ${err.parents.join(', ')} in the repository`);
    }
    throw err;
  }
  send(ex, 202, { 'content-length': 0 });
}

export async function listTags(ex: Exchange, name: string): Promise<void> {
  authorizeRepository(ex, 'ecr:ListImages', name);
  const repo = findRepository(ex, name);
  const { n, last } = pageParams(ex.url);
  const p = page(Object.keys(repo.tags), `/v2/${name}/tags/list`, n, last);
  sendJson(ex, 200, { name, tags: p.items }, p.headers);
}
