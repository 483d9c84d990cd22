// COPY/ADD planning with the classic Docker builder's semantics: wildcards, `dir/` copies the
// contents, a trailing `/` (or an existing directory) makes dest a directory, several sources
// need a directory dest, new parents are created 0755, copied files keep their mode bits, owners
// are root or --chown. The result is the entry list of one layer.

import { join } from 'node:path';
import { posix } from 'node:path';

import { HoistError } from '../errors.ts';
import type { TarEntry } from '../image/tar.ts';
import { compilePattern } from './native-context.ts';
import type { StageFs } from './native-fs.ts';

export interface SourceNode {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  size: number;
  linkname: string;
  /** Inode identity for hardlink detection (context files). */
  inode?: string;
  /** Owner in the source (stages and images). */
  uid?: number;
  gid?: number;
}

/** Where COPY reads from: the build context or an earlier stage's filesystem. */
export interface SourceTree {
  describe: string;
  get(path: string): SourceNode | undefined;
  all(): SourceNode[];
  resolve(path: string, followLast: boolean): string;
  descendants(dir: string): SourceNode[];
  /** Where each file's bytes come from. */
  contents(nodes: SourceNode[]): Promise<Map<string, { file?: string; data?: Uint8Array }>>;
}

export interface CopyRequest {
  sources: string[];
  dest: string;
  workdir: string;
  tree: SourceTree;
  target: StageFs;
  uid: number;
  gid: number;
  chmod?: number;
  /** COPY --from without --chown keeps the source's owners (as Docker does). */
  preserveOwner?: boolean;
  where: string;
}

function copyError(req: CopyRequest, message: string, hint?: string): HoistError {
  return new HoistError(`${req.where}: ${message}`, { code: 'build.copy-failed', op: 'COPY', ...(hint === undefined ? {} : { hint }) });
}

