// `hoist promote REF --tag NEW`: new tags for an image already in a registry, without moving a
// layer — GET the manifest once, PUT the same bytes under each tag (manifests.ts HEADs the tag
// first, so a tag already on this digest costs no PutImage and is success even on an
// IMMUTABLE repository; a tag on another digest there is a clear error).

import { HoistError, assertNoProblems, type Problem } from '../errors.ts';
import type { Digest } from '../model/reference.ts';
import { tagProblem } from '../model/tag.ts';
import type { RegistryCredentials } from '../registry/auth.ts';
import { RegistryClient } from '../registry/client.ts';
import type { RetryOptions } from '../registry/transport.ts';
import { parseTransport } from '../registry/transports.ts';

export interface PromoteRequest {
  /** `host/repo:tag`, `host/repo@sha256:…`, or the same with `docker://`. */
  ref: string;
  tags: readonly string[];
  credentials?: RegistryCredentials;
  insecureRegistries?: readonly string[];
  ca?: string | Buffer;
  retry?: RetryOptions;
}

export interface PromotedTag {
  tag: string;
  ref: string;
  outcome: 'tagged' | 'unchanged';
}

export interface PromoteOutcome {
  source: string;
  digest: Digest;
  mediaType: string;
  tags: PromotedTag[];
}

/** The registry host of a promote reference (for choosing credentials). */
export function promoteTarget(ref: string): { host: string; repository: string; reference: string } {
  const spec = parseTransport(ref.startsWith('docker://') ? ref : `docker://${ref}`);
  if (spec.kind !== 'docker') throw new HoistError(`${ref} is not a registry image`, { code: 'config.invalid' });
  return { host: spec.host, repository: spec.repository, reference: spec.digest ?? spec.tag ?? 'latest' };
}

function checkTags(tags: readonly string[]): void {
  const problems: Problem[] = tags.flatMap((t) => {
    const why = tagProblem(t);
    return why ? [{ source: '--tag', message: `${JSON.stringify(t)} is not a valid tag: ${why}` }] : [];
  });
  if (tags.length === 0) problems.push({ source: '--tag', message: 'no tag to add', hint: 'Give at least one --tag NEW.' });
  assertNoProblems(problems, 'hoist promote');
}

export async function promote(req: PromoteRequest): Promise<PromoteOutcome> {
  checkTags(req.tags);
  const target = promoteTarget(req.ref);
  const client = new RegistryClient({
    ...(req.credentials ? { credentials: { [target.host]: req.credentials } } : {}),
    ...(req.insecureRegistries ? { insecureRegistries: req.insecureRegistries } : {}),
    ...(req.ca ? { ca: req.ca } : {}), ...(req.retry ? { retry: req.retry } : {}),
  });
  try {
    const repo = client.repository(target.host, target.repository);
    const manifest = await repo.getManifest(target.reference);
    const tags: PromotedTag[] = [];
    for (const tag of req.tags) {
      const outcome = await repo.putManifest(manifest, tag);
      tags.push({ tag, ref: `${target.host}/${target.repository}:${tag}`, outcome: outcome === 'pushed' ? 'tagged' : 'unchanged' });
    }
    return { source: req.ref, digest: manifest.digest, mediaType: manifest.mediaType, tags };
  } finally {
    client.close();
  }
}
