// Uncompressed diffID → compressed blob, per destination (the pattern of docker's v2metadata
// and containers/image's BlobInfoCache, registry-performance.md §D9): a re-push of layers
// hoist had to gzip only HEADs the cached digest instead of recompressing. A small JSON file.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../model/reference.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

export interface CachedBlob {
  digest: Digest;
  size: number;
}

interface CacheFile {
  version: 1;
  entries: Record<string, Record<string, CachedBlob>>;
}

const FILE = 'digest-cache.json';
const MAX_PER_KEY = 5000;

export class DigestCache {
  #dirty = false;

  private constructor(private readonly dir: string | undefined, private readonly data: CacheFile) {}

  /** A cache persisted in `dir` (created when saved), or an in-memory one without a dir. */
  static async open(dir?: string): Promise<DigestCache> {
    if (dir === undefined) return new DigestCache(undefined, { version: 1, entries: {} });
    try {
      const parsed = JSON.parse(await readFile(join(dir, FILE), 'utf8')) as CacheFile;
      if (parsed.version === 1 && typeof parsed.entries === 'object') return new DigestCache(dir, parsed);
    } catch {
      // missing or unreadable: start empty (a cache is never the source of truth)
    }
    return new DigestCache(dir, { version: 1, entries: {} });
  }

  get(key: string, diffId: Digest): CachedBlob | undefined {
    return this.data.entries[key]?.[diffId];
  }

  set(key: string, diffId: Digest, blob: CachedBlob): void {
    const bucket = (this.data.entries[key] ??= {});
    bucket[diffId] = blob;
    const names = Object.keys(bucket);
    if (names.length > MAX_PER_KEY) delete bucket[names[0]!];
    this.#dirty = true;
  }

  /** Written atomically (temp file + rename); a no-op when nothing changed. */
  async save(): Promise<void> {
    if (!this.dir || !this.#dirty) return;
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, FILE), JSON.stringify(this.data));
    this.#dirty = false;
  }
}
