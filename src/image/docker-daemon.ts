// `docker-daemon:IMAGE`: the image as the engine holds it, read from `docker save` (run
// through the exec runner: no shell, explicit env). The archive goes to a private temp file
// that is removed when the source closes; its layers are then streamed by offset.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoistError } from '../errors.ts';
import { openDockerArchiveSource } from './docker-archive.ts';
import type { ImageSource } from './source.ts';

/** The slice of exec's Runner this needs (image/ may not import its sibling exec/). */
export type SaveRunner = (req: {
  program: string; args: readonly string[]; env: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number; op?: string; signal?: AbortSignal;
}) => Promise<{ code: number; stderr: string }>;

export interface DockerDaemonOptions {
  run: SaveRunner;
  /** Environment for the docker CLI (PATH, DOCKER_HOST, DOCKER_CONFIG, HOME, …). */
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
}

export async function openDockerDaemonSource(image: string, opts: DockerDaemonOptions): Promise<ImageSource> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-save-'));
  const file = join(dir, 'image.tar');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const r = await opts.run({
      program: 'docker', args: ['save', '-o', file, image], env: opts.env, timeoutMs: 60 * 60_000, op: 'docker save',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (r.code !== 0) {
      throw new HoistError(`docker save ${image} failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`, {
        code: 'image.daemon-failed', op: 'docker save', hint: 'Check that the image exists (docker image ls) and DOCKER_HOST reaches the engine.',
      });
    }
    // `docker save` of one image writes exactly one manifest.json entry: no name to pick.
    return await openDockerArchiveSource(file, { onClose: cleanup, label: `docker-daemon:${image}` });
  } catch (err) {
    await cleanup();
    throw err;
  }
}

