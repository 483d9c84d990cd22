// The native builder (DESIGN §1 "Builders"): pure TypeScript, daemonless and unprivileged.
// Dockerfiles without RUN are assembled straight into OCI layers on top of the base image's
// manifest, ko-style, and written as an OCI image layout. Reproducible: sorted tar entries,
// owners 0:0 (or --chown), mtimes and `created` from SOURCE_DATE_EPOCH (else the Unix epoch).

import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';

import { HoistError } from '../errors.ts';
import { type DiskUse, mapDiskFull } from '../fs/disk-full.ts';
import { type Descriptor, type ImageManifest, MEDIA, rawManifest, sha256Digest } from '../image/descriptor.ts';
import type { ImageConfig } from '../image/image-config.ts';
import { openOciLayoutSink } from '../image/oci-layout.ts';
import { expandWord, parseDockerfile, type Dockerfile } from '../model/dockerfile/index.ts';
import { parsePlatform, type Platform } from '../model/platform.ts';
import { parseReference } from '../model/reference.ts';
import type { BaseResolver } from './native-base.ts';
import { loadContext } from './native-context.ts';
import { startStage, type BuildScope } from './native-sources.ts';
import { atLocation, evaluateStage, type StageLayer, type StageResult } from './native-stage.ts';

export interface NativeBuildOptions {
  context: string;
  /** Default `<context>/Dockerfile`. */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** Platform for `FROM scratch` and for picking from base indexes; default linux/amd64. */
  platform?: string;
  /** Labels added to the final image. */
  labels?: Record<string, string>;
  /** Seconds since the epoch (SOURCE_DATE_EPOCH); default 0. */
  sourceDateEpoch?: number;
  /** gzip level for new layers; default 1. */
  compressionLevel?: number;
  resolver?: BaseResolver;
  /** OCI image layout directory to write (created if missing; other tags are kept). */
  outputDir: string;
  /** Names for the image in the layout (`org.opencontainers.image.ref.name`). */
  tags?: string[];
  /** Parent for temporary layer files; default the OS temp dir. */
  tmpDir?: string;
}

export interface NativeBuildResult {
  manifestDigest: string;
  manifest: ImageManifest;
  configDigest: string;
  config: ImageConfig;
  outputDir: string;
  /** Base layers the layout references but does not hold (a registry can mount them). */
  referencedOnly: Descriptor[];
  /** Instructions evaluated (FROM excluded). */
  steps: number;
  durationMs: number;
}

/** SOURCE_DATE_EPOCH as seconds, or a clear error (ko's message). */
export function parseSourceDateEpoch(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) {
    throw new HoistError(`SOURCE_DATE_EPOCH should be the number of seconds since January 1st 1970, 00:00 UTC, got: ${JSON.stringify(raw)}`, { code: 'config.invalid', op: 'build' });
  }
  return Number(raw.trim());
}

function platformOf(raw: string | undefined): Platform {
  if (raw === undefined) return { os: 'linux', architecture: 'amd64' };
  const p = parsePlatform(raw);
  if (!p.ok) throw new HoistError(p.problem.message, { code: 'config.invalid', op: 'build', ...(p.problem.hint ? { hint: p.problem.hint } : {}) });
  return p.value;
}

/** Stages the target needs (by name/index in FROM and COPY --from); all earlier ones when a reference is dynamic. */
export function neededStages(df: Dockerfile, target: number): Set<number> {
  const byName = new Map(df.stages.flatMap((s) => [[String(s.index), s.index], ...(s.name ? [[s.name, s.index] as [string, number]] : [])] as [string, number][]));
  const need = new Set<number>();
  const visit = (i: number): void => {
    if (need.has(i)) return;
    need.add(i);
    const s = df.stages[i]!;
    const refs = [s.from.image, ...s.instructions.flatMap((ins) => (ins.kind === 'COPY' || ins.kind === 'ADD') && ins.from !== undefined ? [ins.from] : [])];
    for (const r of refs) {
      if (r.includes('$')) for (let k = 0; k < i; k++) visit(k);
      const hit = byName.get(r.toLowerCase());
      if (hit !== undefined && hit < i) visit(hit);
    }
  };
  visit(target);
  return need;
}

/**
 * The images the stages needed for `target` start FROM, in stage order, after ARG substitution
 * (global ARGs and build args; an ARG without a value is empty, as in Docker): not earlier
 * stages, not scratch. Undefined when one is no image reference after that (the build fails).
 */
export function baseImages(df: Dockerfile, target: string | undefined, buildArgs: Record<string, string> = {}): string[] | undefined {
  const vars = globalArgs(df, buildArgs);
  const names = new Set(df.stages.flatMap((st) => (st.name ? [st.name, String(st.index)] : [String(st.index)])));
  const out: string[] = [];
  for (const i of [...neededStages(df, targetIndex(df, target))].sort((a, b) => a - b)) {
    const ref = expandWord(df.stages[i]!.from.image, vars, df.directives.escape).trim();
    if (ref.toLowerCase() === 'scratch' || names.has(ref.toLowerCase())) continue;
    if (!parseReference(ref).ok) return undefined;
    out.push(ref);
  }
  return out;
}

function targetIndex(df: Dockerfile, target: string | undefined): number {
  if (target === undefined) return df.stages.length - 1;
  const s = df.stages.find((x) => x.name === target.toLowerCase());
  if (s === undefined) throw new HoistError(`target stage "${target}" could not be found`, { code: 'build.target-not-found', op: 'build', hint: `Stages: ${df.stages.map((x) => x.name ?? x.index).join(', ')}.` });
  return s.index;
}

