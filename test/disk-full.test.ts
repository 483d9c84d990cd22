// Issue 6: the client's own disk fills while hoist spools an image. A small tmpfs (mounted
// here: the tests run as root) stands for the full disk: as TMPDIR, where the native builder
// writes each new layer (and, for a push, the OCI layout it pushes from), or as the
// `hoist build --output oci:DIR` directory. Each run must end exit 1 with a message that names
// the directory that filled, says the disk is full (ENOSPC) and gives the fix; leave nothing in
// the tmpfs; publish nothing (no tag; the sandbox's store whole); and never leave a layout at
// DIR that looks complete or differs from what was there before. The one exception: the docker
// builder's push, where hoist's own pusher gives way to docker push, which spools nothing.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { BatchGetImageCommand } from '@aws-sdk/client-ecr';
import { cleanEnv, dockerEnv, requireComponent, run, runOk, skipUnless, type RunResult } from './support/components.ts';
import { ensureDockerBaseImage } from './support/base-image.ts';
import { jobEnv } from './support/push-job.ts';
import { BASE_REPO, checkInvariant, mintToken, startPushWorld, type PushWorld } from './support/reliability.ts';
import { HOIST } from './support/sandbox-cli.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const MiB = 1024 * 1024;
const TMPFS_SIZE = '2m';

/** A 2 MiB tmpfs, unmounted after the test. Under CI=true a failed mount fails the test; else it skips. */
async function smallDisk(t: TestContext): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-full-disk-'));
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0755`, 'tmpfs', dir]);
  if (r.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = `cannot mount a ${TMPFS_SIZE} tmpfs to fill (needs root with CAP_SYS_ADMIN): ${r.stderr.trim()}`;
    if (process.env.CI === 'true') throw new Error(why);
    t.skip(why);
    return undefined;
  }
  t.after(async () => {
    if ((await run('umount', [dir])).code !== 0) await run('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A build context whose one new layer is `bytes` of incompressible data. */
function context(from: string, bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-full-ctx-'));
  scratch.push(dir);
  writeFileSync(join(dir, 'big.bin'), randomBytes(bytes));
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${from}\nCOPY big.bin /data/big.bin\n`);
  return dir;
}

