// A tiny base image made locally, without any network (DESIGN.md §4): Debian's static
// busybox plus applet symlinks, /etc/passwd, /etc/group, /tmp.
//
//   busyboxRootfsTar()          -> path of a cached rootfs tar
//   ensureDockerBaseImage()     -> `docker import` of it as hoist-test/busybox:latest
//   writeOciLayout(dir, {tag})  -> the same rootfs as an OCI image layout (skopeo oci:DIR:tag)
//   ensureBuildahBaseImage()    -> the same image in containers-storage (buildah FROM)

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { cleanEnv, dockerEnv, run, runOk, testStateDir, withLock } from './components.ts';
import { FIXED_MTIME, tar, type TarEntry } from './tar.ts';

export const DEFAULT_BASE_TAG = 'hoist-test/busybox:latest';
export const DEFAULT_BUILDAH_BASE = 'localhost/hoist-test/busybox:latest';
/** Label carried by every base image made here: sha256 of the rootfs tar (for idempotence checks). */
export const ROOTFS_LABEL = 'org.hoist.test.rootfs';
const BUSYBOX = '/bin/busybox';
const FORMAT_VERSION = '1';
const IMAGE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
const CREATED = new Date(FIXED_MTIME * 1000).toISOString();

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

// ------------------------------------------------------------------ rootfs

