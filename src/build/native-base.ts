// Base images for the native builder. `FROM <image>` goes through a BaseResolver (the registry
// client implements one: it fetches only the manifest and config, and lets the builder keep the
// layers by reference); `FROM oci:DIR[:TAG]` reads an OCI image layout directly.

import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';

import { HoistError } from '../errors.ts';
import { type Descriptor, type ImageManifest, isIndexType, parseImageIndex, parseImageManifest } from '../image/descriptor.ts';
import type { ImageConfig } from '../image/image-config.ts';
import { openOciLayoutSource } from '../image/oci-layout.ts';
import type { ImageSource } from '../image/source.ts';
import { readAll } from '../image/streams.ts';
import type { Platform } from '../model/platform.ts';

/** What the builder needs of a base image. */
export interface BaseImage {
  /** For messages, e.g. `oci:/tmp/base:latest` or `registry.example/app:1`. */
  name: string;
  manifest: ImageManifest;
  config: ImageConfig;
  /**
   * Opens a layer blob (bytes as the manifest describes them). Absent when the layers are only
   * referenced (a registry base whose blobs the target registry already has or can mount):
   * then the build cannot read the base's files (no `--chown=name`, no existing-dir checks).
   */
  openBlob?(desc: Descriptor): Readable;
}

export interface BaseResolver {
  /** Resolve `ref` (as written after FROM, variables expanded) for `platform`. */
  resolve(ref: string, platform: Platform | undefined): Promise<BaseImage>;
}

function platformMatches(d: Descriptor, p: Platform): boolean {
  const dp = d.platform;
  return dp !== undefined && dp.os === p.os && dp.architecture === p.architecture && (p.variant === undefined || dp.variant === p.variant);
}

/** Read manifest (choosing from an index by platform) and config from any ImageSource. */
export async function baseFromSource(source: ImageSource, platform: Platform | undefined, keepBlobs = true): Promise<BaseImage> {
  let raw = await source.manifest();
  if (isIndexType(raw.mediaType)) {
    const index = parseImageIndex(raw.bytes);
    const want = platform ?? { os: 'linux', architecture: 'amd64' };
    const hit = index.manifests.find((d) => platformMatches(d, want)) ?? (platform === undefined && index.manifests.length === 1 ? index.manifests[0] : undefined);
    if (hit === undefined) {
      const have = index.manifests.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}` : '?')).join(', ');
      throw new HoistError(`${source.name} has no image for ${want.os}/${want.architecture}`, { code: 'build.base-platform', op: 'FROM', hint: `Available: ${have}. Use FROM --platform=… or --platform.` });
    }
    raw = await source.manifestByDigest(hit);
  }
  const manifest = parseImageManifest(raw.bytes);
  const configBytes = await readAll(source.blob(manifest.config)(), 8 * 1024 * 1024);
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  const base: BaseImage = { name: source.name, manifest, config };
  if (keepBlobs) base.openBlob = (d) => source.blob(d)();
  return base;
}

/** `oci:DIR` or `oci:DIR:TAG`. */
export function parseOciRef(ref: string): { dir: string; tag?: string } | undefined {
  if (!ref.startsWith('oci:')) return undefined;
  const rest = ref.slice(4);
  const m = /^(.*):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(rest);
  return m && !m[1]!.endsWith('/') && m[1] !== '' ? { dir: m[1]!, tag: m[2]! } : { dir: rest };
}

export async function resolveOciLayout(ref: string, platform: Platform | undefined): Promise<BaseImage> {
  const parsed = parseOciRef(ref)!;
  await readFile(`${parsed.dir}/oci-layout`).catch((err: unknown) => {
    throw new HoistError(`FROM ${ref}: ${parsed.dir} is not an OCI image layout`, { code: 'build.base-not-found', op: 'FROM', cause: err, hint: 'Give a directory holding oci-layout and index.json (as skopeo copy … oci:DIR:TAG writes).' });
  });
  return baseFromSource(await openOciLayoutSource(parsed.dir, parsed.tag), platform);
}

/**
 * A BaseResolver over OCI layouts: image names map to `oci:DIR[:TAG]` (tests, air-gapped CI,
 * images saved with skopeo). Unknown names fail with the list of known ones.
 */
export class OciLayoutResolver implements BaseResolver {
  constructor(private readonly images: Readonly<Record<string, string>>) {}
  resolve(ref: string, platform: Platform | undefined): Promise<BaseImage> {
    const target = this.images[ref] ?? (ref.includes(':') ? undefined : this.images[`${ref}:latest`]);
    if (target === undefined) {
      return Promise.reject(new HoistError(`FROM ${ref}: no such base image`, { code: 'build.base-not-found', op: 'FROM', hint: `Known images: ${Object.keys(this.images).join(', ') || 'none'}.` }));
    }
    return resolveOciLayout(target.startsWith('oci:') ? target : `oci:${target}`, platform);
  }
}
