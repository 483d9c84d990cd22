// Blob uploads (distribution-spec "Pushing blobs"; registry-performance.md §A2, §D3–D5):
//   - mount `POST ?mount=&from=` when the source repository is on the same registry: 201 is
//     done; a 202 opened an ordinary session, which we reuse (as moby does);
//   - digest and size known: POST, then one `PUT ?digest=` carrying the body with its
//     Content-Length (monolithic, 2 round trips; works on ECR and GAR);
//   - digest unknown (compressing on the fly): POST, ONE streamed PATCH hashed as it goes
//     (ECR answers 201, the spec 202: both accepted), then `PUT ?digest=` with no body.
// Never multi-chunk PATCH: ECR needs ≥ 5 MiB chunks and silently drops later chunks
// (containers-roadmap #2831). A failure restarts the blob from a fresh POST (ECR cannot resume).

import type { Readable } from 'node:stream';
import { HoistError } from '../errors.ts';
import { HashingStream } from '../image/digest-stream.ts';
import type { Descriptor } from '../image/descriptor.ts';
import type { BlobOrigin, BlobOutcome } from '../image/source.ts';
import { chain } from '../image/streams.ts';
import type { Digest } from '../model/reference.ts';
import { discard, type HttpResponse } from './http.ts';
import { type RegistryTransport, repoScope } from './transport.ts';

const OCTETS = { 'content-type': 'application/octet-stream' };

function locationOf(res: HttpResponse, from: URL, op: string): URL {
  const location = res.header('location');
  if (!location) throw new HoistError(`${op}: the registry answered ${res.status} without a Location`, { code: 'registry.bad-response', op });
  return new URL(location, from);
}

function withDigest(location: URL, digest: Digest): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

interface Started {
  mounted: boolean;
  location?: URL;
}

async function startUpload(t: RegistryTransport, repository: string, digest: Digest | undefined, from?: BlobOrigin): Promise<Started> {
  const mount = digest !== undefined && from !== undefined && from.registry === t.host && from.repository !== repository;
  const query = mount ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from.repository)}` : '';
  const scope = mount ? `${repoScope(repository, 'pull,push')} ${repoScope(from.repository, 'pull')}` : repoScope(repository, 'pull,push');
  const path = new URL(`/v2/${repository}/blobs/uploads/${query}`, t.base);
  const res = await t.request({ method: 'POST', path, scope, expect: mount ? [201, 202] : [202], op: `start upload to ${repository}` });
  await discard(res);
  if (res.status === 201) return { mounted: true };
  return { mounted: false, location: locationOf(res, path, `start upload to ${repository}`) };
}

async function finish(t: RegistryTransport, repository: string, location: URL, digest: Digest, body?: { open: () => Readable; size: number }): Promise<void> {
  const res = await t.request({
    method: 'PUT', path: withDigest(location, digest), scope: repoScope(repository, 'pull,push'), expect: [201],
    op: `complete upload of ${digest}`,
    headers: body ? { ...OCTETS, 'content-length': String(body.size) } : {},
    ...(body ? { body: body.open } : {}),
  });
  await discard(res);
}

/** Uploads (or mounts) a blob of known digest and size. */
export function pushBlob(t: RegistryTransport, repository: string, desc: Descriptor, open: () => Readable, from?: BlobOrigin): Promise<BlobOutcome> {
  return t.retry(async () => {
    const started = await startUpload(t, repository, desc.digest, from);
    if (started.mounted) return 'mounted';
    await finish(t, repository, started.location!, desc.digest, { open, size: desc.size });
    return 'uploaded';
  });
}

/** Uploads bytes whose digest is learnt while they stream: one PATCH, then PUT ?digest=. */
export function pushStream(t: RegistryTransport, repository: string, open: () => Readable): Promise<{ digest: Digest; size: number }> {
  return t.retry(async () => {
    const { location } = await startUpload(t, repository, undefined);
    let hashing = new HashingStream();
    const res = await t.request({
      method: 'PATCH', path: location!, scope: repoScope(repository, 'pull,push'), expect: [201, 202], op: `upload to ${repository}`,
      headers: OCTETS, body: () => chain(open(), (hashing = new HashingStream())),
    });
    await discard(res);
    const digest = hashing.digest();
    await finish(t, repository, locationOf(res, location!, `upload to ${repository}`), digest);
    return { digest, size: hashing.size };
  });
}
