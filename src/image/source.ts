// The two interfaces every transport implements (after go-containerregistry's small Image/Layer
// interfaces with many sources and sinks): a source hands out manifests and re-openable blob
// streams, a sink takes them. The copy engine (copy.ts) only knows these.

import type { Readable } from 'node:stream';
import type { Digest } from '../model/reference.ts';
import type { Descriptor, RawManifest } from './descriptor.ts';

/** Opens a fresh stream of a blob's bytes: called again for every retry. */
export type BlobOpener = () => Readable;

/** Where blobs live inside a registry: a sink on the same registry can mount from there. */
export interface BlobOrigin {
  registry: string;
  repository: string;
}

/**
 * The compressed blob a destination already holds for an uncompressed layer (by its diffID),
 * from the digest cache and a HEAD; undefined when it must be compressed and sent.
 */
export type KnownLayer = (diffId: Digest, mediaType: string) => Promise<Descriptor | undefined>;

export interface ImageSource {
  readonly name: string;
  /**
   * Blobs the source gzipped itself while reading (a `docker save` stream), compressed digest →
   * diffID: the copy engine counts them as compressed and remembers them in the digest cache.
   */
  readonly gzipped?: ReadonlyMap<Digest, Digest>;
  /**
   * Compressed digest → diffID for layers the source read already compressed and checked (a
   * containerd-store `docker save`): remembered in the digest cache, counted as uploaded.
   */
  readonly diffIds?: ReadonlyMap<Digest, Digest>;
  /** Told before manifest() which layers need no compression: a compressing source skips them. */
  useKnownLayers?(known: KnownLayer): void;
  /**
   * Told before manifest() where to hand blobs that are complete before the manifest is: a
   * source that reads one long stream (`docker save`) announces each compressed layer as soon
   * as it is spooled, so its upload overlaps the rest of the stream.
   */
  onBlobReady?(ready: (desc: Descriptor) => void): void;
  readonly origin?: BlobOrigin;
  /** Where one blob lives, when a source assembles blobs from several places (a native build's base layers). */
  originOf?(desc: Descriptor): BlobOrigin | undefined;
  /** The top-level manifest or index, digest verified. */
  manifest(): Promise<RawManifest>;
  /** A manifest an index points to, digest verified. */
  manifestByDigest(desc: Descriptor): Promise<RawManifest>;
  /** A blob's bytes exactly as the descriptor says; the stream fails if they do not match. */
  blob(desc: Descriptor): BlobOpener;
  /**
   * The same bytes without the client-side check, for a sink that verifies digests itself
   * (a registry checks every blob it commits against `?digest=`): hashing twice costs a core.
   */
  unverifiedBlob?(desc: Descriptor): BlobOpener;
  close(): Promise<void>;
}

export type BlobOutcome = 'uploaded' | 'mounted';

export interface ImageSink {
  readonly name: string;
  /** Key for the digest cache: the same registry (or directory) gives the same key. */
  readonly cacheKey: string;
  /** The sink rejects a blob whose bytes do not match its digest (registries do, on commit). */
  readonly verifiesDigests?: boolean;
  hasBlob(desc: Descriptor): Promise<boolean>;
  /** Stores a blob whose digest and size are known (the sink verifies them). */
  putBlob(desc: Descriptor, open: BlobOpener, from?: BlobOrigin): Promise<BlobOutcome>;
  /** Stores bytes whose digest is learnt while they stream (compression on the fly). */
  putStream(open: BlobOpener): Promise<{ digest: Digest; size: number }>;
  /** Stores a manifest, under `tag` when given; 'unchanged' when the tag already held it. */
  putManifest(manifest: RawManifest, tag?: string): Promise<'pushed' | 'unchanged'>;
  close(): Promise<void>;
}
