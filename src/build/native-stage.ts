// Evaluates one Dockerfile stage natively: FROM (scratch, oci:DIR, a registry image through the
// BaseResolver, or an earlier stage), ARG/ENV scoping and substitution, COPY/ADD/WORKDIR layers,
// config-only instructions, and the precise error for RUN.

import { join, posix } from 'node:path';

import { HoistError } from '../errors.ts';
import type { Descriptor } from '../image/descriptor.ts';
import type { HistoryEntry, ImageConfig } from '../image/image-config.ts';
import { writeLayer } from '../image/layer.ts';
import { openLayer } from '../image/tar-read.ts';
import { sortEntries, type TarEntry } from '../image/tar.ts';
import { expandWord, ExpandError, parseDockerfile, type Instruction, type Location, type Stage } from '../model/dockerfile/index.ts';
import { archiveKind, archiveTree, type ArchiveKind } from './native-archive.ts';
import type { BaseImage } from './native-base.ts';
import { applyConfig, cfg, envMap, type ConfigState } from './native-config.ts';
import { planCopy, parseChmod } from './native-copy.ts';
import { StageFs } from './native-fs.ts';
import { contextTree, heredocTree, resolveOwner, stageTree, type BuildScope } from './native-sources.ts';

/** One layer of a stage: inherited from the base (by reference) or written by this build. */
export interface StageLayer {
  desc: Descriptor;
  diffId: string;
  /** Blob file written by this build. */
  path?: string;
  /** The base image that holds it (by reference). */
  base?: BaseImage;
}

export interface StageResult {
  index: number;
  name?: string;
  image: ImageConfig;
  layers: StageLayer[];
  fs: StageFs;
}

export function where(loc: Location): string {
  return `${loc.file}:${loc.line}`;
}

function runError(loc: Location, original: string): HoistError {
  return new HoistError(`${where(loc)}: RUN cannot be executed by the native builder: ${original.slice(0, 80)}`, {
    code: 'build.native-run',
    op: 'build',
    context: { file: loc.file, line: loc.line, column: loc.column },
    hint: 'The native builder assembles images without running anything. Build this Dockerfile with --builder docker or --builder buildah.',
  });
}

/** Later entries for the same path win (several sources writing one file). */
function dedupe(entries: TarEntry[]): TarEntry[] {
  return [...new Map(entries.map((e) => [e.path, e])).values()];
}

/** Run `fn`; a HoistError without a location gets `loc` (file, line, column) in its context. */
export async function atLocation<T>(loc: Location, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof HoistError) || err.context.line !== undefined) throw err;
    const { file, line, column } = loc;
    throw new HoistError(err.message, { code: err.code, ...(err.op ? { op: err.op } : {}), ...(err.hint ? { hint: err.hint } : {}), context: { ...err.context, file, line, column }, cause: err.cause ?? err });
  }
}

class Evaluator {
  readonly vars = new Map<string, string>();
  readonly args = new Map<string, string>();
  readonly state: ConfigState;
  workdir: string;
  constructor(
    readonly scope: BuildScope,
    readonly result: StageResult,
  ) {
    this.state = { image: result.image, cmdSet: false };
    this.workdir = result.image.config?.WorkingDir || '/';
  }

  expand(word: string, loc: Location): string {
    const vars = new Map([...this.args, ...envMap(this.result.image.config)]);
    try {
      return expandWord(word, vars, this.scope.escape);
    } catch (err) {
      if (!(err instanceof ExpandError)) throw err;
      throw new HoistError(`${where(loc)}: ${err.message}`, { code: 'dockerfile.syntax', op: 'expand variables', context: { file: loc.file, line: loc.line, column: loc.column } });
    }
  }

  history(ins: Instruction, empty: boolean): void {
    const h: HistoryEntry = { created: this.scope.created, created_by: `${ins.original} # hoist native` };
    if (empty) h.empty_layer = true;
    (this.result.image.history ??= []).push(h);
  }

