// Which backend builds: `--builder docker|native|auto` (or HOIST_BUILDER). `auto` takes the
// daemonless native builder when no stage the target needs has a RUN, Docker otherwise.

import { readFile } from 'node:fs/promises';
import type { Builder } from '../build/builder.ts';
import { createDockerBuilder } from '../build/docker.ts';
import { neededStages, parseSourceDateEpoch } from '../build/native.ts';
import { HoistError } from '../errors.ts';
import { parseDockerfile } from '../model/dockerfile/index.ts';
import { defaultCacheDir } from './copy.ts';
import { EnginePushBuilder, type Pusher } from './engine-push.ts';
import { NativePushBuilder } from './native-push.ts';

export type BuilderKind = 'docker' | 'native' | 'auto';
export const BUILDER_KINDS: readonly BuilderKind[] = ['docker', 'native', 'auto'];

export function parseBuilderKind(raw: string | undefined, source: string): BuilderKind {
  const v = (raw ?? 'docker').trim().toLowerCase();
  if ((BUILDER_KINDS as readonly string[]).includes(v)) return v as BuilderKind;
  throw new HoistError(`${source}: "${raw}" is not a builder`, { code: 'config.invalid', hint: 'Use docker, native or auto.' });
}

/** True when building `target` would run no RUN instruction. */
export async function needsNoRun(dockerfile: string, target: string | undefined): Promise<boolean> {
  const df = parseDockerfile(await readFile(dockerfile, 'utf8'), dockerfile);
  const last = df.stages.length - 1;
  const index = target === undefined ? last : df.stages.findIndex((s) => s.name?.toLowerCase() === target.toLowerCase());
  const stages = neededStages(df, index < 0 ? last : index);
  return [...stages].every((i) => df.stages[i]!.instructions.every((ins) => ins.kind !== 'RUN'));
}

export async function selectBuilder(
  kind: BuilderKind, build: { file: string; target?: string }, env: Readonly<Record<string, string | undefined>>, pusher: Pusher = 'auto',
): Promise<Builder> {
  const native = kind === 'native' || (kind === 'auto' && await needsNoRun(build.file, build.target));
  if (!native) {
    const cacheDir = defaultCacheDir(env);
    return new EnginePushBuilder(createDockerBuilder({ env: { ...env } }), { pusher, env, ...(cacheDir ? { cacheDir } : {}) });
  }
  if (pusher === 'docker') {
    throw new HoistError('--pusher docker needs the docker builder: the native builder\'s image is an OCI layout, which only hoist pushes', {
      code: 'config.invalid', hint: 'Use --builder docker with --pusher docker, or leave --pusher at auto.',
    });
  }
  const epoch = env.SOURCE_DATE_EPOCH;
  return new NativePushBuilder({
    ...(epoch ? { sourceDateEpoch: parseSourceDateEpoch(epoch) } : {}),
    ...(env.TMPDIR ? { tmpDir: env.TMPDIR } : {}),
  });
}
