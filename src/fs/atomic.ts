// One way to replace a file: write a uniquely named temp file beside it (same filesystem),
// fsync, then rename over the target. Readers see the old content or the new, never half;
// concurrent writers never share a temp file; a failed write leaves nothing behind.

import { randomUUID } from 'node:crypto';
import { chmod, open, rename, rm, writeFile } from 'node:fs/promises';

export interface AtomicWriteOptions {
  /** Exact file mode, e.g. 0o600 for credentials (applied before the rename, whatever the umask). */
  mode?: number;
}

export async function writeFileAtomic(file: string, data: string | Buffer, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, data, { mode: opts.mode ?? 0o644 });
    if (opts.mode !== undefined) await chmod(tmp, opts.mode);
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
