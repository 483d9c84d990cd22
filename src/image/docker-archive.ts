// `docker save` archives (moby image/spec/v1.2 "Combined Image JSON + Filesystem Changeset"
// and the OCI-layout flavour of Docker ≥ 25): manifest.json lists Config and Layers by path.
// Layers are uncompressed tars whose digests are the config's rootfs.diff_ids; the source
// describes them as uncompressed so the copy engine gzips them on the way to a registry.
// A containerd-image-store save (Docker 29's default) holds them gzipped already, named
// `blobs/sha256/<compressed digest>`: those are described as the gzip blobs they are and
// copied untouched (their bytes verified against that name).

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { HoistError } from '../errors.ts';
import { type Descriptor, MEDIA, rawManifest, sha256Digest } from './descriptor.ts';
import { verifyingStream } from './digest-stream.ts';
import type { ImageSource } from './source.ts';
import { chain, FILE_READ_CHUNK } from './streams.ts';
import { type TarMember, indexTar, member } from './tar-index.ts';
import type { Digest } from '../model/reference.ts';

/** Docker's name for an uncompressed layer; never leaves hoist (it is gzipped first). */
export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

export interface ArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function readMember(file: string, m: TarMember): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(m.size);
    await fh.read(buf, 0, m.size, m.offset);
    return buf;
  } finally {
    await fh.close();
  }
}

export function pickImage(entries: ArchiveEntry[], file: string, name?: string): ArchiveEntry {
  const hit = name === undefined ? entries[0] : entries.find((e) => e.RepoTags?.includes(name));
  if (hit && (name !== undefined || entries.length === 1)) return hit;
  throw new HoistError(name === undefined ? `${file} holds ${entries.length} images: name one as docker-archive:${file}:NAME:TAG`
    : `${file} holds no image named ${name}`, { code: 'image.not-found', op: 'read docker archive',
    hint: `Images in the archive: ${entries.flatMap((e) => e.RepoTags ?? []).join(', ') || 'untagged'}.` });
}

export interface DockerArchiveOptions {
  /** Image in a multi-image archive (a RepoTags entry). */
  name?: string;
  /** Runs on close (e.g. removes the temporary `docker save` output). */
  onClose?: () => Promise<void>;
  label?: string;
}

export async function openDockerArchiveSource(file: string, opts: DockerArchiveOptions = {}): Promise<ImageSource> {
  const index = await indexTar(file);
  const entries = JSON.parse((await readMember(file, member(index, 'manifest.json', file))).toString('utf8')) as ArchiveEntry[];
  const entry = pickImage(entries, file, opts.name);
  const configBytes = await readMember(file, member(index, entry.Config, file));
  const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== entry.Layers.length) {
    throw new HoistError(`${file}: ${entry.Layers.length} layers but ${diffIds.length} diff_ids in the config`, { code: 'image.archive-invalid', op: 'read docker archive' });
  }
  const locations = new Map<string, TarMember>();
  const layers: Descriptor[] = await Promise.all(entry.Layers.map(async (path, i) => {
    const m = member(index, path, file);
    const named = BLOB_NAME.exec(path);
    const gzipped = named !== null && m.size >= 2 && isGzip(await readMember(file, { ...m, size: 2 }));
    const digest = (gzipped ? `sha256:${named[1]}` : diffIds[i]) as Digest;
    locations.set(digest, m);
    return { mediaType: gzipped ? MEDIA.dockerLayerGzip : DOCKER_LAYER_TAR, digest, size: m.size };
  }));
  const configDesc: Descriptor = { mediaType: MEDIA.dockerConfig, digest: sha256Digest(configBytes), size: configBytes.length };
  const manifest = rawManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: configDesc, layers })), MEDIA.dockerManifest);
  return {
    name: opts.label ?? `docker-archive:${file}`,
    manifest: async () => manifest,
    manifestByDigest: async () => manifest,
    blob: (desc) => () => {
      if (desc.digest === configDesc.digest) return chain(bufferStream(configBytes), verifyingStream(desc.digest, desc.size));
      const m = locations.get(desc.digest)!;
      const stream = m.size === 0 ? bufferStream(Buffer.alloc(0)) : createReadStream(file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: FILE_READ_CHUNK });
      return chain(stream, verifyingStream(desc.digest, desc.size));
    },
    close: async () => opts.onClose?.(),
  };
}

/**
 * A blob of Docker ≥ 25's OCI-flavoured save: named by its diffID when the layer is an
 * uncompressed tar, by its compressed digest when the containerd store kept it gzipped.
 */
export const BLOB_NAME = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** RFC 1952 §2.3.1: ID1 ID2. A tar starts with a file name, never with 0x1f 0x8b. */
export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

function bufferStream(bytes: Buffer) {
  return Readable.from([bytes]);
}