/** Everything under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

function build(ctx: string, output: string, env: Record<string, string> = {}): Promise<RunResult> {
  return run(process.execPath, [HOIST, 'build', '--context', ctx, '--output', `oci:${output}`],
    { env: cleanEnv({ SOURCE_DATE_EPOCH: '1700000000', ...env }), timeoutMs: 60_000 });
}

/** exit 1; names `dir`, says the disk is full (ENOSPC), gives the fix; no stack trace. */
function assertDiskFull(r: RunResult, dir: string, fix: RegExp): void {
  assert.equal(r.code, 1, `exit ${r.code}:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`error: the disk holding ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is full \\(ENOSPC: no space left on device\\)`));
  assert.match(r.stderr, fix);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
}

describe('hoist build with a full disk', { timeout: 120_000 }, () => {
  test('TMPDIR on a full disk: the layer spool fails clearly, TMPDIR is left empty, no layout is written', async (t) => {
    const disk = await smallDisk(t);
    if (!disk) return;
    const parent = mkdtempSync(join(tmpdir(), 'hoist-full-out-'));
    scratch.push(parent);
    const out = join(parent, 'layout');
    const r = await build(context('scratch', 4 * MiB), `${out}:1`, { TMPDIR: disk });
    t.diagnostic(r.stderr.trim());
    assertDiskFull(r, disk, /fix: Free space on the disk that holds .*, or point TMPDIR at a directory on a larger disk\./);
    assert.deepEqual(tree(disk), [], 'temporary layer files are removed');
    assert.equal(existsSync(out), false, 'no layout directory is left behind');
  });

  test('--output oci:DIR on a full disk: fails clearly, and the layout directory it created is removed', async (t) => {
    const disk = await smallDisk(t);
    if (!disk) return;
    const out = join(disk, 'layout');
    const r = await build(context('scratch', 4 * MiB), `${out}:1`);
    t.diagnostic(r.stderr.trim());
    assertDiskFull(r, out, /fix: Free space on the disk that holds .*, or write the layout to a larger disk \(--output oci:DIR\)\./);
    assert.deepEqual(tree(disk), [], 'nothing is left on the full disk');
  });

  test('--output oci:DIR holding an earlier image: a failed build leaves that layout exactly as it was', async (t) => {
    const disk = await smallDisk(t);
    if (!disk) return;
    const out = join(disk, 'layout');
    const small = await build(context('scratch', 64 * 1024), `${out}:old`);
    assert.equal(small.code, 0, small.stderr);
    const before = new Map(tree(out).filter((f) => !f.endsWith('sha256') && f !== 'blobs').map((f) => [f, readFileSync(join(out, f))]));
    const r = await build(context(`oci:${out}:old`, 4 * MiB), `${out}:new`);
    assertDiskFull(r, out, /--output oci:DIR/);
    // Same files, same bytes: no half-written blob, no temp file, index.json still names only "old".
    assert.deepEqual(tree(out).filter((f) => !f.endsWith('sha256') && f !== 'blobs'), [...before.keys()]);
    for (const [f, bytes] of before) assert.ok(readFileSync(join(out, f)).equals(bytes), `${f} unchanged`);
    for (const f of readdirSync(join(out, 'blobs', 'sha256'))) {
      assert.equal(createHash('sha256').update(readFileSync(join(out, 'blobs', 'sha256', f))).digest('hex'), f, `blob ${f} is whole`);
    }
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']), ['old']);
  });
});

describe('hoist push with TMPDIR on a full disk', { timeout: 240_000 }, () => {
  let world: PushWorld;
  before(async () => {
    world = await startPushWorld();
  });
  after(async () => {
    await world?.close();
  });

  async function push(repo: string, ctx: string, tmp: string): Promise<RunResult> {
    const cache = mkdtempSync(join(tmpdir(), 'hoist-full-cache-'));
    scratch.push(cache);
    const env = jobEnv(world.sb, await mintToken(world.sb), {
      ECR_REPOSITORY: repo, IMAGE_TAG: '1', DOCKER_HOST: 'tcp://127.0.0.1:1', SOURCE_DATE_EPOCH: '1700000000',
      XDG_CACHE_HOME: cache, TMPDIR: tmp,
    });
    return run(process.execPath, [HOIST, 'push', '--builder', 'native', '--json'], { cwd: ctx, env, timeoutMs: 90_000 });
  }

  /** The repository exists (created before the build) but holds no image and no tag; the store is whole. */
  async function assertNothingPublished(repo: string): Promise<void> {
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.deepEqual(inv.tags[repo] ?? {}, {}, 'no tag');
    const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as { repositories: Record<string, { images: object }> };
    assert.deepEqual(state.repositories[repo]?.images ?? {}, {}, 'no image');
    const got = await world.ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: '1' }] }));
    assert.equal(got.images?.length ?? 0, 0);
  }

  const cases = [
    { name: 'a layer larger than the disk', repo: 'full/spool', bytes: 4 * MiB },
    // 1.3 MiB fits once (the layer file) but not twice (its copy in the layout hoist pushes from).
    { name: 'a layer that fits once but not twice (spool + layout)', repo: 'full/layout', bytes: 1.3 * MiB },
  ];
  for (const c of cases) {
    test(`${c.name}: exit 1 naming TMPDIR, nothing left in it, nothing published`, async (t) => {
      const disk = await smallDisk(t);
      if (!disk) return;
      const r = await push(c.repo, context(`${world.sb.registry}/${BASE_REPO}:1`, Math.round(c.bytes)), disk);
      t.diagnostic(r.stderr.trim().split('\n').slice(-2).join('\n'));
      assertDiskFull(r, disk, /fix: Free space on the disk that holds .*, or point TMPDIR at a directory on a larger disk\./);
      assert.deepEqual(tree(disk), [], 'the layer files and the layout are removed');
      const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as { repositories: Record<string, object> };
      assert.ok(state.repositories[c.repo], 'the push got as far as the build (the repository step had run)');
      await assertNothingPublished(c.repo);
    });
  }

  test('auto picked hoist\'s registry client, whose layer spool cannot fit: docker push (which spools nothing) sends the image, and the report says why', async (t) => {
    if (await skipUnless(t, 'docker-unix')) return;
    const disk = await smallDisk(t);
    if (!disk) return;
    const cache = mkdtempSync(join(tmpdir(), 'hoist-full-cache-'));
    scratch.push(cache);
    const env = jobEnv(world.sb, await mintToken(world.sb), {
      ECR_REPOSITORY: 'full/docker', IMAGE_TAG: '1', DOCKER_HOST: 'unix:///var/run/docker.sock', XDG_CACHE_HOME: cache, TMPDIR: disk,
    });
    // FROM an image the registry does not hold (so auto picks hoist), already in the engine.
    const base = await ensureDockerBaseImage();
    const r = await run(process.execPath, [HOIST, 'push', '--builder', 'docker', '--no-pull', '--json', '--registry', world.sb.registry],
      { cwd: context(base.tag, 4 * MiB), env, timeoutMs: 150_000 });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { digest: string; pusher: { via: string; why: string } };
    assert.equal(report.pusher.via, 'docker');
    assert.match(report.pusher.why, new RegExp(`^no room for hoist's compressed layers \\(the disk holding ${disk.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is full`));
    assert.deepEqual(tree(disk), [], 'the spool is removed');
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags['full/docker']?.['1'], report.digest, 'the tag names the reported image');
    await run('docker', ['rmi', '-f', `${world.sb.registry}/full/docker:1`], { env: dockerEnv('unix'), timeoutMs: 60_000 });
  });
});