function rootfsEntries(busybox: Buffer): TarEntry[] {
  const listed = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8', timeout: 10_000 })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'bin/busybox' && l.includes('/'))
    .sort();
  const dirs = new Set(['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'root', 'tmp', 'var', 'var/tmp', 'home', 'dev', 'proc', 'sys']);
  for (const l of listed) {
    const parts = l.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TarEntry[] = [];
  for (const d of [...dirs].sort()) {
    const mode = d === 'tmp' || d === 'var/tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755;
    entries.push({ type: 'dir', path: d, mode });
  }
  entries.push({ type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 });
  for (const l of listed) entries.push({ type: 'symlink', path: l, target: '/bin/busybox' });
  entries.push({
    type: 'file',
    path: 'etc/passwd',
    data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  });
  entries.push({ type: 'file', path: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' });
  entries.push({ type: 'file', path: 'etc/hostname', data: 'hoist-test\n' });
  return entries;
}

let rootfsPromise: Promise<string> | undefined;

/**
 * Build (once, cached under the test state dir, keyed by the busybox binary) an uncompressed
 * rootfs tar: /bin/busybox (Debian busybox-static) + a symlink per applet (sh, echo, cat, ls,
 * env, sleep, wget, ...), /etc/passwd, /etc/group, /tmp. Resolves to the tar's path.
 */
export function busyboxRootfsTar(): Promise<string> {
  rootfsPromise ??= (async () => {
    if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} not found: install busybox-static (scripts/ensure-test-env.sh)`);
    const busybox = readFileSync(BUSYBOX);
    const key = sha256(FORMAT_VERSION + ':' + sha256(busybox)).slice(0, 16);
    const dir = join(testStateDir(), 'base-image');
    const file = join(dir, `busybox-rootfs-${key}.tar`);
    if (existsSync(file)) return file;
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, tar(rootfsEntries(busybox)));
    renameSync(tmp, file); // atomic: parallel test processes write identical bytes
    return file;
  })();
  rootfsPromise.catch(() => (rootfsPromise = undefined));
  return rootfsPromise;
}

const digestCache = new Map<string, string>();
/** "sha256:<hex>" of a file (memoised per path). */
function fileDigest(path: string): string {
  let d = digestCache.get(path);
  if (!d) {
    d = 'sha256:' + sha256(readFileSync(path));
    digestCache.set(path, d);
  }
  return d;
}

// ------------------------------------------------------------------ docker

export interface DockerBaseImage {
  tag: string;
  /** Local image id (sha256:...). */
  id: string;
  /** true when this call ran `docker import`, false when the image was already there. */
  imported: boolean;
}

/**
 * `docker import` the busybox rootfs as `tag` (CMD ["/bin/sh"]) into the local engine, unless an
 * image with that tag and the same rootfs label is already there. Safe across parallel processes.
 */
export async function ensureDockerBaseImage(
  tag: string = DEFAULT_BASE_TAG,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<DockerBaseImage> {
  const env = opts.env ?? dockerEnv('unix');
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const tarPath = await busyboxRootfsTar();
  const want = fileDigest(tarPath);
  const inspect = async (): Promise<{ id: string; label: string } | undefined> => {
    const r = await run('docker', ['image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${ROOTFS_LABEL}"}}`, tag], {
      env,
      timeoutMs: 30_000,
    });
    if (r.code !== 0) return undefined;
    const [id = '', label = ''] = r.stdout.trim().split(' ');
    return { id, label };
  };
  return withLock(`docker-import-${tag}`, async () => {
    const have = await inspect();
    if (have && have.label === want) return { tag, id: have.id, imported: false };
    await runOk(
      'docker',
      [
        'import',
        '--change',
        'CMD ["/bin/sh"]',
        '--change',
        `ENV ${IMAGE_ENV[0]}`,
        '--change',
        `LABEL ${ROOTFS_LABEL}=${want}`,
        tarPath,
        tag,
      ],
      { env, timeoutMs },
    );
    const now = await inspect();
    if (!now || now.label !== want) throw new Error(`docker import of ${tag} did not produce the expected image`);
    return { tag, id: now.id, imported: true };
  });
}

// ------------------------------------------------------------------ OCI layout

export interface OciBlob {
  mediaType: string;
  digest: string;
  size: number;
}

export interface OciLayoutImage {
  dir: string;
  tag: string;
  /** skopeo/buildah reference: `oci:DIR:TAG`. */
  ref: string;
  manifest: OciBlob;
  config: OciBlob;
  layers: (OciBlob & { diffId: string })[];
}

export interface WriteOciLayoutOptions {
  /** Tag recorded as org.opencontainers.image.ref.name (default "latest"). */
  tag?: string;
  /**
   * Files for an extra layer on top of the busybox rootfs (path -> content), e.g. to make
   * images with distinct digests. Parent directories are created in the layer.
   */
  extraFiles?: Record<string, string | Uint8Array>;
  /** Extra config labels. */
  labels?: Record<string, string>;
}

function ociArch(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    default:
      return process.arch; // arm64, arm, ppc64, s390x, riscv64 match OCI names
  }
}

function extraLayerEntries(files: Record<string, string | Uint8Array>): TarEntry[] {
  const dirs = new Set<string>();
  const names = Object.keys(files)
    .map((p) => p.replace(/^\/+/, ''))
    .sort();
  for (const n of names) {
    const parts = n.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TarEntry[] = [...dirs].sort().map((d) => ({ type: 'dir' as const, path: d, mode: d === 'tmp' ? 0o1777 : 0o755 }));
  for (const [p, data] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    entries.push({ type: 'file', path: p.replace(/^\/+/, ''), data, mode: 0o644 });
  }
  return entries;
}

/**
 * Write the busybox rootfs as an OCI image layout in `dir` (created if needed): oci-layout,
 * index.json, blobs/sha256/{gzip layer(s), config with rootfs.diff_ids, manifest}. Uses only
 * node:zlib and node:crypto. An existing layout in `dir` keeps its other tags (the entry for
 * `tag` is replaced). Deterministic: same inputs, same digests.
 */
export async function writeOciLayout(dir: string, opts: WriteOciLayoutOptions = {}): Promise<OciLayoutImage> {
  const tag = opts.tag ?? 'latest';
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const putBlob = (data: Uint8Array, mediaType: string): OciBlob => {
    const hex = sha256(data);
    const p = join(blobs, hex);
    if (!existsSync(p)) writeFileSync(p, data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };

  const layerTars: Buffer[] = [readFileSync(await busyboxRootfsTar())];
  if (opts.extraFiles && Object.keys(opts.extraFiles).length > 0) layerTars.push(tar(extraLayerEntries(opts.extraFiles)));
  const layers = layerTars.map((t) => ({
    ...putBlob(gzipSync(t, { level: 6 }), 'application/vnd.oci.image.layer.v1.tar+gzip'),
    diffId: `sha256:${sha256(t)}`,
  }));

  const config = {
    created: CREATED,
    architecture: ociArch(),
    os: 'linux',
    config: {
      Env: IMAGE_ENV,
      Cmd: ['/bin/sh'],
      Labels: { [ROOTFS_LABEL]: layers[0]!.diffId, ...(opts.labels ?? {}) },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({
      created: CREATED,
      created_by: i === 0 ? 'hoist test support: busybox rootfs' : 'hoist test support: extra files',
    })),
  };
  const configBlob = putBlob(Buffer.from(JSON.stringify(config)), 'application/vnd.oci.image.config.v1+json');

  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: configBlob.mediaType, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBlob = putBlob(Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');

  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexPath = join(dir, 'index.json');
  type IndexEntry = OciBlob & { annotations?: Record<string, string> };
  let existing: IndexEntry[] = [];
  if (existsSync(indexPath)) {
    try {
      const idx = JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests?: IndexEntry[] };
      existing = (idx.manifests ?? []).filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
    } catch {
      existing = [];
    }
  }
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      ...existing,
      { ...manifestBlob, annotations: { 'org.opencontainers.image.ref.name': tag } },
    ],
  };
  const tmp = `${indexPath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(index));
  renameSync(tmp, indexPath);

  return { dir, tag, ref: `oci:${dir}:${tag}`, manifest: manifestBlob, config: configBlob, layers };
}

// ------------------------------------------------------------------ buildah / containers-storage

/**
 * Put the busybox image into containers-storage as `name` (for `buildah from` / FROM in buildah
 * builds), via `skopeo copy oci:... containers-storage:name`. Idempotent (checks the rootfs label).
 */
export async function ensureBuildahBaseImage(
  name: string = DEFAULT_BUILDAH_BASE,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ name: string; imported: boolean }> {
  const env = opts.env ?? cleanEnv();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const want = fileDigest(await busyboxRootfsTar());
  return withLock(`buildah-import-${name}`, async () => {
    const r = await run('skopeo', ['inspect', '--format', `{{index .Labels "${ROOTFS_LABEL}"}}`, `containers-storage:${name}`], {
      env,
      timeoutMs: 30_000,
    });
    if (r.code === 0 && r.stdout.trim() === want) return { name, imported: false };
    const dir = mkdtempSync(join(tmpdir(), 'hoist-oci-'));
    try {
      const img = await writeOciLayout(dir, { tag: 'latest' });
      await runOk('skopeo', ['copy', '--quiet', img.ref, `containers-storage:${name}`], { env, timeoutMs });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return { name, imported: true };
  });
}
