// Blob reads (distribution-spec "Pulling blobs", "Checking if content exists"): HEAD for
// existence, GET streamed through a verifier — bytes that do not hash to the digest end the
// stream with an error, so nothing built on them is kept (image-spec descriptor.md).

import { PassThrough, type Readable } from 'node:stream';
import { verifyingStream } from '../image/digest-stream.ts';
import type { Descriptor } from '../image/descriptor.ts';
import type { Digest } from '../model/reference.ts';
import { bodyError, discard } from './http.ts';
import { type RegistryTransport, repoScope } from './transport.ts';

/** The blob's size when the repository holds it, else undefined. */
export async function headBlob(t: RegistryTransport, repository: string, digest: Digest): Promise<number | undefined> {
  return t.retry(async () => {
    const res = await t.request({
      method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, scope: repoScope(repository, 'pull'), expect: [200, 404], op: `HEAD blob ${digest}`,
    });
    await discard(res);
    return res.status === 200 ? Number(res.header('content-length') ?? -1) : undefined;
  });
}

/** A verified stream of the blob (redirects to storage followed without Authorization). */
export async function getBlob(t: RegistryTransport, repository: string, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
  const res = await t.retry(() => t.request({
    method: 'GET', path: `/v2/${repository}/blobs/${desc.digest}`, scope: repoScope(repository, 'pull'), expect: [200], op: `GET blob ${desc.digest}`,
  }));
  // A body that breaks off mid-way ends the stream with a retryable error naming the blob: the
  // reader (an upload, which reopens its source on retry) decides whether to try again.
  const verified = verifyingStream(desc.digest, desc.size >= 0 ? desc.size : undefined);
  res.body.once('error', (err) => verified.destroy(bodyError(err, `GET blob ${desc.digest}`, t.host) as Error));
  verified.once('close', () => {
    if (!res.body.destroyed) res.body.destroy();
  });
  return res.body.pipe(verified);
}

/** A stream available at once, filled when `open` resolves: fits the synchronous BlobOpener. */
export function lazyStream(open: () => Promise<Readable>): Readable {
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  open().then((s) => {
    s.once('error', (err) => out.destroy(err));
    out.once('close', () => s.destroy());
    s.pipe(out);
  }, (err: Error) => out.destroy(err));
  return out;
}
