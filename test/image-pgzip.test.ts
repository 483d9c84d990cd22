// Parallel gzip members must read back as the original bytes with every gunzip a registry or
// runtime uses (Node's zlib here, GNU gzip, and docker through the pushed images elsewhere),
// and the same input must give the same bytes.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ParallelGzip, PGZIP_BLOCK } from '../src/image/pgzip.ts';
import { runOk } from './support/components.ts';

const pgzip = async (data: Buffer, chunk = 65_536) => {
  const chunks = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk));
  return buffer(Readable.from(chunks).pipe(new ParallelGzip(1)));
};

test('round-trips through Node and GNU gzip, for sizes around block edges', async () => {
  const text = Buffer.from('order-microservice '.repeat(200_000));
  for (const data of [Buffer.alloc(0), Buffer.from('x'), randomBytes(PGZIP_BLOCK), Buffer.concat([text, randomBytes(PGZIP_BLOCK * 3 + 17)])]) {
    const gz = await pgzip(data);
    assert.ok(gunzipSync(gz).equals(data), `node gunzip, ${data.length} bytes`);
    const file = join(mkdtempSync(join(tmpdir(), 'hoist-pgzip-')), 'x.gz');
    writeFileSync(file, gz);
    const out = await runOk('bash', ['-c', `gzip -dc '${file}' | sha256sum`]);
    assert.equal(out.stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'), `GNU gzip, ${data.length} bytes`);
  }
});

test('deterministic whatever the input chunking', async () => {
  const data = Buffer.concat([Buffer.from('a'.repeat(3_000_000)), randomBytes(2_500_000)]);
  const a = await pgzip(data, 4096);
  const b = await pgzip(data, 1_000_003);
  assert.ok(a.equals(b));
});
