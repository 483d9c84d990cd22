// Which GzipEngine compresses the layers hoist must gzip itself (docker-daemon:, docker-archive:).
// `auto` takes ISA-L's igzip when it is on PATH and the level is one igzip has (1–3): ~3x
// Node's zlib per core at the same ratio (src/image/igzip.ts). Otherwise Node's zlib, which
// needs nothing installed. The native builder never comes here: its layers must compress to
// the same bytes on every machine, so it always uses zlib.

import { HoistError } from '../errors.ts';
import { exec, findOnPath, type Runner } from '../exec/index.ts';
import { IGZIP_LEVELS, igzipEngine } from '../image/igzip.ts';
import { type GzipEngine, ZLIB } from '../image/pgzip.ts';

export const COMPRESSORS = ['auto', 'zlib', 'igzip'] as const;
export type Compressor = (typeof COMPRESSORS)[number];

export function gzipEngineFor(
  choice: Compressor, level: number, env: Readonly<Record<string, string | undefined>>, run: Runner = exec,
): GzipEngine {
  if (choice === 'zlib') return ZLIB;
  const [lo, hi] = IGZIP_LEVELS;
  const fits = level >= lo && level <= hi;
  const program = findOnPath('igzip', env.PATH);
  if (choice === 'auto') return program && fits ? igzipEngine({ program, run, ...tmp(env) }) : ZLIB;
  if (!fits) {
    throw new HoistError(`--compressor igzip cannot compress at level ${level}: igzip has levels ${lo}..${hi}`, {
      code: 'config.invalid', op: 'choose compressor', hint: `Use --compression-level ${lo}..${hi} with igzip, or --compressor zlib for level ${level}.`,
    });
  }
  if (!program) {
    throw new HoistError('--compressor igzip: no igzip on PATH', {
      code: 'config.invalid', op: 'choose compressor', hint: 'Install ISA-L\'s igzip (Debian/Ubuntu: apt-get install isal; Fedora: dnf install isa-l), or use --compressor auto, which falls back to zlib.',
    });
  }
  return igzipEngine({ program, run, ...tmp(env) });
}

/** igzip's block files go where the rest of hoist's temp files go. */
function tmp(env: Readonly<Record<string, string | undefined>>): { tmpDir?: string } {
  return env.TMPDIR ? { tmpDir: env.TMPDIR } : {};
}
