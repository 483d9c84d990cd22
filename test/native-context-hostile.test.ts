// The native builder against a hostile build context: symlinks that point outside it, `..`
// sources, absolute sources, special files (a FIFO would block a reader forever), a huge sparse
// file, and names that are not UTF-8. Each is handled safely and explained with a coded error.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { buildNative } from '../src/build/native.ts';
import { isHoistError } from '../src/errors.ts';

let root: string;
let n = 0;
const SECRET = 'hoist-outside-secret-7f3a9c';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'hoist-hostile-ctx-'));
  writeFileSync(join(root, 'outside.txt'), `${SECRET}\n`);
});
after(() => rmSync(root, { recursive: true, force: true }));

function context(dockerfile: string, files: Record<string, string> = {}): string {
  const dir = join(root, `ctx-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  for (const [p, data] of Object.entries(files)) writeFileSync(join(dir, p), data);
  return dir;
}

/** Builds with a time limit: a FIFO read would never return. */
async function build(ctx: string) {
  const out = join(root, `out-${n++}`);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the build hung')), 20_000);
  });
  try {
    return { out, result: await Promise.race([buildNative({ context: ctx, outputDir: out, tags: ['t'] }), hang]) };
  } finally {
    clearTimeout(timer);
  }
}

async function refused(ctx: string, code: string, message: RegExp): Promise<void> {
  await assert.rejects(build(ctx), (err: unknown) => {
    assert.ok(isHoistError(err, code), `expected ${code}, got ${(err as Error).name} ${(err as { code?: string }).code}: ${(err as Error).message}`);
    assert.match((err as Error).message, message);
    return true;
  });
}

/** Every byte written to the OCI layout, layers decompressed. */
function layoutBytes(dir: string): Buffer {
  const blobs = join(dir, 'blobs', 'sha256');
  return Buffer.concat(readdirSync(blobs).map((b) => {
    const data = readFileSync(join(blobs, b));
    return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  }));
}

describe('symlinks and paths that leave the context', () => {
  test('COPY of a symlink to a file outside: its target is never read', async () => {
    const ctx = context('FROM scratch\nCOPY link /x\n');
    symlinkSync('../outside.txt', join(ctx, 'link'));
    // The link is followed inside the context only (Docker's FollowSymlinkInScope): ../outside.txt
    // resolves to <context>/outside.txt, which does not exist.
    await refused(ctx, 'build.copy-failed', /Dockerfile:2: file not found in the build context.*link/);
  });

  test('an absolute symlink is resolved inside the context, not on the host', async () => {
    const ctx = context('FROM scratch\nCOPY abs /x\n', { 'outside.txt': 'inside copy\n' });
    symlinkSync(join(root, 'outside.txt'), join(ctx, 'abs'));
    await refused(ctx, 'build.copy-failed', /file not found in the build context.*abs/);
  });

  test('COPY of a directory holding a link to outside stores the link itself, not the target', async () => {
    const ctx = context('FROM scratch\nCOPY dir /d\n');
    mkdirSync(join(ctx, 'dir'));
    writeFileSync(join(ctx, 'dir', 'a.txt'), 'a\n');
    symlinkSync('../../outside.txt', join(ctx, 'dir', 'link'));
    const { out } = await build(ctx);
    const bytes = layoutBytes(out);
    assert.ok(bytes.includes('../../outside.txt'), 'the link is stored as a link');
    assert.ok(!bytes.includes(SECRET), 'the target outside the context was read');
  });

  test('COPY ../outside names the line: forbidden path outside the build context', async () => {
    const ctx = context('FROM scratch\nCOPY ../outside.txt /x\n', { 'outside.txt': 'a context file of the same name\n' });
    await refused(ctx, 'build.copy-failed', /^Dockerfile:2: forbidden path outside the build context: \.\.\/outside\.txt$/);
    const sneaky = context('FROM scratch\nCOPY sub/../../outside.txt /x\n');
    await refused(sneaky, 'build.copy-failed', /forbidden path outside the build context/);
  });

  test('an absolute source is context-relative, as Docker does', async () => {
    const ctx = context('FROM scratch\nCOPY /outside.txt /x\n', { 'outside.txt': 'inside\n' });
    const { out } = await build(ctx);
    const bytes = layoutBytes(out);
    assert.ok(bytes.includes('inside\n'));
    assert.ok(!bytes.includes(SECRET));
    const missing = context('FROM scratch\nCOPY /etc/passwd /x\n');
    await refused(missing, 'build.copy-failed', /file not found in the build context.*\/etc\/passwd/);
  });
});

describe('special files', () => {
  test('a FIFO is refused with its name, never opened (which would block forever)', async () => {
    const ctx = context('FROM scratch\nCOPY fifo /x\n');
    execFileSync('mkfifo', [join(ctx, 'fifo')]);
    await refused(ctx, 'build.copy-failed', /Dockerfile:2: cannot copy fifo: not a regular file, directory or symlink/);
    const whole = context('FROM scratch\nCOPY . /app\n', { 'a.txt': 'a' });
    execFileSync('mkfifo', [join(whole, 'pipe')]);
    await refused(whole, 'build.copy-failed', /cannot copy pipe/);
  });

  test('a FIFO excluded by .dockerignore does not stop the build', async () => {
    const ctx = context('FROM scratch\nCOPY . /app\n', { 'a.txt': 'a', '.dockerignore': 'pipe\n' });
    execFileSync('mkfifo', [join(ctx, 'pipe')]);
    const { result } = await build(ctx);
    assert.equal(result.manifest.layers.length, 1);
  });

  test('a unix socket is refused with its name', async () => {
    const ctx = context('FROM scratch\nCOPY sock /x\n');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(ctx, 'sock'), resolve));
    try {
      await refused(ctx, 'build.copy-failed', /cannot copy sock: not a regular file/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a /dev device named through a symlink is not reached', async () => {
    const ctx = context('FROM scratch\nCOPY zero /x\n');
    symlinkSync('/dev/zero', join(ctx, 'zero'));
    await refused(ctx, 'build.copy-failed', /file not found in the build context.*zero/);
  });
});

describe('size and names', () => {
  test('a 2 GiB sparse file builds with bounded memory', { timeout: 120_000 }, async () => {
    const ctx = context('FROM scratch\nCOPY big /big\n');
    const fd = openSync(join(ctx, 'big'), 'w');
    ftruncateSync(fd, 2 * 1024 ** 3);
    closeSync(fd);
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const startRss = process.memoryUsage().rss;
    try {
      const { result } = await build(ctx);
      assert.equal(result.manifest.layers.length, 1);
    } finally {
      clearInterval(sampler);
    }
    const grew = peak - startRss;
    assert.ok(grew < 200 * 1024 * 1024, `rss grew by ${Math.round(grew / 1024 / 1024)} MiB while archiving 2 GiB`);
  });

  test('a name that is not UTF-8 is refused clearly, or skipped when .dockerignore excludes it', async () => {
    const ctx = context('FROM scratch\nCOPY ok.txt /x\n', { 'ok.txt': 'ok' });
    writeFileSync(Buffer.from(`${ctx}/caf\xe9.txt`, 'latin1'), 'latin1 name');
    await refused(ctx, 'build.context-invalid', /not valid UTF-8: caf\\xe9\.txt/);
    writeFileSync(join(ctx, '.dockerignore'), 'caf*\n');
    const { out } = await build(ctx);
    assert.ok(!layoutBytes(out).includes('latin1 name'));
  });
});
