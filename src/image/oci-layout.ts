// OCI image layout (image-spec image-layout.md): `oci-layout`, `index.json`, and
// `blobs/<alg>/<hex>`. A tag is the `org.opencontainers.image.ref.name` annotation of an
// index.json entry, as skopeo's `oci:DIR:TAG` reads and writes it.

import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HoistError } from '../errors.ts';
import type { Digest } from '../model/reference.ts';
import { type Descriptor, type ImageIndex, MEDIA, type RawManifest, checkManifestSize, manifestMediaType } from './descriptor.ts';
import { HashingStream, verifyingStream } from './digest-stream.ts';
import type { BlobOpener, BlobOutcome, ImageSink, ImageSource } from './source.ts';
import { chain, FILE_READ_CHUNK } from './streams.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';

function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(dir, 'blobs', alg!, hex!);
}

async function readIndex(dir: string): Promise<ImageIndex> {
  let text: string;
  try {
    text = await readFile(join(dir, 'index.json'), 'utf8');
  } catch (err) {
    throw new HoistError(`${dir} is not an OCI image layout: no index.json`, {
      code: 'image.layout-invalid', op: 'read OCI layout', cause: err,
      hint: 'Give the directory that holds oci-layout and index.json (skopeo\'s oci:DIR).',
    });
  }
  const index = JSON.parse(text) as ImageIndex;
  return { ...index, manifests: index.manifests ?? [] };
}

function pickEntry(index: ImageIndex, dir: string, tag: string | undefined): Descriptor {
  const tagged = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== undefined);
  const hit = tag === undefined ? (index.manifests.length === 1 ? index.manifests[0] : undefined)
    : index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (hit) return hit;
  const names = tagged.map((m) => m.annotations![REF_NAME]).join(', ') || 'none';
  throw new HoistError(tag === undefined ? `${dir} holds ${index.manifests.length} images: name one as oci:${dir}:TAG`
    : `${dir} has no image tagged ${tag}`, { code: 'image.not-found', op: 'read OCI layout', hint: `Tags in the layout: ${names}.` });
}

async function readManifestBlob(dir: string, desc: Descriptor): Promise<RawManifest> {
  checkManifestSize(desc.size, `manifest ${desc.digest}`);
  const bytes = await readFile(blobPath(dir, desc.digest));
  checkManifestSize(bytes.length, `manifest ${desc.digest}`);
  const raw = { bytes, mediaType: manifestMediaType(bytes, desc.mediaType), digest: desc.digest };
  await pipeline(async function* () { yield bytes; }, verifyingStream(desc.digest, desc.size));
  return raw;
}

export async function openOciLayoutSource(dir: string, tag?: string): Promise<ImageSource> {
  const entry = pickEntry(await readIndex(dir), dir, tag);
  return {
    name: `oci:${dir}${tag ? `:${tag}` : ''}`,
    manifest: () => readManifestBlob(dir, entry),
    manifestByDigest: (desc) => readManifestBlob(dir, desc),
    blob: (desc) => () => chain(createReadStream(blobPath(dir, desc.digest), { highWaterMark: FILE_READ_CHUNK }), verifyingStream(desc.digest, desc.size)),
    unverifiedBlob: (desc) => () => createReadStream(blobPath(dir, desc.digest), { highWaterMark: FILE_READ_CHUNK }),
    close: async () => {},
  };
}

/** Writes `stream` through `check` into a temp file, then renames it into place. */
async function writeBlobFile(dir: string, stream: Readable, check: Transform, digestOf: () => Digest): Promise<Digest> {
  const tmp = join(dir, 'blobs', `.tmp-${randomUUID()}`);
  try {
    await pipeline(stream, check, createWriteStream(tmp));
    const digest = digestOf();
    await mkdir(join(dir, 'blobs', digest.split(':')[0]!), { recursive: true });
    await rename(tmp, blobPath(dir, digest));
    return digest;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function openOciLayoutSink(dir: string, tag?: string): Promise<ImageSink> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  // Atomic, like every file here: a full disk must not leave an existing layout with a truncated marker.
  await writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const hasBlob = async (desc: Descriptor) => (await stat(blobPath(dir, desc.digest)).catch(() => undefined))?.size === desc.size;
  return {
    name: `oci:${dir}${tag ? `:${tag}` : ''}`,
    cacheKey: `oci:${dir}`,
    hasBlob,
    putBlob: async (desc: Descriptor, open: BlobOpener): Promise<BlobOutcome> => {
      await writeBlobFile(dir, open(), verifyingStream(desc.digest, desc.size), () => desc.digest);
      return 'uploaded';
    },
    putStream: async (open) => {
      const hashing = new HashingStream();
      const digest = await writeBlobFile(dir, open(), hashing, () => hashing.digest());
      return { digest, size: hashing.size };
    },
    putManifest: (m, t) => putLayoutManifest(dir, m, t ?? tag),
    close: async () => {},
  };
}

async function putLayoutManifest(dir: string, m: RawManifest, tag: string | undefined): Promise<'pushed' | 'unchanged'> {
  // Never a half-written blob under its digest's name (a full disk mid-write), as for layers.
  await writeFileAtomic(blobPath(dir, m.digest), m.bytes);
  if (tag === undefined) return 'pushed';
  const index = await readIndex(dir).catch(() => ({ schemaVersion: 2 as const, mediaType: MEDIA.ociIndex, manifests: [] as Descriptor[] }));
  const same = index.manifests.find((e) => e.annotations?.[REF_NAME] === tag && e.digest === m.digest);
  if (same) return 'unchanged';
  const manifests = index.manifests.filter((e) => e.annotations?.[REF_NAME] !== tag);
  manifests.push({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, annotations: { [REF_NAME]: tag } });
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  return 'pushed';
}
