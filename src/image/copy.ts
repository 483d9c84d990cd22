// The copy engine: any ImageSource to any ImageSink. Blobs go concurrently (5 in flight by
// default, registry-performance.md §D1), each HEADed first (§D2); blobs already compressed are
// copied as they are (§D7), uncompressed layers (docker save) are gzipped on the fly and
// hashed while they stream (§D4, §D8); manifests go last, children of an index before it.

import type { Digest } from '../model/reference.ts';
import {
  type Descriptor, type RawManifest, gzipLayerType, isIndexType, isUncompressedLayer, parseImageIndex, parseImageManifest, rawManifest,
} from './descriptor.ts';
import type { DigestCache } from './digest-cache.ts';
import { type Limit, limit } from './limit.ts';
import type { GzipEngine } from './pgzip.ts';
import type { ImageSink, ImageSource } from './source.ts';
import { DEFAULT_COMPRESSION_LEVEL, gzipOpener } from './streams.ts';

export interface CopyOptions {
  /** Blob transfers in flight (default 5). */
  jobs?: number;
  /** gzip level for layers that must be compressed (default 1). */
  compressionLevel?: number;
  /** Who compresses those layers (default: Node's zlib, pgzip.ts). */
  gzip?: GzipEngine;
  /** Tag to store the top manifest under at the sink. */
  tag?: string;
  cache?: DigestCache;
  onBlob?: (event: BlobEvent) => void;
}

export interface BlobEvent {
  digest: Digest;
  size: number;
  outcome: 'present' | 'uploaded' | 'mounted' | 'compressed';
}

export interface CopyStats {
  present: number;
  uploaded: number;
  mounted: number;
  compressed: number;
  bytes: number;
}

export interface CopyResult {
  digest: Digest;
  mediaType: string;
  /** The stored manifest's length in bytes. */
  size: number;
  manifest: 'pushed' | 'unchanged';
  stats: CopyStats;
}

interface Run {
  /** Blobs the source announced before its manifest, already on their way (digest → result). */
  early: Map<Digest, Promise<Descriptor>>;
  /** Blobs a HEAD already found at the sink during this copy: not asked about again. */
  seen: Set<Digest>;
  src: ImageSource;
  dst: ImageSink;
  limit: Limit;
  level: number;
  opts: CopyOptions;
  stats: CopyStats;
}

export async function copyImage(src: ImageSource, dst: ImageSink, opts: CopyOptions = {}): Promise<CopyResult> {
  const run: Run = {
    early: new Map(), seen: new Set(), src, dst, opts, limit: limit(opts.jobs ?? 5), level: opts.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
    stats: { present: 0, uploaded: 0, mounted: 0, compressed: 0, bytes: 0 },
  };
  src.useKnownLayers?.((diffId, mediaType) => knownAtSink(run, diffId, mediaType));
  src.onBlobReady?.((desc) => startEarly(run, desc));
  try {
    const top = await src.manifest();
    const copied = isIndexType(top.mediaType) ? await copyIndex(run, top) : await copyManifestBlobs(run, top);
    const manifest = await dst.putManifest(copied, opts.tag);
    await opts.cache?.save();
    return { digest: copied.digest, mediaType: copied.mediaType, size: copied.bytes.length, manifest, stats: run.stats };
  } finally {
    // A copy that failed (the save broke after some layers went ahead) returns only once
    // nothing it started is still sending.
    await Promise.allSettled(run.early.values());
  }
}

/** Upload a blob the source finished early; the manifest's turn for it then only awaits this. */
function startEarly(run: Run, desc: Descriptor): void {
  if (run.early.has(desc.digest)) return;
  const p = run.limit(() => copyBlob(run, desc, ''));
  // Awaited when the manifest lists it; until then a failure must not surface as unhandled.
  p.catch(() => {});
  run.early.set(desc.digest, p);
}

/** Every child image first (each stored by digest), then the index, rewritten if a child changed. */
async function copyIndex(run: Run, top: RawManifest): Promise<RawManifest> {
  const index = parseImageIndex(top.bytes);
  let changed = false;
  const manifests = await Promise.all(index.manifests.map(async (desc) => {
    const child = await run.src.manifestByDigest(desc);
    const copied = isIndexType(child.mediaType) ? await copyIndex(run, child) : await copyManifestBlobs(run, child);
    await run.dst.putManifest(copied);
    if (copied.digest === desc.digest) return desc;
    changed = true;
    return { ...desc, digest: copied.digest, size: copied.bytes.length };
  }));
  return changed ? rawManifest(Buffer.from(JSON.stringify({ ...index, manifests })), top.mediaType) : top;
}

/** Config and layers, then the manifest bytes to store: the same bytes unless a layer was gzipped. */
async function copyManifestBlobs(run: Run, m: RawManifest): Promise<RawManifest> {
  const doc = parseImageManifest(m.bytes);
  const [, ...layers] = await Promise.all([doc.config, ...doc.layers].map((d) => run.early.get(d.digest) ?? run.limit(() => copyBlob(run, d, m.mediaType))));
  if (layers.every((l, i) => l === doc.layers[i])) return m;
  return rawManifest(Buffer.from(JSON.stringify({ ...doc, layers })), m.mediaType);
}

async function copyBlob(run: Run, desc: Descriptor, manifestType: string): Promise<Descriptor> {
  if (isUncompressedLayer(desc.mediaType)) return compressLayer(run, desc, manifestType);
  if (run.seen.has(desc.digest) || await run.dst.hasBlob(desc)) return count(run, desc, 'present');
  const open = run.dst.verifiesDigests && run.src.unverifiedBlob ? run.src.unverifiedBlob(desc) : run.src.blob(desc);
  const outcome = await run.dst.putBlob(desc, open, run.src.originOf?.(desc) ?? run.src.origin);
  const compressed = run.src.gzipped?.get(desc.digest);
  const diffId = compressed ?? run.src.diffIds?.get(desc.digest);
  if (diffId !== undefined) run.opts.cache?.set(run.dst.cacheKey, diffId, { digest: desc.digest, size: desc.size });
  return count(run, desc, compressed === undefined ? outcome : 'compressed');
}

/** The compressed blob the sink holds for an uncompressed layer, by the digest cache and a HEAD. */
async function knownAtSink(run: Run, diffId: Digest, mediaType: string): Promise<Descriptor | undefined> {
  const cached = run.opts.cache?.get(run.dst.cacheKey, diffId);
  if (!cached) return undefined;
  const out = { mediaType, digest: cached.digest, size: cached.size };
  if (!(await run.dst.hasBlob(out))) return undefined;
  run.seen.add(out.digest);
  return out;
}

/** gzip on the fly; with a cache hit that the sink still holds, nothing is read at all. */
async function compressLayer(run: Run, desc: Descriptor, manifestType: string): Promise<Descriptor> {
  const mediaType = gzipLayerType(manifestType);
  const known = await knownAtSink(run, desc.digest, mediaType);
  if (known) return count(run, known, 'present');
  const blob = await run.dst.putStream(gzipOpener(run.src.blob(desc), run.level, run.opts.gzip));
  run.opts.cache?.set(run.dst.cacheKey, desc.digest, blob);
  return count(run, { mediaType, ...blob }, 'compressed');
}

function count(run: Run, desc: Descriptor, outcome: BlobEvent['outcome']): Descriptor {
  run.stats[outcome]++;
  if (outcome !== 'present') run.stats.bytes += desc.size;
  run.opts.onBlob?.({ digest: desc.digest, size: desc.size, outcome });
  return desc;
}
