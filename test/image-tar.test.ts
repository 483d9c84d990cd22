// Deterministic tar writer, reader and the streaming layer builder (src/image/tar.ts,
// tar-read.ts, layer.ts).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';

import { writeLayer } from '../src/image/layer.ts';
import { readTar } from '../src/image/tar-read.ts';
import { sortEntries, tarBuffer, type TarEntry } from '../src/image/tar.ts';
import { run } from './support/components.ts';

const dir = mkdtempSync(join(tmpdir(), 'hoist-tar-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const LONG = `deep/${'d'.repeat(120)}/${'n'.repeat(120)}.txt`;

function entries(): TarEntry[] {
  const onDisk = join(dir, 'disk.bin');
  writeFileSync(onDisk, Buffer.alloc(70_000, 7));
  return [
    { path: 'b/file.txt', type: 'file', mode: 0o640, uid: 0, gid: 0, data: Buffer.from('hello\n') },
    { path: 'a', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'b', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
    { path: 'a/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: '../b/file.txt' },
    { path: 'a/hard', type: 'hardlink', mode: 0o640, uid: 0, gid: 0, linkname: 'b/file.txt' },
    { path: 'a/big.bin', type: 'file', mode: 0o4755, uid: 0, gid: 0, file: onDisk, size: 70_000 },
    { path: LONG, type: 'file', mode: 0o644, uid: 3_000_000, gid: 0, data: Buffer.from('long\n') },
    { path: 'deep', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: `deep/${'d'.repeat(120)}`, type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'l2', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: `/${'t'.repeat(150)}` },
  ];
}

test('same entries in any order → same bytes; entries sorted, parents first', async () => {
  const a = await tarBuffer(sortEntries(entries()), { mtime: 0 });
  const b = await tarBuffer(sortEntries(entries().reverse()), { mtime: 0 });
  assert.equal(sha(a), sha(b));
  assert.equal(a.length % 512, 0);
  const c = await tarBuffer(sortEntries(entries()), { mtime: 1_700_000_000 });
  assert.notEqual(sha(a), sha(c), 'mtime is part of the bytes');
  const paths: string[] = [];
  for await (const e of readTar([a])) paths.push(e.path);
  assert.deepEqual(paths, [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  assert.ok(paths.indexOf('b') < paths.indexOf('b/file.txt'));
});

test('read back: types, modes, owners, PAX long names/links/big ids, data', async () => {
  const buf = await tarBuffer(sortEntries(entries()), { mtime: 946684800 });
  const got = new Map<string, Record<string, unknown>>();
  for await (const e of readTar([buf], () => true)) got.set(e.path, { type: e.type, mode: e.mode, uid: e.uid, link: e.linkname, mtime: e.mtime, data: e.data?.length });
  assert.deepEqual(got.get('a/big.bin'), { type: 'file', mode: 0o4755, uid: 0, link: '', mtime: 946684800, data: 70_000 });
  assert.deepEqual(got.get(LONG), { type: 'file', mode: 0o644, uid: 3_000_000, link: '', mtime: 946684800, data: 5 });
  assert.deepEqual(got.get('l2'), { type: 'symlink', mode: 0o777, uid: 0, link: `/${'t'.repeat(150)}`, mtime: 946684800, data: undefined });
  assert.deepEqual(got.get('a/hard'), { type: 'hardlink', mode: 0o640, uid: 0, link: 'b/file.txt', mtime: 946684800, data: undefined });
  assert.equal(got.get('b')!.uid, 1000);
});

test('GNU/bsd tar reads what we write', async (t) => {
  const r0 = await run('tar', ['--version']).catch(() => undefined);
  if (r0?.code !== 0) return t.skip('tar not installed');
  const file = join(dir, 'x.tar');
  writeFileSync(file, await tarBuffer(sortEntries(entries()), { mtime: 0 }));
  const r = await run('tar', ['-tvf', file, '--numeric-owner']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${LONG.replace(/\//g, '\\/')}`));
  assert.match(r.stdout, /-rwsr-xr-x 0\/0 +70000 .* a\/big\.bin/);
  assert.match(r.stdout, /a\/hard link to b\/file\.txt/);
  assert.match(r.stdout, /drwx------ 1000\/1000 .* b\//);
});

test('layer: diffID = sha256(tar), digest = sha256(gzip), streamed to a file; level configurable', async () => {
  const es = sortEntries(entries());
  const l1 = await writeLayer(es, join(dir, 'l1.tgz'), { mtime: 0 });
  const l1b = await writeLayer(es, join(dir, 'l1b.tgz'), { mtime: 0 });
  const blob = readFileSync(l1.path);
  assert.equal(l1.digest, sha(blob));
  assert.equal(l1.size, blob.length);
  const tar = gunzipSync(blob);
  assert.equal(l1.diffId, sha(tar));
  assert.equal(l1.tarSize, tar.length);
  assert.deepEqual(tar, await tarBuffer(es, { mtime: 0 }));
  assert.equal(l1b.digest, l1.digest, 'reproducible gzip');
  const l9 = await writeLayer(es, join(dir, 'l9.tgz'), { mtime: 0, level: 9 });
  assert.equal(l9.diffId, l1.diffId);
  assert.ok(l9.size <= l1.size);
});

test('a file that changes size while archived is an error, not a corrupt layer', async () => {
  const f = join(dir, 'shrinks.bin');
  writeFileSync(f, 'abc');
  await assert.rejects(tarBuffer([{ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, file: f, size: 10 }], { mtime: 0 }), /shrank/);
});
