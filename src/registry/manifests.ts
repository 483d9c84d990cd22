// Manifests and indexes (distribution-spec "Pulling manifests", "Pushing manifests"):
//   - GET with an Accept list of every format hoist copies; the digest is computed from the
//     body (ECR does not always send Docker-Content-Digest, §A3) and checked against the
//     reference when it is a digest; bodies over 4 MiB are refused (ECR PutImage limit);
//   - PUT under a tag only after a HEAD of the tag: when it already names this digest the PUT
//     is skipped (saves ECR PutImage quota, 10/s, and avoids TAG_INVALID on immutable
//     repositories, which ECR sends even for the same digest — containers-roadmap #2380).

import { HoistError } from '../errors.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type RawManifest, checkManifestSize, manifestMediaType, sha256Digest } from '../image/descriptor.ts';
import { readAll } from '../image/streams.ts';
import type { Digest } from '../model/reference.ts';
import { registryCode } from './errors.ts';
import { bodyError, discard } from './http.ts';
import { type RegistryTransport, repoScope } from './transport.ts';

const isDigest = (reference: string) => reference.includes(':');

export async function getManifest(t: RegistryTransport, repository: string, reference: string): Promise<RawManifest> {
  return t.retry(async () => {
    const res = await t.request({
      method: 'GET', path: `/v2/${repository}/manifests/${reference}`, scope: repoScope(repository, 'pull'),
      headers: { accept: MANIFEST_ACCEPT }, expect: [200], op: `GET manifest ${repository}:${reference}`,
    });
    const declared = Number(res.header('content-length') ?? 0);
    if (declared > MAX_MANIFEST_BYTES) res.body.destroy();
    checkManifestSize(declared, `manifest ${repository}:${reference}`);
    const bytes = await readAll(res.body, MAX_MANIFEST_BYTES).catch((err: unknown) => {
      if (err instanceof RangeError) checkManifestSize(MAX_MANIFEST_BYTES + 1, `manifest ${repository}:${reference}`);
      throw bodyError(err, `GET manifest ${repository}:${reference}`, t.host);
    });
    const digest = sha256Digest(bytes);
    checkDigest(digest, isDigest(reference) ? reference : undefined, `manifest ${repository}:${reference}`);
    const sent = res.header('docker-content-digest');
    if (sent?.startsWith('sha256:')) checkDigest(digest, sent, `manifest ${repository}:${reference} (Docker-Content-Digest)`);
    return { bytes, digest, mediaType: manifestMediaType(bytes, res.header('content-type')) };
  });
}

function checkDigest(computed: Digest, expected: string | undefined, what: string): void {
  if (expected === undefined || expected === computed) return;
  throw new HoistError(`${what}: the body hashes to ${computed}, not ${expected}`, {
    code: 'image.digest-mismatch', op: 'verify manifest', hint: 'The registry served different bytes than the digest names; nothing was kept.',
  });
}

export interface ManifestHead {
  digest?: Digest;
  mediaType?: string;
  size: number;
}

export async function headManifest(t: RegistryTransport, repository: string, reference: string): Promise<ManifestHead | undefined> {
  return t.retry(async () => {
    const res = await t.request({
      method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, scope: repoScope(repository, 'pull'),
      headers: { accept: MANIFEST_ACCEPT }, expect: [200, 404], op: `HEAD manifest ${repository}:${reference}`,
    });
    await discard(res);
    if (res.status === 404) return undefined;
    const digest = res.header('docker-content-digest') as Digest | undefined;
    const mediaType = res.header('content-type');
    return { size: Number(res.header('content-length') ?? 0), ...(digest ? { digest } : {}), ...(mediaType ? { mediaType } : {}) };
  });
}

/** The digest a tag names now (HEAD, else GET and hash), or undefined when it names nothing. */
export async function tagDigest(t: RegistryTransport, repository: string, tag: string): Promise<Digest | undefined> {
  const head = await headManifest(t, repository, tag);
  if (!head) return undefined;
  return head.digest ?? (await getManifest(t, repository, tag)).digest;
}

export async function putManifest(t: RegistryTransport, repository: string, m: RawManifest, tag?: string): Promise<'pushed' | 'unchanged'> {
  checkManifestSize(m.bytes.length, `manifest ${m.digest}`);
  const reference = tag ?? m.digest;
  const before = tag === undefined ? ((await headManifest(t, repository, m.digest)) ? m.digest : undefined) : await tagDigest(t, repository, tag);
  if (before === m.digest) return 'unchanged';
  try {
    await t.retry(async () => {
      const res = await t.request({
        method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, scope: repoScope(repository, 'pull,push'),
        headers: { 'content-type': m.mediaType }, body: m.bytes, expect: [201], op: `PUT manifest ${repository}:${reference}`,
      });
      await discard(res);
    });
    return 'pushed';
  } catch (err) {
    if (tag === undefined || registryCode(err) !== 'TAG_INVALID') throw err;
    return immutableTag(t, repository, tag, m.digest, before, err);
  }
}

/** TAG_INVALID: success when the tag holds our digest by now (a concurrent job), else say why. */
async function immutableTag(t: RegistryTransport, repository: string, tag: string, digest: Digest, before: Digest | undefined, err: unknown): Promise<'unchanged'> {
  const now = await tagDigest(t, repository, tag).catch(() => before);
  if (now === digest) return 'unchanged';
  throw new HoistError(`tag ${repository}:${tag} is immutable and already holds ${now ?? 'another image'}, not ${digest}`, {
    code: 'registry.tag-immutable', op: `PUT manifest ${repository}:${tag}`, cause: err,
    hint: 'The repository has IMMUTABLE tags: push under a new tag, or delete the old image first.',
    context: { tag, existing: now ?? 'unknown', wanted: digest },
  });
}
