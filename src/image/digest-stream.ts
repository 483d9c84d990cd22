// Hashing while bytes flow (registry-performance.md §D8: tee SHA-256 into the stream, never a
// separate read pass) and verification of a blob's digest as it streams (OCI image-spec
// descriptor.md "Verification": content whose digest does not match must not be trusted).

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HoistError } from '../errors.ts';
import type { Digest } from '../model/reference.ts';

/** A pass-through that counts and hashes what goes through it. Read digest()/size after 'end'. */
export class HashingStream extends Transform {
  readonly #hash: Hash;
  #size = 0;

  constructor(private readonly algorithm = 'sha256') {
    super();
    this.#hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    done(null, chunk);
  }

  get size(): number {
    return this.#size;
  }

  digest(): Digest {
    return `${this.algorithm}:${this.#hash.digest('hex')}` as Digest;
  }
}

/**
 * Passes bytes through and fails at the end when they do not hash to `expected` (or their
 * length is not `size`): the consumer sees an error instead of a clean end, so it can discard
 * what it wrote.
 */
export function verifyingStream(expected: Digest, size?: number): Transform {
  const algorithm = expected.slice(0, expected.indexOf(':'));
  const hash = createHash(algorithm);
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      seen += chunk.length;
      if (size !== undefined && seen > size) return done(mismatch(expected, `more than ${size} bytes`));
      done(null, chunk);
    },
    flush(done) {
      const got = `${algorithm}:${hash.digest('hex')}`;
      if (size !== undefined && seen !== size) return done(mismatch(expected, `${seen} bytes instead of ${size}`));
      done(got === expected ? null : mismatch(expected, `bytes hash to ${got}`));
    },
  });
}

function mismatch(expected: Digest, why: string): HoistError {
  return new HoistError(`blob ${expected} failed verification: ${why}`, {
    code: 'image.digest-mismatch', op: 'verify blob',
    hint: 'The content does not match its digest: it was corrupted or tampered with. Nothing from it was kept.',
  });
}
