// `hoist copy` as the fault matrices run it: the built CLI, a clean environment, no digest
// cache (each run must do every HEAD and upload itself), --json for the reported digest.
// Plus the images they copy: an OCI layout built FROM scratch by `hoist build --builder native`.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, run, runOk, type RunResult } from './components.ts';
import { HOIST } from './sandbox-cli.ts';

export interface CopyRun extends RunResult {
  ms: number;
  /** The digest hoist reported (exit 0 only). */
  digest?: string;
  /** Blobs found, uploaded, mounted and compressed on the fly (exit 0 only). */
  stats?: { present: number; uploaded: number; mounted: number; compressed: number };
}

export async function hoistCopy(src: string, dst: string, opts: { env?: Record<string, string>; args?: string[]; timeoutMs?: number } = {}): Promise<CopyRun> {
  const env = cleanEnv({ SOURCE_DATE_EPOCH: '1700000000', ...opts.env });
  const t0 = performance.now();
  const r = await run(process.execPath, [HOIST, 'copy', src, dst, '--json', '--no-cache', ...(opts.args ?? [])], { env, timeoutMs: opts.timeoutMs ?? 90_000 });
  const ms = Math.round(performance.now() - t0);
  if (r.code !== 0) return { ...r, ms };
  const report = JSON.parse(r.stdout) as { digest: string; stats: NonNullable<CopyRun['stats']> };
  return { ...r, ms, digest: report.digest, stats: report.stats };
}

function filler(seed: string, bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += createHash('sha256').update(`${seed}:${i}`).digest('hex') + '\n';
  return out.slice(0, bytes);
}

/**
 * An OCI layout (tag `1`) built FROM scratch by `hoist build --builder native`: a config and
 * three layers of a few tens of KiB each, so every body is long enough to be cut mid-way.
 */
export async function buildOciLayout(root: string): Promise<string> {
  const ctx = mkdtempSync(join(tmpdir(), 'hoist-fault-ctx-'));
  for (const d of ['lib', 'share', 'app']) mkdirSync(join(ctx, d));
  writeFileSync(join(ctx, 'lib', 'lib.txt'), filler('lib', 48 * 1024));
  writeFileSync(join(ctx, 'share', 'share.txt'), filler('share', 32 * 1024));
  writeFileSync(join(ctx, 'app', 'app.txt'), filler('app', 24 * 1024));
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY lib/ /usr/lib/x/\nCOPY share/ /usr/share/x/\nCOPY app/ /app/\nCMD ["/app/app.txt"]\n');
  const layout = join(root, 'layout');
  const env = cleanEnv({ SOURCE_DATE_EPOCH: '1700000000', XDG_CACHE_HOME: join(root, 'cache') });
  await runOk(process.execPath, [HOIST, 'build', '--builder', 'native', '--context', ctx, '--output', `oci:${layout}:1`], { env, timeoutMs: 60_000 });
  return layout;
}
