// A corrupted local blob must never be published. hoist leaves the digest check of a pushed
// blob to the registry (which verifies `PUT ?digest=` on commit) instead of hashing it twice;
// this proves the registry's check holds: the copy fails clearly and nothing is stored.

import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeOciLayout } from './support/base-image.ts';
import { cleanEnv, run, skipUnless } from './support/components.ts';
import { admin } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess } from './support/sandbox-cli.ts';

/** Same size, one byte different: only a digest check can notice. */
function flipLastByte(file: string): void {
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, size - 1);
  closeSync(fd);
}

test('a layout blob whose bytes do not match its digest is refused and nothing is stored', { timeout: 120_000 }, async (t) => {
  if (await skipUnless(t, 'awscli', 'busybox')) return;
  const sb = await startSandboxProcess();
  t.after(() => sb.stop());
  const layout = await writeOciLayout(mkdtempSync(join(tmpdir(), 'hoist-corrupt-')), { tag: 'v1' });
  const layer = layout.layers[0]!;
  flipLastByte(join(layout.dir, 'blobs', 'sha256', layer.digest.slice(7)));
  await admin(sb, ['ecr', 'create-repository', '--repository-name', 'corrupt']);
  const password = (await admin(sb, ['ecr', 'get-login-password'])).stdout.trim();
  const r = await run(process.execPath, [HOIST, 'copy', '--no-cache', `oci:${layout.dir}:v1`, `docker://${sb.registry}/corrupt:v1`, '--dest-creds-env', 'DEST'],
    { env: cleanEnv({ DEST: `AWS:${password}` }), timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /DIGEST_INVALID|digest/i);
  const head = await fetch(`http://${sb.registry}/v2/corrupt/blobs/${layer.digest}`, { method: 'HEAD', headers: { authorization: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}` } });
  assert.equal(head.status, 404, 'the corrupted blob was not stored');
  const tags = await fetch(`http://${sb.registry}/v2/corrupt/tags/list`, { headers: { authorization: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}` } });
  assert.deepEqual(((await tags.json()) as { tags?: string[] }).tags ?? [], [], 'no tag was published');
});
