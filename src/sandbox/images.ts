// Images in a sandbox repository, shared by the ECR API (ecr-images.ts) and the registry
// (registry.ts) so both see and enforce the same thing: manifests are blobs in the BlobStore,
// `repo.images` records them by digest, `repo.tags` points tags at them. No HTTP here, and no
// AWS error codes: callers map these error classes to their own protocol.

import type { World } from './state.ts';
import { isSha256Digest, sha256, type BlobStore } from './store.ts';
import type { ImageRecord, Repository } from './world.ts';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const MANIFESTS: ReadonlySet<string> = new Set([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]);
const INDEXES: ReadonlySet<string> = new Set([MEDIA_TYPES.dockerList, MEDIA_TYPES.ociIndex]);
/** Layers a registry need not hold (Docker foreign layers, OCI non-distributable layers). */
const FOREIGN = /^application\/vnd\.(docker\.image\.rootfs\.foreign\.|oci\.image\.layer\.nondistributable\.)/;

/** ECR's PutImage limit on `imageManifest` (API Reference: maximum length 4,194,304). */
export const MAX_MANIFEST_BYTES = 4_194_304;

export const isIndexMediaType = (mediaType: string): boolean => INDEXES.has(mediaType);
export const isManifestMediaType = (mediaType: string): boolean => MANIFESTS.has(mediaType) || INDEXES.has(mediaType);

/** The manifest is not one ECR would store; `reason` says why, for the caller's error. */
export class ManifestInvalid extends Error {
  constructor(readonly reason: string) {
    super(`manifest invalid: ${reason}`);
    this.name = 'ManifestInvalid';
  }
}

/** Blobs (for a manifest) or images (for an index) that the repository does not hold. */
export class ReferencesMissing extends Error {
  constructor(readonly digests: string[], readonly isIndex: boolean) {
    super(`${isIndex ? 'referenced images' : 'blobs'} not found: ${digests.join(', ')}`);
    this.name = 'ReferencesMissing';
  }
}

/** ECR's tag immutability: an existing tag is never moved, even to the same digest (registry TAG_INVALID). */
export class TagImmutable extends Error {
  constructor(readonly tag: string, readonly existingDigest: string) {
    super(`tag ${tag} is immutable and already points to ${existingDigest}`);
    this.name = 'TagImmutable';
  }
}

/** The image is a child of an index in the same repository, so it cannot be deleted alone. */
export class ImageReferenced extends Error {
  constructor(readonly digest: string, readonly parents: string[]) {
    super(`image ${digest} is referenced by ${parents.join(', ')}`);
    this.name = 'ImageReferenced';
  }
}

export interface ManifestInfo {
  mediaType: string;
  isIndex: boolean;
  /** Config + layer digests (manifest) or child manifest digests (index), without duplicates. */
  references: string[];
  /** Declared size of every referenced digest. */
  layerSizes: Record<string, number>;
  /** Sum of the layer sizes (config excluded): ECR's imageSizeInBytes for a manifest. */
  imageSize: number;
  /** Referenced digests a registry need not hold (foreign / non-distributable layers). */
  foreign: string[];
  /** Config media type or OCI 1.1 artifactType: ECR's artifactMediaType. */
  artifactMediaType?: string;
  /** OCI 1.1 `subject` digest (referrers). */
  subject?: string;
  /** Media type of every referenced digest, as the manifest declares it. */
  mediaTypes: Record<string, string>;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: unknown;
}

function descriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw new ManifestInvalid(`${where} is not a descriptor`);
  const d = value as Record<string, unknown>;
  if (typeof d.digest !== 'string' || !isSha256Digest(d.digest)) throw new ManifestInvalid(`${where}.digest is not a sha256 digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new ManifestInvalid(`${where}.size is not a size`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new ManifestInvalid(`${where}.mediaType is missing`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, urls: d.urls };
}

function parseJson(bytes: Buffer): Record<string, unknown> {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestInvalid(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestInvalid('Invalid JSON syntax');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestInvalid('not a JSON object');
  return value as Record<string, unknown>;
}

function resolveMediaType(doc: Record<string, unknown>, declared: string | undefined): string {
  const inDoc = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (inDoc && declared && inDoc !== declared) {
    throw new ManifestInvalid(`media type ${declared} does not match the manifest's mediaType ${inDoc}`);
  }
  const mediaType = inDoc ?? declared;
  if (!mediaType) throw new ManifestInvalid('no mediaType in the manifest and none declared');
  if (!isManifestMediaType(mediaType)) throw new ManifestInvalid(`unsupported manifest media type ${mediaType}`);
  if (doc.schemaVersion !== 2) throw new ManifestInvalid('schemaVersion must be 2');
  return mediaType;
}

/** Parses and validates a manifest or index. Throws ManifestInvalid. */
export function manifestInfo(bytes: Buffer, declaredMediaType?: string): ManifestInfo {
  const doc = parseJson(bytes);
  const mediaType = resolveMediaType(doc, declaredMediaType);
  const isIndex = INDEXES.has(mediaType);
  const descriptors: Descriptor[] = [];
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new ManifestInvalid('manifests is not an array');
    doc.manifests.forEach((m, i) => {
      const d = descriptor(m, `manifests[${i}]`);
      // ECR rejects an index whose manifests[] are not manifests (e.g. a BuildKit cache without image-manifest=true).
      if (!isManifestMediaType(d.mediaType)) throw new ManifestInvalid(`manifests[${i}] is a ${d.mediaType}, not a manifest`);
      descriptors.push(d);
    });
  } else {
    descriptors.push(descriptor(doc.config, 'config'));
    if (!Array.isArray(doc.layers)) throw new ManifestInvalid('layers is not an array');
    doc.layers.forEach((l, i) => descriptors.push(descriptor(l, `layers[${i}]`)));
  }
  const info: ManifestInfo = {
    mediaType, isIndex, references: [], layerSizes: {}, imageSize: 0, foreign: [], mediaTypes: {},
  };
  descriptors.forEach((d, i) => {
    if (!(d.digest in info.layerSizes)) info.references.push(d.digest);
    info.layerSizes[d.digest] = d.size;
    info.mediaTypes[d.digest] = d.mediaType;
    if (!isIndex && i > 0) info.imageSize += d.size;
    if (FOREIGN.test(d.mediaType)) info.foreign.push(d.digest);
  });
  if (!isIndex) info.artifactMediaType = typeof doc.artifactType === 'string' ? doc.artifactType : descriptors[0]!.mediaType;
  if (doc.subject !== undefined) info.subject = descriptor(doc.subject, 'subject').digest;
  return info;
}

/**
 * What the repository lacks for this manifest: blobs linked to it (and present in the store)
 * for a manifest, images in it for an index. Foreign layers are never required.
 */
export async function missingReferences(repo: Repository, info: ManifestInfo, blobs: BlobStore): Promise<string[]> {
  const missing: string[] = [];
  for (const digest of info.references) {
    if (info.foreign.includes(digest)) continue;
    const present = info.isIndex
      ? repo.images[digest] !== undefined
      : repo.layers[digest] !== undefined && (await blobs.stat(digest)) !== undefined;
    if (!present) missing.push(digest);
  }
  return missing;
}

/** ECR's imageSizeInBytes: layer sizes for a manifest, the children's sizes for an index. */
export function imageSize(repo: Repository, info: ManifestInfo): number {
  if (!info.isIndex) return info.imageSize;
  return info.references.reduce((sum, d) => sum + (repo.images[d]?.imageSize ?? 0), 0);
}

/** The digest a tag or digest reference names in this repository, if any. */
export function resolveReference(repo: Repository, reference: string): string | undefined {
  if (reference.startsWith('sha256:')) return repo.images[reference] ? reference : undefined;
  return repo.tags[reference];
}

