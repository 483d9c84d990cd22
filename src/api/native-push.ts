// The native builder with a registry behind it: `FROM <image>` is resolved through hoist's
// registry client (manifest and config only), and the built OCI layout is pushed with the
// copy engine. Base layers are never downloaded when the target registry already has them
// (HEAD) or can mount them from the base's repository (same registry); only when neither
// holds are they streamed from the base registry (DESIGN §1, native builder).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Builder, BuildRequest, BuildResult, PushRequest, PushResult, RegistryCredential } from '../build/builder.ts';
import { baseFromSource, parseOciRef, resolveOciLayout, type BaseImage, type BaseResolver } from '../build/native-base.ts';
import { NativeBuilder } from '../build/native-builder.ts';
import type { Descriptor } from '../image/descriptor.ts';
import { openOciLayoutSource } from '../image/oci-layout.ts';
import type { BlobOrigin, ImageSource } from '../image/source.ts';
import type { Platform } from '../model/platform.ts';
import { parseReference } from '../model/reference.ts';
import { RegistryClient } from '../registry/client.ts';
import { registrySource } from '../registry/transports.ts';
import { HoistError, isHoistError } from '../errors.ts';
import { type DiskUse, mapDiskFull } from '../fs/disk-full.ts';
import { DEFAULT_RETRY, withRetry } from '../http/retry.ts';
import { RegistryPush } from './registry-push.ts';

interface BaseLayer {
  source: ImageSource;
  origin: BlobOrigin;
}

/** Resolves registry bases by manifest and config, remembering where each base layer lives. */
export class RegistryBaseResolver implements BaseResolver {
  readonly layers = new Map<string, BaseLayer>();

  constructor(private readonly client: RegistryClient) {}

  async resolve(ref: string, platform: Platform | undefined): Promise<BaseImage> {
    if (parseOciRef(ref)) return resolveOciLayout(ref, platform);
    const parsed = parseReference(ref, 'FROM');
    if (!parsed.ok) throw new HoistError(`FROM ${ref}: ${parsed.problem.message}`, { code: 'build.base-reference', op: 'FROM' });
    const { registry = 'docker.io', repository, tag, digest } = parsed.value;
    const source = registrySource(this.client.repository(registry, repository), digest ?? tag ?? 'latest', ref);
    // The config is read as a stream after its GET succeeded, beyond that request's own retry:
    // when its body breaks off, the (read-only) resolution runs again.
    const base = await withRetry(() => baseFromSource(source, platform, false), {
      ...DEFAULT_RETRY, attempts: 3, retryable: (err) => isHoistError(err, 'registry.body-broken'),
    });
    for (const l of base.manifest.layers) this.layers.set(l.digest, { source, origin: { registry, repository } });
    return base;
  }
}

export interface NativePushOptions {
  sourceDateEpoch?: number;
  compressionLevel?: number;
  tmpDir?: string;
}

export class NativePushBuilder implements Builder {
  readonly backend = 'native';
  readonly #push = new RegistryPush();
  readonly #resolver = new RegistryBaseResolver(this.#push.client);
  #dir: string | undefined;
  #inner: NativeBuilder | undefined;

  constructor(private readonly opts: NativePushOptions = {}) {}

  private async inner(): Promise<NativeBuilder> {
    const parent = this.#spool().dir;
    this.#dir ??= await mapDiskFull(this.#spool(), () => mkdtemp(join(parent, 'hoist-native-')));
    this.#inner ??= new NativeBuilder({ outputDir: this.#dir, resolver: this.#resolver, ...this.opts });
    return this.#inner;
  }

  /** Layer files and the layout to push both live under TMPDIR: a full disk there is fixed there. */
  #spool(): DiskUse {
    return { dir: this.opts.tmpDir ?? tmpdir(), what: 'the image before it is pushed (layer files and an OCI layout)', fix: 'point TMPDIR at a directory on a larger disk' };
  }

  async check() {
    return (await this.inner()).check();
  }

  async login(cred: RegistryCredential): Promise<void> {
    this.#push.login(cred);
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    return mapDiskFull(this.#spool(), async () => (await this.inner()).build(req));
  }

  async push(req: PushRequest): Promise<PushResult> {
    const built = this.#inner?.last;
    if (!built || !this.#dir) throw new HoistError('nothing was built to push', { code: 'build.native-push', op: 'push' });
    const dir = this.#dir;
    // The build stored its manifest in the layout under every ref it was asked to tag.
    const sourceFor = async (ref: string) => withBaseLayers(await openOciLayoutSource(dir, ref), this.#resolver.layers);
    return { pushed: await this.#push.toRefs(req.refs, sourceFor) };
  }

  async dispose(): Promise<void> {
    this.#push.close();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/** The layout's blobs, plus base layers it only references, served from (and mountable from) the base's registry. */
function withBaseLayers(layout: ImageSource, base: ReadonlyMap<string, BaseLayer>): ImageSource {
  return {
    ...layout,
    originOf: (d: Descriptor) => base.get(d.digest)?.origin,
    blob: (d: Descriptor) => base.get(d.digest)?.source.blob(d) ?? layout.blob(d),
    unverifiedBlob: (d: Descriptor) => base.get(d.digest)?.source.blob(d) ?? (layout.unverifiedBlob ?? layout.blob)(d),
  };
}
