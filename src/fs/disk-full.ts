// A full disk (ENOSPC) or an exhausted quota (EDQUOT) while hoist writes its own files is an
// environment problem, not a bug: the user needs to know which directory filled and where to
// send the bytes instead, not a bare errno. Every place that spools files maps through here.

import { HoistError, isHoistError } from '../errors.ts';

const FULL = new Set(['ENOSPC', 'EDQUOT']);

export interface DiskUse {
  /** The directory hoist was writing under, as the user names it (TMPDIR, --output DIR). */
  dir: string;
  /** What was being written, e.g. "the build's temporary layer files". */
  what: string;
  /** Where else the bytes can go, e.g. "point TMPDIR at a directory on a larger disk". */
  fix: string;
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isDiskFull(err: unknown): boolean {
  return isHoistError(err, 'disk.full') || FULL.has(errnoOf(err) ?? '');
}

/**
 * `err` as a `disk.full` HoistError naming `use.dir` when the disk filled, else unchanged.
 * A `disk.full` error is re-described: an outer caller knows better which directory the user
 * controls (a builder's private layout lives under TMPDIR, for instance).
 */
export function diskFullError(err: unknown, use: DiskUse): unknown {
  if (!isDiskFull(err)) return err;
  const cause = isHoistError(err, 'disk.full') ? err.cause : err;
  const errno = errnoOf(cause) ?? 'ENOSPC';
  const quota = errno === 'EDQUOT';
  const what = quota ? 'disk quota exceeded' : 'no space left on device';
  return new HoistError(`the disk holding ${use.dir} is full (${errno}: ${what}) while writing ${use.what}`, {
    code: 'disk.full', op: `write ${use.what}`,
    hint: `Free space on the disk that holds ${use.dir}${quota ? ' (or raise the quota)' : ''}, or ${use.fix}.`,
    context: { dir: use.dir, errno },
    cause,
  });
}

/** Runs `fn`, turning a full disk into `disk.full` for `use`. */
export async function mapDiskFull<T>(use: DiskUse, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw diskFullError(err, use);
  }
}
