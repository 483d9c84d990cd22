// Flattened filesystems of images, for comparing what the native builder made with what docker
// made: path → type, mode, owner, content sha256, link target. Whiteouts applied.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

import { readTar } from '../../src/image/tar-read.ts';
import { run, runOk } from './components.ts';

export interface FsEntry {
  type: string;
  mode: string;
  owner: string;
  sha?: string;
  link?: string;
}

export type FlatFs = Map<string, FsEntry>;

/** Paths docker adds to every container (and that differ per container). */
export const DOCKER_NOISE = /^(etc\/hostname|etc\/hosts|etc\/resolv\.conf|etc\/mtab|\.dockerenv|proc|sys|dev)(\/|$)/;

export async function applyLayer(fs: FlatFs, tar: AsyncIterable<Buffer>): Promise<void> {
  for await (const e of readTar(tar, () => true)) {
    const slash = e.path.lastIndexOf('/');
    const dir = slash < 0 ? '' : e.path.slice(0, slash + 1);
    const base = e.path.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      for (const k of [...fs.keys()]) if (k.startsWith(dir) && k !== dir.slice(0, -1)) fs.delete(k);
      continue;
    }
    if (base.startsWith('.wh.')) {
      const victim = dir + base.slice(4);
      for (const k of [...fs.keys()]) if (k === victim || k.startsWith(`${victim}/`)) fs.delete(k);
      continue;
    }
    if (e.path === '') continue;
    const entry: FsEntry = { type: e.type, mode: e.mode.toString(8), owner: `${e.uid}:${e.gid}` };
    if (e.data !== undefined) entry.sha = createHash('sha256').update(e.data).digest('hex').slice(0, 16);
    if (e.type === 'symlink' || e.type === 'hardlink') entry.link = e.linkname;
    fs.set(e.path, entry);
  }
}

export async function flattenOciLayout(dir: string, tag: string): Promise<{ fs: FlatFs; config: Record<string, unknown>; manifestDigest: string }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const blob = (d: string): string => join(dir, 'blobs', ...d.split(':'));
  const manifest = JSON.parse(await readFile(blob(desc.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as Record<string, unknown>;
  const fs: FlatFs = new Map();
  for (const l of manifest.layers) {
    const raw = createReadStream(blob(l.digest));
    await applyLayer(fs, (l.mediaType.endsWith('gzip') ? raw.pipe(createGunzip()) : raw) as Readable);
  }
  return { fs, config, manifestDigest: desc.digest };
}

/** `docker create` + `docker export` of an image, flattened. */
export async function dockerImageFs(image: string, env: NodeJS.ProcessEnv): Promise<FlatFs> {
  const id = (await runOk('docker', ['create', image], { env })).stdout.trim();
  try {
    const { spawn } = await import('node:child_process');
    const child = spawn('docker', ['export', id], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const fs: FlatFs = new Map();
    await applyLayer(fs, child.stdout as AsyncIterable<Buffer>);
    return fs;
  } finally {
    await run('docker', ['rm', '-f', id], { env });
  }
}

export function withoutNoise(fs: FlatFs): Record<string, FsEntry> {
  return Object.fromEntries([...fs].filter(([p]) => !DOCKER_NOISE.test(p)).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Paths whose entries differ, as readable lines (empty when the trees are equal). */
export function fsDiff(a: FlatFs, b: FlatFs): string[] {
  const x = withoutNoise(a);
  const y = withoutNoise(b);
  const out: string[] = [];
  for (const p of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
    const l = JSON.stringify(x[p]);
    const r = JSON.stringify(y[p]);
    if (l !== r) out.push(`${p}: native ${l ?? 'missing'} / docker ${r ?? 'missing'}`);
  }
  return out;
}
