// A stage's filesystem as the native builder sees it: an ordered list of layer tars that can be
// read back, plus an index of what the flattened tree holds (whiteouts applied). Used for
// COPY --from, --chown=name (/etc/passwd), dest-is-a-directory checks and parent metadata.

import type { ReadEntry, ReadEntryType } from '../image/tar-read.ts';
import { readTar } from '../image/tar-read.ts';

export interface FsNode {
  path: string;
  type: ReadEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string;
  /** Index of the layer holding this version of the path. */
  layer: number;
}

/** Opens a layer's uncompressed tar bytes (again on every call). */
export type LayerTarOpener = () => Promise<AsyncIterable<Buffer>>;

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Follow symlinks inside a tree (as Docker's FollowSymlinkInScope): never leaves the root. */
export function resolveIn(get: (p: string) => { type: string; linkname: string } | undefined, path: string, followLast: boolean): string {
  let parts = path.split('/').filter((p) => p !== '');
  let out: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    const n = get([...out, part].join('/'));
    if (n?.type === 'symlink' && (parts.length > 0 || followLast)) {
      if (++hops > 255) throw new Error(`too many levels of symbolic links: ${path}`);
      if (n.linkname.startsWith('/')) out = [];
      parts = [...n.linkname.split('/').filter((p) => p !== ''), ...parts];
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

export class StageFs {
  private readonly layers: LayerTarOpener[] = [];
  private readonly nodes = new Map<string, FsNode>();
  /** False when some layer could not be read (a registry base whose blobs we did not fetch). */
  complete = true;

  clone(): StageFs {
    const c = new StageFs();
    c.layers.push(...this.layers);
    for (const [k, v] of this.nodes) c.nodes.set(k, v);
    c.complete = this.complete;
    return c;
  }

  get layerCount(): number {
    return this.layers.length;
  }

  /** A layer we only know by reference: its contents stay unknown. */
  addOpaqueLayer(): void {
    this.layers.push(async () => {
      throw new Error('layer contents are not available');
    });
    this.complete = false;
  }

  /** Add a layer and index it by reading it (base layers). */
  async addLayer(open: LayerTarOpener): Promise<void> {
    const entries: ReadEntry[] = [];
    for await (const e of readTar(await open())) entries.push(e);
    this.addIndexed(open, entries);
  }

  /** Add a layer whose entries are already known (layers this build wrote). */
  addIndexed(open: LayerTarOpener, entries: readonly Omit<ReadEntry, 'mtime' | 'data'>[]): void {
    const layer = this.layers.length;
    this.layers.push(open);
    for (const e of entries) this.apply({ path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, linkname: e.linkname, layer });
  }

  private apply(n: FsNode): void {
    const slash = n.path.lastIndexOf('/');
    const dir = slash < 0 ? '' : n.path.slice(0, slash);
    const base = n.path.slice(slash + 1);
    if (base === OPAQUE) {
      this.removeChildren(dir, n.layer);
      return;
    }
    if (base.startsWith(WHITEOUT)) {
      const victim = (dir === '' ? '' : `${dir}/`) + base.slice(WHITEOUT.length);
      this.nodes.delete(victim);
      this.removeChildren(victim, Infinity);
      return;
    }
    const old = this.nodes.get(n.path);
    if (old && old.type === 'dir' && n.type !== 'dir') this.removeChildren(n.path, Infinity);
    this.nodes.set(n.path, n);
  }

  private removeChildren(dir: string, beforeLayer: number): void {
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const [k, v] of this.nodes) if (k.startsWith(prefix) && k !== dir && v.layer < beforeLayer) this.nodes.delete(k);
  }

  get(path: string): FsNode | undefined {
    return this.nodes.get(path);
  }

  resolve(path: string, followLast: boolean): string {
    return resolveIn((p) => this.nodes.get(p), path, followLast);
  }

  /** Everything under `dir` (not `dir` itself), sorted. */
  descendants(dir: string): FsNode[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    return [...this.nodes.values()].filter((n) => n.path.startsWith(prefix) && n.path !== dir).sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  all(): FsNode[] {
    return [...this.nodes.values()];
  }

  /** Contents of regular files, reading only the layers that hold them (small files: passwd). */
  async readFiles(paths: Iterable<string>): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    await this.eachFile(paths, async (p, data) => {
      out.set(p, data);
    });
    return out;
  }

  /** Hands each file's contents to `fn` as its layer is read; one file in memory at a time. */
  async eachFile(paths: Iterable<string>, fn: (path: string, data: Buffer) => Promise<void>): Promise<void> {
    const byLayer = new Map<number, Set<string>>();
    for (const p of paths) {
      const n = this.nodes.get(p);
      if (n === undefined || n.type !== 'file') continue;
      let set = byLayer.get(n.layer);
      if (!set) byLayer.set(n.layer, (set = new Set()));
      set.add(p);
    }
    for (const [layer, want] of [...byLayer].sort(([a], [b]) => a - b)) {
      for await (const e of readTar(await this.layers[layer]!(), (x) => want.has(x.path))) {
        if (e.data !== undefined && want.has(e.path)) await fn(e.path, e.data);
      }
    }
  }
}

/** `/etc/passwd` / `/etc/group` lookups for --chown=name, from a stage's filesystem. */
export async function lookupIds(fs: StageFs, file: 'etc/passwd' | 'etc/group', name: string): Promise<{ id: number; gid?: number } | undefined> {
  const path = fs.resolve(file, true);
  if (fs.get(path) === undefined) return undefined;
  const text = (await fs.readFiles([path])).get(path)?.toString('utf8') ?? '';
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3) {
      const id = Number(f[2]);
      return file === 'etc/passwd' ? { id, gid: Number(f[3]) } : { id };
    }
  }
  return undefined;
}