function globalArgs(df: Dockerfile, buildArgs: Record<string, string>): Map<string, string> {
  const vars = new Map<string, string>();
  for (const ins of df.globalArgs) {
    for (const a of ins.args) {
      const v = buildArgs[a.name] ?? (a.default === undefined ? undefined : expandWord(a.default, vars, df.directives.escape));
      if (v !== undefined) vars.set(a.name, v);
    }
  }
  return vars;
}

async function runStages(df: Dockerfile, scope: BuildScope, target: number): Promise<{ final: StageResult; steps: number }> {
  const need = neededStages(df, target);
  let steps = 0;
  let final: StageResult | undefined;
  for (const stage of df.stages) {
    if (!need.has(stage.index)) continue;
    const at = `${df.file}:${stage.from.loc.line}`;
    const start = await atLocation(stage.from.loc, () => startStage(scope, stage.from, stage.index, at));
    const done = await evaluateStage(scope, stage, start);
    steps += stage.instructions.length;
    scope.stages.set(String(stage.index), done);
    if (stage.name !== undefined) scope.stages.set(stage.name, done);
    final = done;
    if (stage.index === target) break;
  }
  return { final: final!, steps };
}

const LAYER_TYPES: Record<string, string> = { [MEDIA.dockerLayerGzip]: MEDIA.ociLayerGzip, 'application/vnd.docker.image.rootfs.diff.tar': MEDIA.ociLayer };

async function writeOutput(opts: NativeBuildOptions, final: StageResult, created: string): Promise<Omit<NativeBuildResult, 'steps' | 'durationMs'>> {
  const sink = await openOciLayoutSink(opts.outputDir);
  const referencedOnly: Descriptor[] = [];
  const layers: Descriptor[] = [];
  for (const l of final.layers) {
    const desc = { mediaType: LAYER_TYPES[l.desc.mediaType] ?? l.desc.mediaType, digest: l.desc.digest, size: l.desc.size } as Descriptor;
    layers.push(desc);
    if (await sink.hasBlob(desc)) continue;
    const opener = openerOf(l);
    if (opener === undefined) referencedOnly.push(desc);
    else await sink.putBlob(desc, opener);
  }
  const config = final.image;
  config.created = created;
  if (opts.labels && Object.keys(opts.labels).length > 0) config.config = { ...config.config, Labels: { ...(config.config?.Labels ?? {}), ...opts.labels } };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = { mediaType: MEDIA.ociConfig, digest: sha256Digest(configBytes), size: configBytes.length } as Descriptor;
  await sink.putBlob(configDesc, () => Readable.from([configBytes]));
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDesc, layers };
  const raw = rawManifest(Buffer.from(JSON.stringify(manifest)), MEDIA.ociManifest);
  const tags = opts.tags ?? [];
  if (tags.length === 0) await sink.putManifest(raw);
  for (const t of tags) await sink.putManifest(raw, t);
  await sink.close();
  return { manifestDigest: raw.digest, manifest, configDigest: configDesc.digest, config, outputDir: opts.outputDir, referencedOnly };
}

function openerOf(l: StageLayer): (() => Readable) | undefined {
  if (l.path !== undefined) {
    const path = l.path;
    return () => createReadStream(path);
  }
  const open = l.base?.openBlob;
  return open === undefined ? undefined : () => open(l.desc);
}

/** Build a Dockerfile without RUN into an OCI image layout. */
export async function buildNative(opts: NativeBuildOptions): Promise<NativeBuildResult> {
  const started = Date.now();
  const context = resolve(opts.context);
  const dockerfile = opts.dockerfile ?? join(context, 'Dockerfile');
  const text = await readFile(dockerfile, 'utf8').catch((err: unknown) => {
    throw new HoistError(`cannot read ${dockerfile}`, { code: 'build.dockerfile-missing', op: 'build', cause: err, hint: 'Pass --file, or put a Dockerfile in the context directory.' });
  });
  const df = parseDockerfile(text, opts.dockerfile ?? 'Dockerfile');
  const epoch = opts.sourceDateEpoch ?? 0;
  const spoolParent = opts.tmpDir ?? tmpdir();
  const spool: DiskUse = { dir: spoolParent, what: "the build's temporary layer files", fix: 'point TMPDIR at a directory on a larger disk' };
  const layout: DiskUse = { dir: opts.outputDir, what: 'the OCI image layout', fix: 'write the layout to a larger disk (--output oci:DIR)' };
  const work = await mapDiskFull(spool, () => mkdtemp(join(spoolParent, 'hoist-native-')));
  // A layout directory this build creates is removed again when the build fails: a failed
  // build leaves nothing that looks like an image (an existing layout keeps its old index).
  const createsOutput = !(await stat(opts.outputDir).then(() => true, () => false));
  let n = 0;
  try {
    const scope: BuildScope = {
      file: df.file,
      escape: df.directives.escape,
      context: await loadContext(context),
      buildArgs: opts.buildArgs ?? {},
      globalArgs: globalArgs(df, opts.buildArgs ?? {}),
      stages: new Map(),
      platform: platformOf(opts.platform),
      epoch,
      created: new Date(epoch * 1000).toISOString(),
      level: opts.compressionLevel ?? 1,
      nextLayer: () => ({ path: join(work, `layer-${n++}.tar.gz`) }),
      tempFile: () => join(work, `tmp-${n++}`),
      ...(opts.resolver ? { resolver: opts.resolver } : {}),
    };
    const { final, steps } = await mapDiskFull(spool, () => runStages(df, scope, targetIndex(df, opts.target)));
    const out = await mapDiskFull(layout, () => writeOutput(opts, final, scope.created));
    return { ...out, steps, durationMs: Date.now() - started };
  } catch (err) {
    if (createsOutput) await rm(opts.outputDir, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
