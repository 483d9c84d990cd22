// ADD of a local tar archive (plain or gzip): Docker extracts it into the destination, keeping
// the archive's modes and owners. The archive is read once; each file's contents are spooled to
// a temp file (one file at a time is held in memory while it is read).

import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { HoistError } from '../errors.ts';
import { readTar } from '../image/tar-read.ts';
import { chain } from '../image/streams.ts';
import type { SourceNode, SourceTree } from './native-copy.ts';

export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz' | undefined;

export async function archiveKind(file: string): Promise<ArchiveKind> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(262);
    const { bytesRead } = await fh.read(b, 0, 262, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (b[0] === 0xfd && b.subarray(1, 6).toString('latin1') === '7zXZ\0') return 'xz';
    return bytesRead >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar' ? 'tar' : undefined;
  } finally {
    await fh.close();
  }
}

/** Read an archive into a SourceTree rooted at '' (its contents), files spooled to `spool`. */
export async function archiveTree(file: string, kind: ArchiveKind, spool: () => string, at: string): Promise<SourceTree> {
  if (kind !== 'tar' && kind !== 'gzip') {
    throw new HoistError(`${at}: ADD of a ${kind} archive is not supported by the native builder`, { code: 'build.native-unsupported', op: 'ADD', hint: 'Use a .tar or .tar.gz archive, or --builder docker/buildah.' });
  }
  const raw = createReadStream(file);
  const stream = kind === 'gzip' ? chain(raw, createGunzip()) : raw;
  const nodes = new Map<string, SourceNode>();
  const files = new Map<string, string>();
  for await (const e of readTar(stream, () => true)) {
    if (e.path === '' || e.type === 'other') continue;
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!nodes.has(p)) nodes.set(p, { path: p, type: 'dir', mode: 0o755, size: 0, linkname: '', uid: 0, gid: 0 });
    }
    nodes.set(e.path, { path: e.path, type: e.type, mode: e.mode, size: e.size, linkname: e.linkname, uid: e.uid, gid: e.gid });
    if (e.type === 'file') {
      const to = spool();
      await pipeline(Readable.from(e.data !== undefined ? [e.data] : []), createWriteStream(to));
      files.set(e.path, to);
    }
  }
  return treeOf(nodes, files, file);
}

function treeOf(nodes: Map<string, SourceNode>, files: Map<string, string>, file: string): SourceTree {
  const sorted = (): SourceNode[] => [...nodes.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    describe: `the archive ${file}`,
    get: (p) => (p === '' ? { path: '', type: 'dir', mode: 0o755, size: 0, linkname: '' } : nodes.get(p)),
    all: sorted,
    resolve: (p) => p,
    descendants: (dir) => sorted().filter((n) => dir === '' || n.path.startsWith(`${dir}/`)),
    contents: async (list) => new Map(list.map((n) => [n.path, { file: files.get(n.type === 'hardlink' ? n.linkname : n.path)! }])),
  };
}

