// Where a stage starts (FROM) and where COPY reads from (the context, an earlier stage, an
// image), plus --chown resolution against the stage's /etc/passwd and /etc/group.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';

import { HoistError } from '../errors.ts';
import type { Descriptor } from '../image/descriptor.ts';
import type { ImageConfig } from '../image/image-config.ts';
import { chain } from '../image/streams.ts';
import { expandWord, type FromInstruction } from '../model/dockerfile/index.ts';
import { parsePlatform, type Platform } from '../model/platform.ts';
import { archiveKind } from './native-archive.ts';
import { parseOciRef, resolveOciLayout, type BaseImage, type BaseResolver } from './native-base.ts';
import type { BuildContext } from './native-context.ts';
import type { SourceNode, SourceTree } from './native-copy.ts';
import { lookupIds, resolveIn, StageFs } from './native-fs.ts';
import type { StageLayer, StageResult } from './native-stage.ts';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface BuildScope {
  file: string;
  escape: string;
  context: BuildContext;
  buildArgs: Readonly<Record<string, string>>;
  /** Global ARGs (before the first FROM) with their values. */
  globalArgs: Map<string, string>;
  /** Finished stages by index and by name. */
  stages: Map<string, StageResult>;
  resolver?: BaseResolver;
  platform: Platform;
  epoch: number;
  created: string;
  level: number;
  nextLayer(): { path: string };
  /** A fresh temp file path inside the build's work dir. */
  tempFile(): string;
}

const fail = (at: string, message: string, code: string, hint?: string): HoistError =>
  new HoistError(`${at}: ${message}`, { code, op: 'build', ...(hint === undefined ? {} : { hint }) });

function contextNode(f: BuildContext['files'] extends Map<string, infer V> ? V : never): SourceNode {
  const s = f.stat;
  const type = s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isFile() ? 'file' : 'other';
  const node: SourceNode = { path: f.path, type, mode: s.mode & 0o7777, size: type === 'file' ? s.size : 0, linkname: f.linkname ?? '' };
  if (type === 'file' && s.nlink > 1) node.inode = `${s.dev}:${s.ino}`;
  return node;
}

export function contextTree(scope: BuildScope, isAdd: boolean, at: string): SourceTree {
  const files = scope.context.files;
  const get = (p: string): SourceNode | undefined => {
    const f = files.get(p);
    return f === undefined ? undefined : contextNode(f);
  };
  return {
    describe: 'the build context (or excluded by .dockerignore)',
    get,
    all: () => [...files.values()].map(contextNode),
    resolve: (p, followLast) => resolveIn(get, p, followLast),
    descendants: (dir) => [...files.keys()].filter((k) => dir === '' || k.startsWith(`${dir}/`)).sort().map((k) => get(k)!),
    contents: async (nodes) => {
      const out = new Map<string, { file: string }>();
      for (const n of nodes) {
        const file = join(scope.context.dir, n.path);
        if (isAdd && (await archiveKind(file)) !== undefined) {
          throw fail(at, `ADD of the local archive ${n.path} through a wildcard is not supported by the native builder`, 'build.native-unsupported', 'Name the archive without wildcards, or use --builder docker/buildah.');
        }
        out.set(n.path, { file });
      }
      return out;
    },
  };
}

export function fsTree(fs: StageFs, describe: string, spool: () => string): SourceTree {
  const toNode = (n: ReturnType<StageFs['get']>): SourceNode | undefined => (n === undefined ? undefined : { path: n.path, type: n.type, mode: n.mode, size: n.size, linkname: n.linkname, uid: n.uid, gid: n.gid });
  return {
    describe,
    get: (p) => toNode(fs.get(p)),
    all: () => fs.all().map((n) => toNode(n)!),
    resolve: (p, followLast) => fs.resolve(p, followLast),
    descendants: (dir) => fs.descendants(dir).map((n) => toNode(n)!),
    contents: async (nodes) => {
      const real = (n: SourceNode): string => (n.type === 'hardlink' ? n.linkname : n.path);
      const spooled = new Map<string, string>();
      await fs.eachFile(nodes.map(real), async (p, data) => {
        const to = spool();
        await writeFile(to, data);
        spooled.set(p, to);
      });
      return new Map(nodes.map((n) => [n.path, spooled.has(real(n)) ? { file: spooled.get(real(n))! } : { data: Buffer.alloc(0) }]));
    },
  };
}

/** COPY <<EOF: each heredoc is a 0644 file named after its delimiter. */
export function heredocTree(docs: readonly { name: string; data: string }[]): SourceTree {
  const nodes = new Map(docs.map((d) => [d.name, { node: { path: d.name, type: 'file' as const, mode: 0o644, size: Buffer.byteLength(d.data), linkname: '' }, data: Buffer.from(d.data) }]));
  return {
    describe: 'the heredocs',
    get: (p) => nodes.get(p)?.node,
    all: () => [...nodes.values()].map((v) => v.node),
    resolve: (p) => p,
    descendants: (dir) => (dir === '' ? [...nodes.values()].map((v) => v.node) : []),
    contents: async (list) => new Map(list.map((n) => [n.path, { data: nodes.get(n.path)!.data }])),
  };
}

export async function stageTree(scope: BuildScope, from: string, at: string): Promise<SourceTree> {
  const stage = scope.stages.get(from.toLowerCase());
  if (stage !== undefined) {
    if (!stage.fs.complete) throw fail(at, `COPY --from=${from}: the files of that stage's base image are not available locally`, 'build.native-unsupported');
    return fsTree(stage.fs, `stage ${from}`, () => scope.tempFile());
  }
  const base = await startFromImage(scope, from, undefined, at);
  if (!base.fs.complete) throw fail(at, `COPY --from=${from}: the image's layers are not available locally`, 'build.native-unsupported');
  return fsTree(base.fs, `image ${from}`, () => scope.tempFile());
}