/** Tags pointing at a digest, sorted. */
export function tagsOf(repo: Repository, digest: string): string[] {
  return Object.entries(repo.tags).filter(([, d]) => d === digest).map(([t]) => t).sort();
}

/** Indexes in the repository that list this digest as a child. */
export function parentsOf(repo: Repository, digest: string): string[] {
  return Object.values(repo.images)
    .filter((img) => isIndexMediaType(img.mediaType) && img.references.includes(digest))
    .map((img) => img.digest);
}

export interface PutResult {
  digest: string;
  /** A new image record was made (false: the digest was already in the repository). */
  created: boolean;
  info: ManifestInfo;
}

/**
 * Stores a manifest in the repository and tags it, with ECR's rules: the manifest must be
 * valid (ManifestInvalid), everything it references present (ReferencesMissing), and on an
 * IMMUTABLE repository an existing tag is never re-pointed, even to the same digest
 * (TagImmutable). Persists (world.commit) before returning.
 */
export async function putManifest(
  world: World, repo: Repository, bytes: Buffer, mediaType: string | undefined, tag?: string,
): Promise<PutResult> {
  const info = manifestInfo(bytes, mediaType);
  const missing = await missingReferences(repo, info, world.blobs);
  if (missing.length) throw new ReferencesMissing(missing, info.isIndex);
  const digest = sha256(bytes);
  const existingTagDigest = tag === undefined ? undefined : repo.tags[tag];
  if (tag !== undefined && existingTagDigest !== undefined && repo.tagMutability === 'IMMUTABLE') {
    throw new TagImmutable(tag, existingTagDigest);
  }
  await world.blobs.put(bytes);
  const created = repo.images[digest] === undefined;
  if (created) {
    const record: ImageRecord = {
      digest, mediaType: info.mediaType, manifestSize: bytes.length, imageSize: imageSize(repo, info),
      pushedAt: world.now(), references: info.references,
    };
    repo.images[digest] = record;
  }
  if (tag !== undefined) repo.tags[tag] = digest;
  await world.commit();
  return { digest, created, info };
}

/**
 * Deletes an image and every tag pointing at it; returns the removed tags. Throws
 * ImageReferenced when an index in the repository lists it. Layers stay linked (ECR
 * garbage-collects unreferenced layers later). Persists before returning.
 */
export async function deleteManifest(world: World, repo: Repository, digest: string): Promise<string[] | undefined> {
  if (!repo.images[digest]) return undefined;
  const parents = parentsOf(repo, digest).filter((p) => p !== digest);
  if (parents.length) throw new ImageReferenced(digest, parents);
  const tags = tagsOf(repo, digest);
  for (const t of tags) delete repo.tags[t];
  delete repo.images[digest];
  await world.commit();
  return tags;
}

export interface UntagResult {
  digest: string;
  /** ECR: removing an image's last tag deletes the image. */
  imageDeleted: boolean;
}

/**
 * Removes a tag (ECR BatchDeleteImage by tag): when it was the image's last tag the image is
 * deleted too (ImageReferenced if an index still lists it). Persists before returning.
 */
export async function untag(world: World, repo: Repository, tag: string): Promise<UntagResult | undefined> {
  const digest = repo.tags[tag];
  if (digest === undefined) return undefined;
  const last = tagsOf(repo, digest).length === 1;
  if (last) {
    await deleteManifest(world, repo, digest);
    return { digest, imageDeleted: true };
  }
  delete repo.tags[tag];
  await world.commit();
  return { digest, imageDeleted: false };
}

/** Reads and parses a stored image's manifest (for artifact media types and layer media types). */
export async function storedManifestInfo(blobs: BlobStore, image: ImageRecord): Promise<ManifestInfo | undefined> {
  try {
    return manifestInfo(await blobs.read(image.digest), image.mediaType);
  } catch {
    return undefined;
  }
}
