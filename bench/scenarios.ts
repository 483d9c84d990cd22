// Bench scenarios beyond plain copies: peak memory on a huge layer.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, run, runOk } from '../test/support/components.ts';
import type { Row } from './run.ts';

interface MemoryDeps {
  rows: Row[];
  goal: (scenario: string, text: string, value: number, ok: (v: number) => boolean, unit?: string) => void;
  withRegistry: <T>(fn: (host: string) => Promise<T>) => Promise<T>;
  hoist: string;
  work: string;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/**
 * An OCI layout whose single layer is 2 GiB. The bytes are random (a registry does not read
 * layer contents), so the push path is measured, not compression.
 */
async function twoGigLayout(dir: string): Promise<string> {
  if (existsSync(join(dir, 'index.json'))) return dir;
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const tmp = join(dir, 'layer.tmp');
  await runOk('bash', ['-c', `head -c 2147483648 /dev/urandom > '${tmp}'`], { timeoutMs: 600_000 });
  const layer = await sha256File(tmp);
  renameSync(tmp, join(dir, 'blobs', 'sha256', layer.slice(7)));
  const put = (v: unknown) => {
    const b = Buffer.from(JSON.stringify(v));
    const d = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const config = put({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer] } });
  const manifest = put({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: statSync(join(dir, 'blobs', 'sha256', layer.slice(7))).size }],
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'big' } }] }));
  return dir;
}

export async function hugeLayerImage(d: MemoryDeps): Promise<void> {
  const s = 'peak memory, one 2 GiB layer';
  const dir = await twoGigLayout(join(d.work, 'big'));
  const kb = await d.withRegistry(async (h) => {
    const r = await run('/usr/bin/time', ['-f', '%M %e', process.execPath, d.hoist, 'copy', '--quiet', '--no-cache', `oci:${dir}:big`, `docker://${h}/big:1`],
      { env: cleanEnv(), timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`hoist copy of the 2 GiB layer failed: ${r.stderr.slice(-2000)}`);
    const [rss, secs] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    d.rows.push({ scenario: s, tool: 'hoist copy oci: (wall s)', stat: { min: secs!, median: secs!, runs: [secs!] } });
    return rss!;
  });
  d.goal(s, 'peak RSS at most 150 MB', kb / 1024, (mb) => mb <= 150, 'MB');
}