  async addLayer(entries: TarEntry[]): Promise<void> {
    const sorted = sortEntries(entries);
    const n = this.scope.nextLayer();
    const info = await writeLayer(sorted, n.path, { mtime: this.scope.epoch, level: this.scope.level });
    const desc = { mediaType: info.mediaType, digest: info.digest, size: info.size } as Descriptor;
    this.result.layers.push({ desc, diffId: info.diffId, path: info.path });
    this.result.image.rootfs.diff_ids.push(info.diffId);
    this.result.fs.addIndexed(
      () => openLayer(info.path),
      sorted.map((e) => ({ path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.type === 'file' ? (e.data?.length ?? e.size ?? 0) : 0, linkname: e.linkname ?? '' })),
    );
  }

  /** Every error of an instruction carries its file, line and column. */
  async run(ins: Instruction): Promise<void> {
    await atLocation(ins.loc, () => this.dispatch(ins));
  }

  private async dispatch(ins: Instruction): Promise<void> {
    const x = (w: string): string => this.expand(w, ins.loc);
    switch (ins.kind) {
      case 'RUN':
        throw runError(ins.loc, ins.original);
      case 'FROM':
        throw new HoistError(`${where(ins.loc)}: unexpected FROM`, { code: 'build.invalid-instruction', op: 'build' });
      case 'ARG':
        for (const a of ins.args) {
          const value = this.scope.buildArgs[a.name] ?? (a.default !== undefined ? x(a.default) : this.scope.globalArgs.get(a.name));
          if (value !== undefined) this.args.set(a.name, value);
          else this.args.delete(a.name);
        }
        this.history(ins, true);
        return;
      case 'WORKDIR':
        return this.workdirIns(ins, x(ins.value));
      case 'COPY':
      case 'ADD':
        return this.copy(ins, x);
      default:
        if (!applyConfig(this.state, ins, x, where(ins.loc))) throw new HoistError(`${where(ins.loc)}: unsupported instruction`, { code: 'build.invalid-instruction', op: 'build' });
        this.history(ins, true);
    }
  }

