// The native backend behind the Builder interface. It builds into an OCI image layout; pushing
// that layout is the registry client's job (`push()` says so), so the builder stays daemonless
// and never touches the network except through the BaseResolver it is given.

import { HoistError } from '../errors.ts';
import type { Builder, BuilderInfo, BuildRequest, BuildResult, PushRequest, PushResult, RegistryCredential } from './builder.ts';
import type { BaseResolver } from './native-base.ts';
import { buildNative, type NativeBuildResult } from './native.ts';

export interface NativeBuilderOptions {
  /** OCI image layout directory the builds are written to. */
  outputDir: string;
  resolver?: BaseResolver;
  /** SOURCE_DATE_EPOCH (seconds), parsed by the caller (parseSourceDateEpoch). */
  sourceDateEpoch?: number;
  compressionLevel?: number;
  /** Default platform when a request has none (default linux/amd64). */
  defaultPlatform?: string;
  tmpDir?: string;
}

export class NativeBuilder implements Builder {
  readonly backend = 'native';
  /** The last build's full result (manifest digest, layout, referenced-only layers). */
  last: NativeBuildResult | undefined;
  private readonly creds = new Map<string, RegistryCredential>();

  constructor(private readonly opts: NativeBuilderOptions) {}

  check(): Promise<BuilderInfo> {
    return Promise.resolve({
      backend: 'native',
      version: '1',
      endpoint: `oci:${this.opts.outputDir}`,
      mode: 'daemonless',
      inlineCache: false,
      notes: ['RUN instructions need --builder docker or --builder buildah; the native builder assembles layers without running anything.'],
    });
  }

  /** Kept for the base resolver's registry (a registry-backed resolver reads them through credential()). */
  login(cred: RegistryCredential): Promise<void> {
    this.creds.set(cred.registry, cred);
    return Promise.resolve();
  }

  credential(registry: string): RegistryCredential | undefined {
    return this.creds.get(registry);
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    const platform = req.platform ?? this.opts.defaultPlatform;
    const r = await buildNative({
      context: req.context,
      outputDir: this.opts.outputDir,
      tags: req.tags,
      ...(req.dockerfile !== undefined ? { dockerfile: req.dockerfile } : {}),
      ...(req.buildArgs !== undefined ? { buildArgs: req.buildArgs } : {}),
      ...(req.target !== undefined ? { target: req.target } : {}),
      ...(platform !== undefined ? { platform } : {}),
      ...(req.labels !== undefined ? { labels: req.labels } : {}),
      ...(this.opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: this.opts.sourceDateEpoch } : {}),
      ...(this.opts.compressionLevel !== undefined ? { compressionLevel: this.opts.compressionLevel } : {}),
      ...(this.opts.resolver !== undefined ? { resolver: this.opts.resolver } : {}),
      ...(this.opts.tmpDir !== undefined ? { tmpDir: this.opts.tmpDir } : {}),
    });
    this.last = r;
    const warnings = r.referencedOnly.length > 0 ? [`${r.referencedOnly.length} base layer(s) are referenced but not stored in ${r.outputDir}; the target registry must already have them`] : [];
    return {
      imageId: r.configDigest,
      totalSteps: r.steps,
      cachedSteps: 0,
      cacheHits: [],
      cacheSources: (req.cacheFrom ?? []).map((ref) => ({ ref, status: 'unavailable' as const, detail: 'the native builder does not use cache images: its builds are reproducible instead' })),
      warnings,
      durationMs: r.durationMs,
    };
  }

  push(req: PushRequest): Promise<PushResult> {
    return Promise.reject(
      new HoistError(`the native builder does not push: ${req.image} is in the OCI layout ${this.opts.outputDir}`, {
        code: 'build.native-push',
        op: 'push',
        hint: `Copy the layout with the registry client (hoist copy oci:${this.opts.outputDir}:TAG <ref>).`,
      }),
    );
  }

  dispose(): Promise<void> {
    this.creds.clear();
    return Promise.resolve();
  }
}
