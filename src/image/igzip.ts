// ISA-L's igzip as a GzipEngine: one process per block (32 MiB in memory, 64 MiB file to file),
// each block one gzip member.
//
// Why: layers read from a Docker engine arrive uncompressed, and compressing them is the whole
// cost of `hoist copy docker-daemon:` once the engine's export has started. On this project's
// bench layers (system libraries and text, 2 cores) Node's zlib level 1 compresses ~130 MB/s
// per core; igzip -1 ~410 MB/s at the same ratio (39.9 % against 38.9 %), thanks to its
// hand-written AVX2/AVX-512 deflate. Levels 1–3 are igzip's own (it has no 4–9).
//
// How: igzip reads and writes files (stdinFile / stdoutFile of the exec runner): through 64 KiB
// pipes it managed only 330 MB/s. memberFile() is that, file to file; the docker-daemon: source
// writes each block to its spool as the bytes arrive and keeps the members as the blob
// (pgzip-files.ts). member() serves ParallelGzip (docker-archive:) through a private temp dir
// per block. Each block is a process start (a fork copies the Node process's page tables: ~3 ms
// per 200 MB resident): 32 MiB blocks measured 15.2 s end to end against 15.5-16.0 s for 16 MiB
// and 8 MiB when blocks were held in memory; file to file, 64 MiB (~23 starts for the 1.45 GB
// bench save) beat 32 MiB once the next layer no longer waited for the last members.
//
// Not for the native builder: igzip picks its code path by CPU, so the same input can compress
// to different bytes on different machines, and a native build must give one digest everywhere.
// Layers from an engine carry no such promise (docker push compresses them afresh each time);
// the digest cache remembers what each one became.

import { mkdtemp, readFile, rm, statfs } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { HoistError } from '../errors.ts';
import type { GzipEngine } from './pgzip.ts';
import { writeBlockFile } from './pgzip-files.ts';

/** The slice of exec's Runner this needs (image/ may not import its sibling exec/). */
export type FileRunner = (req: {
  program: string; args: readonly string[]; env: Readonly<Record<string, string | undefined>>;
  stdinFile: string; stdoutFile: string; timeoutMs: number; op: string;
}) => Promise<{ code: number; stderr: string }>;

export const IGZIP_BLOCK = 32 << 20;
/**
 * Blocks compressed file to file (the docker-daemon: spool, pgzip-files.ts) hold no memory, so
 * they can be larger: half the process starts and members. Measured on the bench save, 19 runs
 * alternating with 32 MiB: faster in 14 of them, by ~2-4 % of the whole copy.
 */
export const IGZIP_FILE_BLOCK = 64 << 20;
/** igzip's levels; hoist's default level 1 is igzip -1. */
export const IGZIP_LEVELS: readonly [number, number] = [1, 3];

export interface IgzipOptions {
  /** Absolute path of the igzip binary. */
  program: string;
  run: FileRunner;
  /** Parent of the per-block temp dirs (default: the OS temp dir, i.e. TMPDIR). */
  tmpDir?: string;
}

export function igzipEngine(opts: IgzipOptions): GzipEngine {
  return {
    name: 'igzip',
    block: IGZIP_BLOCK,
    fileBlock: IGZIP_FILE_BLOCK,
    // One process per core: more only time-slice the same cores.
    inFlight: Math.max(2, availableParallelism()),
    member: (parts, level) => igzipMember(opts, parts, level),
    memberFile: (input, output, level) => igzipFile(opts, input, output, level),
  };
}

async function igzipMember(opts: IgzipOptions, parts: readonly Buffer[], level: number): Promise<Buffer> {
  // A directory per block: nothing to collide with, one rm whatever happened.
  const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'hoist-igzip-'));
  try {
    const input = join(dir, 'in');
    const output = join(dir, 'out.gz');
    await writeBlockFile(input, parts);
    // The block is on disk: its 32 MiB need not stay in memory while igzip runs. A smaller
    // process also forks faster (page tables are copied per spawn, ~3 ms per 200 MB resident).
    release(parts);
    await igzipFile(opts, input, output, level);
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One gzip member of the file `input`, written to `output`. */
async function igzipFile(opts: IgzipOptions, input: string, output: string, level: number): Promise<void> {
  checkLevel(level);
  const r = await opts.run({
    program: opts.program, args: [`-${level}`, '--stdout', '--no-name', '--quiet'], env: {},
    stdinFile: input, stdoutFile: output, timeoutMs: 10 * 60_000, op: 'igzip',
  });
  if (r.code !== 0) throw igzipFailed(opts.program, r.code, r.stderr, dirname(output), await spaceLeft(dirname(output)));
}

function checkLevel(level: number): void {
  const [lo, hi] = IGZIP_LEVELS;
  if (!Number.isInteger(level) || level < lo || level > hi) throw new RangeError(`igzip compresses at levels ${lo}..${hi}, not ${level}`);
}

/** Empties a parts list handed over by ParallelGzip (GzipEngine.member owns it). */
function release(parts: readonly Buffer[]): void {
  (parts as Buffer[]).length = 0;
}


/** Bytes an unprivileged writer can still use under `dir`. */
async function spaceLeft(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** Below this, a failed write was the disk filling up. */
const FULL_BELOW = 1 << 20;

function igzipFailed(program: string, code: number, stderr: string, dir: string, free: number): Error {
  const last = stderr.trim().split('\n').pop() ?? '';
  // igzip says only "Error encountered while writing to file" when the disk fills, so the
  // free space decides. As an errno the failure reaches disk-full.ts, and the user learns which
  // directory filled instead of reading igzip's message.
  if (free < FULL_BELOW && /writ/i.test(last)) {
    return Object.assign(new Error(`${program}: ${last} (${free} bytes left under ${dir})`), { code: 'ENOSPC' });
  }
  return new HoistError(`${program} failed (exit ${code})${last ? `: ${last}` : ''}`, {
    code: 'image.compress-failed', op: 'igzip',
    hint: 'Run the copy with --compressor zlib to compress with Node\'s zlib instead, and report the igzip failure.',
  });
}
