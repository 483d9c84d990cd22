// `hoist copy SRC DST`: any transport to any writable one through hoist's own registry
// client (DESIGN §5 fast path: HEAD first, 5 in flight, mount on the same registry, no
// recompression of compressed blobs, gzip-1 on the fly for docker save layers, a digest cache).

import { join } from 'node:path';

import type { Runner } from '../exec/index.ts';
import type { RetryOptions } from '../registry/transport.ts';
import { type BlobEvent, type CopyStats, copyImage } from '../image/copy.ts';
import { DigestCache } from '../image/digest-cache.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../image/streams.ts';
import { type Compressor, gzipEngineFor } from './compressor.ts';
import type { Digest } from '../model/reference.ts';
import type { RegistryCredentials } from '../registry/auth.ts';
import { RegistryClient } from '../registry/client.ts';
import { type TransportSpec, openSink, openSource, parseTransport } from '../registry/transports.ts';

export interface CopyRequest {
  src: string;
  dst: string;
  /** Credentials for the source's and the destination's registry host. */
  srcCredentials?: RegistryCredentials;
  dstCredentials?: RegistryCredentials;
  insecureRegistries?: readonly string[];
  ca?: string | Buffer;
  jobs?: number;
  compressionLevel?: number;
  /** Who gzips layers that arrive uncompressed (default auto: igzip when on PATH, else zlib). */
  compressor?: Compressor;
  /** Where the digest cache lives; none: an in-memory cache for this run only. */
  cacheDir?: string;
  run: Runner;
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  retry?: RetryOptions;
  onBlob?: (e: BlobEvent) => void;
}

export interface CopyOutcome {
  source: string;
  destination: string;
  digest: Digest;
  mediaType: string;
  manifest: 'pushed' | 'unchanged';
  stats: CopyStats;
  /** What compressed the layers counted in stats.compressed ("zlib", "igzip"). */
  compressor: string;
  durationMs: number;
}

/** Where the digest cache lives unless a flag says otherwise: the XDG cache dir, else ~/.cache. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  return env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'hoist') : env.HOME ? join(env.HOME, '.cache', 'hoist') : undefined;
}

function hostOf(spec: TransportSpec): string | undefined {
  return spec.kind === 'docker' ? spec.host : undefined;
}

function credentialMap(src: TransportSpec, dst: TransportSpec, req: CopyRequest): Record<string, RegistryCredentials> {
  const out: Record<string, RegistryCredentials> = {};
  const s = hostOf(src);
  const d = hostOf(dst);
  if (s && req.srcCredentials) out[s] = req.srcCredentials;
  if (d && req.dstCredentials) out[d] = req.dstCredentials; // same host: the pushing identity wins
  return out;
}

export async function copy(req: CopyRequest): Promise<CopyOutcome> {
  const started = Date.now();
  const src = parseTransport(req.src);
  const dst = parseTransport(req.dst);
  const client = new RegistryClient({
    credentials: credentialMap(src, dst, req),
    ...(req.insecureRegistries ? { insecureRegistries: req.insecureRegistries } : {}),
    ...(req.ca ? { ca: req.ca } : {}), ...(req.retry ? { retry: req.retry } : {}),
  });
  const level = req.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  const gzip = gzipEngineFor(req.compressor ?? 'auto', level, req.env, req.run);
  const ctx = { client, run: req.run, env: req.env, ...(req.signal ? { signal: req.signal } : {}), compressionLevel: level, gzip };
  try {
    const source = await openSource(src, ctx);
    try {
      const { sink, tag } = await openSink(dst, ctx);
      const result = await copyImage(source, sink, {
        cache: await DigestCache.open(req.cacheDir),
        ...(req.jobs ? { jobs: req.jobs } : {}), compressionLevel: level, gzip,
        ...(tag ? { tag } : {}), ...(req.onBlob ? { onBlob: req.onBlob } : {}),
      });
      return { source: req.src, destination: req.dst, ...result, compressor: gzip.name, durationMs: Date.now() - started };
    } finally {
      await source.close();
    }
  } finally {
    client.close();
  }
}