describe('hoist copy docker-daemon: with TMPDIR on a full disk', { timeout: 180_000 }, () => {
  // A 4 MiB layer of random bytes in the engine: its compressed spool cannot fit in 2 MiB, and
  // igzip's 32 MiB block file cannot either.
  let image = '';
  before(async () => {
    if (await requireComponent('docker-unix', 'busybox')) return;
    const base = await ensureDockerBaseImage();
    const ctx = context(base.tag, 4 * MiB);
    image = 'hoist-test/full-disk:1';
    await runOk('docker', ['build', '-q', '-t', image, ctx], { env: dockerEnv('unix'), timeoutMs: 120_000 });
  });
  for (const compressor of ['igzip', 'zlib'] as const) {
    test(`${compressor}: exit 1 naming TMPDIR, nothing left in it, no image in the layout`, async (t) => {
      if (await skipUnless(t, 'docker-unix', 'busybox', ...(compressor === 'igzip' ? ['igzip' as const] : []))) return;
      const disk = await smallDisk(t);
      if (!disk) return;
      const out = mkdtempSync(join(tmpdir(), 'hoist-full-copy-'));
      scratch.push(out);
      const r = await run(process.execPath, [HOIST, 'copy', '--quiet', '--no-cache', '--compressor', compressor, `docker-daemon:${image}`, `oci:${out}:v1`],
        { env: dockerEnv('unix', { TMPDIR: disk }), timeoutMs: 120_000 });
      assertDiskFull(r, disk, /fix: Free space on the disk that holds .*, or point TMPDIR at a directory on a larger disk\./);
      assert.deepEqual(tree(disk), [], 'the spool and the block files are removed');
      assert.ok(!existsSync(join(out, 'index.json')) || !readFileSync(join(out, 'index.json'), 'utf8').includes('"v1"'), 'nothing tagged v1');
    });
  }
});
