// Descriptors, media types and manifest documents (OCI image-spec descriptor.md, manifest.md,
// image-index.md; Docker image manifest v2 schema 2). Pure values: no I/O.

import { createHash } from 'node:crypto';
import { HoistError } from '../errors.ts';
import type { Digest } from '../model/reference.ts';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** What a registry GET of a manifest should accept: every format hoist can copy. */
export const MANIFEST_ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(', ');

/** ECR's PutImage limit (imageManifest ≤ 4,194,304 bytes), applied to every manifest we read. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A manifest or index as bytes: its digest is the digest of exactly these bytes. */
export interface RawManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export function sha256Digest(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

/** An uncompressed layer (docker save, OCI `tar`): hoist gzips it before it goes to a registry. */
export function isUncompressedLayer(mediaType: string): boolean {
  return mediaType === MEDIA.ociLayer || mediaType === 'application/vnd.docker.image.rootfs.diff.tar';
}

/** The gzip media type in the manifest's own family (Docker stays Docker, OCI stays OCI). */
export function gzipLayerType(manifestType: string): string {
  return manifestType === MEDIA.dockerManifest ? MEDIA.dockerLayerGzip : MEDIA.ociLayerGzip;
}

export function rawManifest(bytes: Buffer, mediaType: string): RawManifest {
  return { bytes, mediaType, digest: sha256Digest(bytes) };
}

/** The media type a manifest declares, else what the transport said, else OCI by shape. */
export function manifestMediaType(bytes: Buffer, transportType?: string): string {
  const doc = parseJson(bytes) as { mediaType?: string; manifests?: unknown };
  if (typeof doc.mediaType === 'string' && doc.mediaType !== '') return doc.mediaType;
  if (transportType && transportType !== 'application/json' && transportType !== 'application/octet-stream') return transportType;
  return Array.isArray(doc.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest;
}

export function parseImageManifest(bytes: Buffer): ImageManifest {
  const doc = parseJson(bytes) as Partial<ImageManifest>;
  if (doc.schemaVersion !== 2 || !doc.config || !Array.isArray(doc.layers)) {
    throw badManifest('not an image manifest (schemaVersion 2 with config and layers)');
  }
  return doc as ImageManifest;
}

export function parseImageIndex(bytes: Buffer): ImageIndex {
  const doc = parseJson(bytes) as Partial<ImageIndex>;
  if (doc.schemaVersion !== 2 || !Array.isArray(doc.manifests)) throw badManifest('not an image index (schemaVersion 2 with manifests)');
  return doc as ImageIndex;
}

function parseJson(bytes: Buffer): unknown {
  try {
    const doc: unknown = JSON.parse(bytes.toString('utf8'));
    if (doc !== null && typeof doc === 'object') return doc;
  } catch {
    // reported below
  }
  throw badManifest('not JSON');
}

function badManifest(why: string): HoistError {
  return new HoistError(`manifest is ${why}`, { code: 'image.manifest-invalid', op: 'read manifest' });
}

export function checkManifestSize(size: number, what: string): void {
  if (size <= MAX_MANIFEST_BYTES) return;
  throw new HoistError(`${what} is ${size} bytes; manifests are limited to ${MAX_MANIFEST_BYTES} bytes (4 MiB)`, {
    code: 'image.manifest-too-large', op: 'read manifest',
    hint: 'ECR refuses manifests over 4 MiB (PutImage imageManifest limit); hoist refuses to read them too.',
  });
}
