// `hoist build`: the native builder alone, writing an OCI image layout (no push, no daemon).
// FROM registry images are read through hoist's registry client, manifest and config only.

import type { BuildResult } from '../build/builder.ts';
import { NativeBuilder } from '../build/native-builder.ts';
import { RegistryClient } from '../registry/client.ts';
import type { RegistryCredentials } from '../registry/auth.ts';
import { RegistryBaseResolver } from './native-push.ts';

export interface BuildCommandRequest {
  context: string;
  dockerfile?: string;
  outputDir: string;
  /** Names for the image inside the layout (org.opencontainers.image.ref.name). */
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  platform?: string;
  sourceDateEpoch?: number;
  credentials?: Record<string, RegistryCredentials>;
}

export interface BuildOutcome extends BuildResult {
  manifestDigest: string;
  outputDir: string;
  referencedOnly: number;
}

export async function buildImage(req: BuildCommandRequest): Promise<BuildOutcome> {
  const client = new RegistryClient({ credentials: req.credentials ?? {} });
  try {
    const builder = new NativeBuilder({
      outputDir: req.outputDir, resolver: new RegistryBaseResolver(client),
      ...(req.sourceDateEpoch !== undefined ? { sourceDateEpoch: req.sourceDateEpoch } : {}),
    });
    const result = await builder.build({
      context: req.context, tags: req.tags, buildArgs: req.buildArgs, labels: req.labels,
      ...(req.dockerfile ? { dockerfile: req.dockerfile } : {}),
      ...(req.target ? { target: req.target } : {}),
      ...(req.platform ? { platform: req.platform } : {}),
    });
    const last = builder.last!;
    return { ...result, manifestDigest: last.manifestDigest, outputDir: last.outputDir, referencedOnly: last.referencedOnly.length };
  } finally {
    client.close();
  }
}
