// The sandbox's World: state + blobs + persistence, one per running sandbox.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BlobStore, dirBlobStore, memoryBlobStore, writeFileAtomic } from './store.ts';
import type { WorldState } from './world.ts';

export interface WorldOptions {
  /** Persist to this directory; absent = memory only. */
  dir?: string;
  /** The state to start from when the directory holds none yet. */
  initial: () => WorldState;
  /** Clock in epoch ms; tests move it to expire tokens. */
  now?: () => number;
}

export class World {
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    public state: WorldState,
    readonly blobs: BlobStore,
    private readonly stateFile: string | undefined,
    readonly now: () => number,
  ) {}

  static async open(opts: WorldOptions): Promise<World> {
    const now = opts.now ?? Date.now;
    if (!opts.dir) return new World(opts.initial(), memoryBlobStore(), undefined, now);
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const stateFile = join(opts.dir, 'state.json');
    const saved = await readFile(stateFile, 'utf8').then((s) => JSON.parse(s) as WorldState, () => undefined);
    const world = new World(saved ?? opts.initial(), await dirBlobStore(opts.dir), stateFile, now);
    if (!saved) await world.commit();
    return world;
  }

  /**
   * Persists the current state. Call after every mutation and await it before answering:
   * an acknowledged change is a durable change. Writes are serialised; each writes the
   * latest state, so a commit also covers mutations made before it was called.
   */
  commit(): Promise<void> {
    const file = this.stateFile;
    if (!file) return Promise.resolve();
    const next = this.chain.then(() => writeFileAtomic(file, JSON.stringify(this.state), { mode: 0o600 }));
    this.chain = next.catch(() => undefined);
    return next;
  }
}
