// A `docker save` archive written without Docker (moby image/spec/v1.2: manifest.json, the
// config as <hex>.json, one uncompressed layer.tar per layer, the config's rootfs.diff_ids
// naming each layer's sha256). hoist reads such layers as uncompressed, so `hoist copy
// docker-archive:FILE docker://…` gzips them on the fly and uploads them as a streamed PATCH.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import { exec } from '../../src/exec/index.ts';
import type { SaveRunner } from '../../src/image/docker-daemon.ts';
import { FIXED_MTIME, tar, type TarEntry } from './tar.ts';

export interface DockerArchive {
  file: string;
  /** sha256 of each uncompressed layer tar, in order. */
  diffIds: string[];
  configDigest: string;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Deterministic bytes that gzip poorly (hex of a hash chain), so a compressed layer stays tens of KiB. */
export function hexFiller(seed: string, bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += createHash('sha256').update(`${seed}:${i}`).digest('hex');
  return out.slice(0, bytes);
}

/**
 * Writes `file`: one image named `name`, one layer per entry of `layers` (path → contents).
 * The same arguments always give the same bytes (fixed mtimes, fixed `created`).
 */
export function writeDockerArchive(file: string, name: string, layers: Record<string, string>[]): DockerArchive {
  const tars = layers.map((files) => tar(Object.entries(files).map(([path, data]): TarEntry => ({ type: 'file', path, data, mtime: FIXED_MTIME }))));
  const diffIds = tars.map(sha256);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: new Date(FIXED_MTIME * 1000).toISOString(),
    config: { Cmd: ['/app/run'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created: new Date(FIXED_MTIME * 1000).toISOString(), created_by: 'test/support/docker-archive.ts' })),
  }));
  const configDigest = sha256(config);
  const configName = `${configDigest.slice(7)}.json`;
  const layerNames = diffIds.map((d) => `${d.slice(7)}/layer.tar`);
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [name], Layers: layerNames }]);
  writeFileSync(file, tar([
    { type: 'file', path: configName, data: config },
    ...tars.flatMap((t, i): TarEntry[] => [{ type: 'dir', path: diffIds[i]!.slice(7) }, { type: 'file', path: layerNames[i]!, data: t }]),
    { type: 'file', path: 'manifest.json', data: manifest },
  ]));
  return { file, diffIds, configDigest };
}

/**
 * Runs `cat FILE` in place of `docker save` (the same bytes-on-stdout contract) and answers
 * `docker image inspect` with `diffIds`: the docker CLI as the docker-daemon: source uses it.
 */
export function catRunner(file: string, diffIds: string[]): SaveRunner {
  return (req) => req.args[0] === 'image'
    ? Promise.resolve({ code: 0, stdout: JSON.stringify(diffIds), stderr: '' })
    : exec({ program: 'cat', args: [file], env: { PATH: process.env.PATH }, ...(req.stdout ? { stdout: req.stdout } : {}) });
}