/** `user[:group]`, numeric or names from the stage's /etc/passwd and /etc/group. */
export async function resolveOwner(fs: StageFs, spec: string, at: string): Promise<{ uid: number; gid: number }> {
  const parts = spec.split(':');
  if (parts.length > 2 || parts[0] === '') throw fail(at, `invalid --chown value ${JSON.stringify(spec)}`, 'build.invalid-instruction', 'Use --chown=user[:group], numeric or names.');
  const num = (s: string): number | undefined => (/^\d+$/.test(s) ? Number(s) : undefined);
  const lookup = async (file: 'etc/passwd' | 'etc/group', name: string): Promise<number> => {
    if (!fs.complete) throw fail(at, `--chown=${spec}: cannot resolve the name ${name}: the base image's files are not available locally`, 'build.chown-unresolved', 'Use numeric ids (--chown=1000:1000).');
    if (fs.get(fs.resolve(file, true)) === undefined) throw fail(at, `--chown=${spec}: cannot resolve ${name}: the image has no /${file}`, 'build.chown-unresolved', 'Use numeric ids (--chown=1000:1000), or add the user to /etc/passwd first.');
    const hit = await lookupIds(fs, file, name);
    if (hit === undefined) throw fail(at, `--chown=${spec}: no such ${file === 'etc/passwd' ? 'user' : 'group'} ${name} in /${file}`, 'build.chown-unresolved');
    return hit.id;
  };
  const uid = num(parts[0]!) ?? (await lookup('etc/passwd', parts[0]!));
  const g = parts[1];
  const gid = g === undefined || g === '' ? uid : (num(g) ?? (await lookup('etc/group', g)));
  return { uid, gid };
}

function emptyImage(p: Platform): ImageConfig {
  const img: ImageConfig = { architecture: p.architecture, os: p.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  if (p.variant !== undefined) img.variant = p.variant;
  return img;
}

function layerOpener(base: BaseImage, d: Descriptor): () => Promise<AsyncIterable<Buffer>> {
  return async () => {
    const raw = base.openBlob!(d);
    return /gzip/.test(d.mediaType) ? chain(raw, createGunzip()) : raw;
  };
}

async function fromBase(base: BaseImage, index: number): Promise<StageResult> {
  const image = structuredClone(base.config);
  image.history ??= [];
  const diffIds = image.rootfs?.diff_ids ?? [];
  if (diffIds.length !== base.manifest.layers.length) {
    throw new HoistError(`${base.name}: config has ${diffIds.length} diff_ids for ${base.manifest.layers.length} layers`, { code: 'build.base-invalid', op: 'FROM' });
  }
  const fs = new StageFs();
  const layers: StageLayer[] = [];
  for (const [i, desc] of base.manifest.layers.entries()) {
    layers.push({ desc, diffId: diffIds[i]!, base });
    if (base.openBlob !== undefined && !/zstd/.test(desc.mediaType)) await fs.addLayer(layerOpener(base, desc));
    else fs.addOpaqueLayer();
  }
  return { index, image, layers, fs };
}

async function startFromImage(scope: BuildScope, ref: string, platform: Platform | undefined, at: string): Promise<StageResult> {
  if (parseOciRef(ref) !== undefined) return fromBase(await resolveOciLayout(ref, platform ?? scope.platform), -1);
  if (scope.resolver === undefined) {
    throw fail(at, `FROM ${ref}: the native builder has no registry access configured`, 'build.base-not-found', 'Use FROM oci:DIR (an OCI layout) or FROM scratch, or give the native builder a base resolver.');
  }
  return fromBase(await scope.resolver.resolve(ref, platform ?? scope.platform), -1);
}

/** The state a stage starts from. */
export async function startStage(scope: BuildScope, from: FromInstruction, index: number, at: string): Promise<StageResult> {
  const vars = new Map([...scope.globalArgs]);
  const ref = expandWord(from.image, vars, scope.escape);
  if (ref.trim() === '') throw fail(at, `FROM ${from.image}: the image name is empty after substitution`, 'build.base-not-found', 'Set the build arg it uses (ARG before FROM, --build-arg), or give it a default.');
  const platformRaw = from.platform === undefined ? undefined : expandWord(from.platform, vars, scope.escape);
  let platform: Platform | undefined;
  if (platformRaw !== undefined && platformRaw !== '') {
    const p = parsePlatform(platformRaw, `${at} --platform`);
    if (!p.ok) throw fail(at, p.problem.message, 'dockerfile.syntax', p.problem.hint);
    platform = p.value;
  }
  let start: StageResult;
  const earlier = scope.stages.get(ref.toLowerCase());
  if (ref.toLowerCase() === 'scratch') start = { index, image: emptyImage(platform ?? scope.platform), layers: [], fs: new StageFs() };
  else if (earlier !== undefined) start = { index, image: structuredClone(earlier.image), layers: [...earlier.layers], fs: earlier.fs.clone() };
  else start = { ...(await startFromImage(scope, ref, platform, at)), index };
  const cfg = (start.image.config ??= {});
  if (!(cfg.Env ?? []).some((e) => e.startsWith('PATH='))) cfg.Env = [...(cfg.Env ?? []), DEFAULT_PATH];
  if (from.stageName !== undefined) start.name = from.stageName;
  return start;
}
