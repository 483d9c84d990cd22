// Bench fixtures: a realistic image (system libraries and text from this machine, not just
// random bytes) written as an OCI layout with gzip layers, deterministic for a given machine.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchLayer {
  digest: string;
  size: number;
  diffId: string;
  file: string;
}

export interface BenchImage {
  dir: string;
  tag: string;
  layers: BenchLayer[];
  manifestDigest: string;
  totalCompressed: number;
}

function sha256File(file: string): string {
  return `sha256:${execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]}`;
}

/** Regular files under `root`, sorted, until `budget` bytes of content are collected. */
function pickFiles(roots: string[], budget: number, skip: Set<string>): string[] {
  const out: string[] = [];
  let total = 0;
  for (const root of roots) {
    const listing = execFileSync('find', [root, '-xdev', '-type', 'f', '-size', '-50M'], { encoding: 'utf8', maxBuffer: 1 << 28 })
      .split('\n').filter(Boolean).sort();
    for (const f of listing) {
      if (skip.has(f)) continue;
      const size = statSync(f, { throwIfNoEntry: false })?.size ?? 0;
      out.push(f);
      skip.add(f);
      total += size;
      if (total >= budget) return out;
    }
  }
  return out;
}

/** One gzip layer of about `rawBytes` of the given trees (tar sorted, owners and mtimes fixed). */
function makeLayer(dir: string, name: string, roots: string[], rawBytes: number, used: Set<string>, level: number): BenchLayer {
  const list = join(dir, `${name}.list`);
  writeFileSync(list, pickFiles(roots, rawBytes, used).map((f) => f.slice(1)).join('\n') + '\n');
  const tarFile = join(dir, `${name}.tar`);
  execFileSync('tar', ['-C', '/', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner',
    '--ignore-failed-read', '-cf', tarFile, '-T', list], { stdio: ['ignore', 'ignore', 'ignore'] });
  const diffId = sha256File(tarFile);
  execFileSync('gzip', ['-n', `-${level}`, '-f', tarFile]);
  const gz = `${tarFile}.gz`;
  const digest = sha256File(gz);
  const blob = join(dir, 'blobs', 'sha256', digest.slice(7));
  renameSync(gz, blob);
  return { digest, size: statSync(blob).size, diffId, file: blob };
}

/** Compression ratios differ per tree: one calibrated retry brings a layer near its share. */
function sizedLayer(dir: string, name: string, roots: string[], raw: number, share: number, used: Set<string>): BenchLayer {
  const before = new Set(used);
  const first = makeLayer(dir, name, roots, raw, used, 6);
  if (first.size > share * 0.7) return first;
  used.clear();
  for (const f of before) used.add(f);
  return makeLayer(dir, name, roots, Math.min(raw * (share / Math.max(first.size, 1)), 3e9), used, 6);
}

function putJson(dir: string, value: unknown): { digest: string; size: number } {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { digest, size: bytes.length };
}

/**
 * A 5-layer image of roughly `targetCompressed` bytes, built once and cached in `dir`.
 * Layers: shared libraries (three), documentation text, and a local tree of tools.
 */
export function benchImage(dir: string, targetCompressed = 310_000_000): BenchImage {
  const done = join(dir, 'bench-image.json');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as BenchImage;
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const used = new Set<string>();
  // Libraries compress to ~35-40 % with gzip; aim each layer's raw size at 2.6x its share.
  const share = targetCompressed / 5;
  const plan: [string, string[], number][] = [
    ['libs-a', ['/usr/lib/x86_64-linux-gnu'], share * 2.6],
    ['libs-b', ['/usr/lib/x86_64-linux-gnu', '/usr/lib'], share * 2.6],
    ['libs-c', ['/usr/lib', '/usr/local/lib'], share * 2.6],
    ['text', ['/usr/share'], share * 4],
    ['tools', ['/usr/local', '/opt'], share * 2.4],
  ];
  const layers = plan.map(([name, roots, raw]) => sizedLayer(dir, name, roots, raw, share, used));
  const config = putJson(dir, {
    architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  });
  const manifest = putJson(dir, {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
  }));
  const image: BenchImage = { dir, tag: 'bench', layers, manifestDigest: manifest.digest, totalCompressed: layers.reduce((a, l) => a + l.size, 0) };
  writeFileSync(done, JSON.stringify(image, null, 2));
  return image;
}