const hasWildcard = (p: string): boolean => /[*?[]/.test(p);

function matchSources(req: CopyRequest): { given: string; path: string }[] {
  const out: { given: string; path: string }[] = [];
  for (const raw of req.sources) {
    // The classic builder's check: a relative source that climbs out of the root names nothing
    // in the context (Docker: "forbidden path outside the build context"). Absolute sources are
    // context-relative, so `/x` is the context's x, never the host's.
    const relative = posix.normalize(raw);
    if (relative === '..' || relative.startsWith('../')) {
      throw copyError(req, `forbidden path outside the build context: ${raw}`, 'COPY reads only files inside the build context; move the file into the context, or build from a parent directory.');
    }
    const clean = posix.normalize('/' + raw).slice(1).replace(/\/+$/, '');
    if (hasWildcard(clean)) {
      const re = compilePattern(clean);
      const hits = req.tree.all().filter((n) => re.test(n.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
      for (const h of hits) out.push({ given: h.path, path: req.tree.resolve(h.path, true) });
      continue;
    }
    const path = clean === '' ? '' : req.tree.resolve(clean, true);
    if (path !== '' && req.tree.get(path) === undefined) {
      throw copyError(req, `file not found in ${req.tree.describe}: ${raw}`, 'Check the path, and that .dockerignore does not exclude it.');
    }
    out.push({ given: clean, path });
  }
  if (out.length === 0) throw copyError(req, `no source files were specified (nothing matches ${req.sources.join(' ')})`);
  return out;
}

/** Dest as an absolute path without leading `/`, plus whether it names a directory. */
function destOf(req: CopyRequest): { path: string; isDir: boolean } {
  const d = req.dest;
  const abs = d.startsWith('/') ? d : posix.join(req.workdir, d);
  const isDir = d.endsWith('/') || d === '.' || d.endsWith('/.');
  const path = req.target.resolve(posix.normalize(abs).replace(/^\/+/, '').replace(/\/+$/, ''), false);
  return { path: path === '.' ? '' : path, isDir };
}

interface Planned {
  entries: Map<string, TarEntry>;
  fromNodes: { node: SourceNode; dest: string }[];
}

export async function planCopy(req: CopyRequest): Promise<TarEntry[]> {
  const srcs = matchSources(req);
  const dest = destOf(req);
  const targetNode = dest.path === '' ? { type: 'dir' } : req.target.get(dest.path);
  const destIsDir = dest.isDir || targetNode?.type === 'dir';
  if (srcs.length > 1 && !dest.isDir && targetNode?.type !== 'dir') {
    throw copyError(req, 'when using COPY with more than one source file, the destination must be a directory and end with a /', `Write the destination as ${req.dest}/`);
  }
  const plan: Planned = { entries: new Map(), fromNodes: [] };
  for (const s of srcs) {
    const node = s.path === '' ? ({ path: '', type: 'dir', mode: 0o755, size: 0, linkname: '' } as SourceNode) : req.tree.get(s.path)!;
    if (node.type === 'dir') copyDir(req, plan, node, dest.path);
    else {
      const name = posix.basename(s.given);
      const to = destIsDir ? join(dest.path, name).replace(/^\/+/, '') : dest.path;
      addParents(req, plan, posix.dirname(to), true);
      addNode(req, plan, node, to);
    }
  }
  await fillContents(req, plan);
  return [...plan.entries.values()];
}

function copyDir(req: CopyRequest, plan: Planned, dir: SourceNode, to: string): void {
  if (to !== '') {
    addParents(req, plan, posix.dirname(to), false);
    const existing = req.target.get(to);
    if (existing?.type === 'dir') keepExisting(plan, existing.path, existing);
    else plan.entries.set(to, { path: to, type: 'dir', mode: 0o755, uid: req.uid, gid: req.gid });
  }
  for (const child of req.tree.descendants(dir.path)) {
    const rel = dir.path === '' ? child.path : child.path.slice(dir.path.length + 1);
    addNode(req, plan, child, to === '' ? rel : `${to}/${rel}`);
  }
}

function keepExisting(plan: Planned, path: string, n: { mode: number; uid: number; gid: number }): void {
  if (!plan.entries.has(path)) plan.entries.set(path, { path, type: 'dir', mode: n.mode, uid: n.uid, gid: n.gid });
}

/** Parent directories of `dir` (inclusive): existing ones keep their metadata, new ones are 0755. */
function addParents(req: CopyRequest, plan: Planned, dir: string, ownNew: boolean): void {
  if (dir === '.' || dir === '') return;
  const parts = dir.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (plan.entries.has(p)) continue;
    const existing = req.target.get(p);
    if (existing?.type === 'dir') keepExisting(plan, p, existing);
    else if (existing === undefined && !req.target.complete) continue;
    else plan.entries.set(p, { path: p, type: 'dir', mode: 0o755, uid: ownNew ? req.uid : 0, gid: ownNew ? req.gid : 0 });
  }
}

function addNode(req: CopyRequest, plan: Planned, n: SourceNode, to: string): void {
  const mode = req.chmod ?? n.mode;
  const own = req.preserveOwner === true && n.uid !== undefined;
  const base = { path: to, uid: own ? n.uid! : req.uid, gid: own ? n.gid! : req.gid };
  if (n.type === 'dir') plan.entries.set(to, { ...base, type: 'dir', mode });
  else if (n.type === 'symlink') plan.entries.set(to, { ...base, type: 'symlink', mode: 0o777, linkname: n.linkname });
  else if (n.type === 'file' || n.type === 'hardlink') {
    plan.entries.set(to, { ...base, type: 'file', mode, size: n.size });
    plan.fromNodes.push({ node: n, dest: to });
  } else throw copyError(req, `cannot copy ${n.path}: not a regular file, directory or symlink`);
}

/** Attach file contents; files sharing an inode in one COPY become hardlinks, as docker does. */
async function fillContents(req: CopyRequest, plan: Planned): Promise<void> {
  const contents = await req.tree.contents(plan.fromNodes.map((f) => f.node));
  const firstByInode = new Map<string, string>();
  for (const { node, dest } of [...plan.fromNodes].sort((a, b) => (a.dest < b.dest ? -1 : 1))) {
    const entry = plan.entries.get(dest)!;
    if (node.inode !== undefined) {
      const first = firstByInode.get(node.inode);
      if (first !== undefined && plan.entries.get(first)?.type === 'file') {
        plan.entries.set(dest, { path: dest, type: 'hardlink', mode: entry.mode, uid: entry.uid, gid: entry.gid, linkname: first });
        continue;
      }
      firstByInode.set(node.inode, dest);
    }
    const c = contents.get(node.path);
    if (c?.data !== undefined) Object.assign(entry, { data: c.data, size: c.data.length });
    else if (c?.file !== undefined) entry.file = c.file;
    else throw copyError(req, `contents of ${node.path} are not available`);
  }
}

/** `--chmod=0755` (octal only, as Docker accepts for COPY). */
export function parseChmod(raw: string, where: string): number {
  if (!/^[0-7]{3,4}$/.test(raw)) {
    throw new HoistError(`${where}: invalid --chmod value ${JSON.stringify(raw)}`, { code: 'build.copy-failed', op: 'COPY', hint: 'Use octal permissions, e.g. --chmod=0755 or --chmod=644.' });
  }
  return parseInt(raw, 8);
}