  private async workdirIns(ins: Instruction, raw: string): Promise<void> {
    const dir = posix.normalize(posix.isAbsolute(raw) ? raw : posix.join(this.workdir, raw));
    this.workdir = dir;
    cfg(this.state).WorkingDir = dir;
    const rel = this.result.fs.resolve(dir.replace(/^\/+/, ''), true);
    const entries: TarEntry[] = [];
    const parts = rel === '' ? [] : rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const node = this.result.fs.get(p);
      if (node?.type === 'dir') entries.push({ path: p, type: 'dir', mode: node.mode, uid: node.uid, gid: node.gid });
      else if (node === undefined) entries.push({ path: p, type: 'dir', mode: 0o755, uid: 0, gid: 0 });
    }
    const exists = this.result.fs.get(rel)?.type === 'dir' || rel === '';
    if (exists) return this.history(ins, true);
    await this.addLayer(entries);
    this.history(ins, false);
  }

  private async copy(ins: Extract<Instruction, { kind: 'COPY' | 'ADD' }>, x: (w: string) => string): Promise<void> {
    const at = where(ins.loc);
    if (ins.heredocs.length > 0) return this.copyHeredocs(ins, x);
    if (ins.parents || ins.exclude.length > 0) throw new HoistError(`${at}: --parents/--exclude are not supported by the native builder`, { code: 'build.native-unsupported', op: ins.kind });
    const sources = ins.sources.map(x);
    if (ins.kind === 'ADD') for (const s of sources) if (/^(https?|git):\/\//.test(s) || s.startsWith('git@')) throw new HoistError(`${at}: ADD of a URL is not supported by the native builder`, { code: 'build.native-unsupported', op: 'ADD', hint: 'Download the file in CI before the build and COPY it, or use --builder docker.' });
    const from = ins.from === undefined ? undefined : x(ins.from);
    const owner = ins.chown === undefined ? { uid: 0, gid: 0 } : await resolveOwner(this.result.fs, x(ins.chown), at);
    const chmod = ins.chmod === undefined ? {} : { chmod: parseChmod(x(ins.chmod), at) };
    const base = { dest: x(ins.dest), workdir: this.workdir, target: this.result.fs, ...owner, ...chmod, where: at };
    const archives = ins.kind === 'ADD' && from === undefined ? await this.localArchives(sources) : new Map<string, ArchiveKind>();
    const plain = sources.filter((s) => !archives.has(s));
    const entries: TarEntry[] = [];
    if (plain.length > 0) {
      const tree = from === undefined ? contextTree(this.scope, ins.kind === 'ADD', at) : await stageTree(this.scope, from, at);
      entries.push(...(await planCopy({ ...base, sources: plain, tree, preserveOwner: from !== undefined && ins.chown === undefined })));
    }
    for (const [src, kind] of archives) {
      const tree = await archiveTree(join(this.scope.context.dir, src), kind, () => this.scope.tempFile(), at);
      const dest = base.dest.endsWith('/') ? base.dest : `${base.dest}/`;
      entries.push(...(await planCopy({ ...base, dest, sources: [''], tree, preserveOwner: ins.chown === undefined })));
    }
    await this.addLayer(dedupe(entries));
    this.history(ins, false);
  }

  /** ADD sources that name a tar archive in the context (extracted, as Docker does). */
  private async localArchives(sources: string[]): Promise<Map<string, ArchiveKind>> {
    const out = new Map<string, ArchiveKind>();
    for (const s of sources) {
      const clean = posix.normalize('/' + s).slice(1);
      const f = this.scope.context.files.get(clean);
      if (/[*?[]/.test(s) || f === undefined || !f.stat.isFile()) continue;
      const kind = await archiveKind(join(this.scope.context.dir, clean));
      if (kind !== undefined) out.set(s, kind);
    }
    return out;
  }

  private async copyHeredocs(ins: Extract<Instruction, { kind: 'COPY' | 'ADD' }>, x: (w: string) => string): Promise<void> {
    const at = where(ins.loc);
    if (ins.from !== undefined || ins.sources.length !== ins.heredocs.length) {
      throw new HoistError(`${at}: mixing heredocs with other sources (or --from) is not supported by the native builder`, { code: 'build.native-unsupported', op: ins.kind });
    }
    const vars = new Map([...this.args, ...envMap(this.result.image.config)]);
    const docs = ins.heredocs.map((h) => ({ name: h.name, data: h.expand ? expandWord(h.content, vars, this.scope.escape, false) : h.content }));
    const owner = ins.chown === undefined ? { uid: 0, gid: 0 } : await resolveOwner(this.result.fs, x(ins.chown), at);
    const req = { sources: docs.map((d) => d.name), dest: x(ins.dest), workdir: this.workdir, tree: heredocTree(docs), target: this.result.fs, ...owner, where: at };
    await this.addLayer(await planCopy(ins.chmod === undefined ? req : { ...req, chmod: parseChmod(x(ins.chmod), at) }));
    this.history(ins, false);
  }
}

/** Run the base image's ONBUILD triggers, then the stage's own instructions. */
export async function evaluateStage(scope: BuildScope, stage: Stage, start: StageResult): Promise<StageResult> {
  const ev = new Evaluator(scope, start);
  const triggers = start.image.config?.OnBuild ?? [];
  if (triggers.length > 0 && start.image.config) start.image.config.OnBuild = null;
  for (const t of triggers) {
    const parsed = parseDockerfile(`FROM scratch\n${t}\n`, `${stage.from.loc.file} (ONBUILD of ${stage.from.image})`).stages[0]!.instructions[0]!;
    parsed.loc = { ...stage.from.loc };
    await ev.run(parsed);
  }
  for (const ins of stage.instructions) await ev.run(ins);
  return ev.result;
}
