// The streamed `docker-daemon:` source (src/image/docker-daemon.ts): layers are gzipped while
// `docker save` streams, checked against the config's diff_ids, and layers the destination
// already holds are only hashed. The real engine here is Debian's (classic save format); the
// Docker ≥ 25 flavour (`blobs/sha256/<diffID>`) is a fixture streamed by a real `cat`, which is
// what the engine's CLI is to hoist: a program writing a tar to stdout.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';

import { exec } from '../src/exec/index.ts';
import { copyImage } from '../src/image/copy.ts';
import { DigestCache } from '../src/image/digest-cache.ts';
import { openDockerArchiveSource } from '../src/image/docker-archive.ts';
import { openDockerDaemonSource, type SaveRunner } from '../src/image/docker-daemon.ts';
import { openOciLayoutSink, openOciLayoutSource } from '../src/image/oci-layout.ts';
import { readAll } from '../src/image/streams.ts';
import { cleanEnv, run, skipUnless } from './support/components.ts';
import { ensureDockerBaseImage } from './support/base-image.ts';
import { catRunner } from './support/docker-archive.ts';
import { tar } from './support/tar.ts';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;


/** A Docker ≥ 25 style save: layers as blobs/sha256/<diffID>, config as a blob, manifest.json. */
function oci25Save(dir: string, layerTars: Buffer[], tamper = false): { file: string; diffIds: string[] } {
  const diffIds = layerTars.map(sha);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} }));
  const blobs = layerTars.map((t, i) => ({ type: 'file' as const, path: `blobs/sha256/${diffIds[i]!.slice(7)}`, data: tamper && i === 1 ? Buffer.concat([t.subarray(0, -1), Buffer.from([1])]) : t }));
  const entries = [
    ...blobs,
    { type: 'file' as const, path: `blobs/sha256/${sha(config).slice(7)}`, data: config },
    { type: 'file' as const, path: 'manifest.json', data: JSON.stringify([{ Config: `blobs/sha256/${sha(config).slice(7)}`, RepoTags: ['x:1'], Layers: blobs.map((b) => b.path) }]) },
  ];
  const file = join(dir, 'save.tar');
  writeFileSync(file, tar(entries));
  return { file, diffIds };
}

/**
 * A containerd-image-store save (Docker 29's default for new installs): layers gzipped as the
 * engine holds them, named by their compressed digest, index.json pointing to an index
 * (elastic/elastic-agent#12676, moby/moby#47065); manifest.json is still there.
 */
function containerdSave(dir: string, layerTars: Buffer[], tamper = false): { file: string; diffIds: string[]; blobs: string[] } {
  const diffIds = layerTars.map(sha);
  const gz = layerTars.map((t) => gzipSync(t, { level: 6 }));
  const blobs = gz.map(sha);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: gz.map((g, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: blobs[i], size: g.length })),
  }));
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length }] }));
  const path = (d: string) => `blobs/sha256/${d.slice(7)}`;
  const entries = [
    ...gz.map((g, i) => ({ type: 'file' as const, path: path(blobs[i]!), data: tamper && i === 0 ? Buffer.concat([g.subarray(0, 100), Buffer.from([0]), g.subarray(101)]) : g })),
    { type: 'file' as const, path: path(sha(config)), data: config },
    { type: 'file' as const, path: path(sha(manifest)), data: manifest },
    { type: 'file' as const, path: path(sha(index)), data: index },
    { type: 'file' as const, path: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(index), size: index.length }] }) },
    { type: 'file' as const, path: 'manifest.json', data: JSON.stringify([{ Config: path(sha(config)), RepoTags: ['x:1'], Layers: blobs.map(path) }]) },
    { type: 'file' as const, path: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
  ];
  const file = join(dir, 'save.tar');
  writeFileSync(file, tar(entries));
  return { file, diffIds, blobs };
}

/** A layer tar of about `mb` MiB of text, above the in-memory threshold. */
function bigLayer(name: string, mb: number): Buffer {
  const line = `${name} the quick brown fox jumps over the lazy dog 0123456789\n`;
  return tar([{ type: 'file', path: `${name}.txt`, data: line.repeat(Math.ceil((mb * 1024 * 1024) / line.length)) }]);
}

describe('docker-daemon: streamed from docker save', () => {
  it('Docker ≥ 25 layout: gzips each layer while it streams; a layer the destination holds is only hashed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-daemon-'));
    const layers = [bigLayer('a', 3), bigLayer('b', 2)];
    const { file, diffIds } = oci25Save(dir, layers);
    const out = join(dir, 'out');
    const cache = await DigestCache.open();
    const spool = mkdtempSync(join(tmpdir(), 'hoist-daemon-spool-'));
    const first = await copyImage(await openDockerDaemonSource('x:1', { run: catRunner(file, diffIds), env: {}, tmpDir: spool }), await openOciLayoutSink(out, 'v1'), { cache });
    assert.equal(first.stats.compressed, 2);
    const src = await openOciLayoutSource(out, 'v1');
    const m = JSON.parse((await src.manifest()).bytes.toString()) as { layers: { digest: string; mediaType: string }[] };
    for (const [i, l] of m.layers.entries()) {
      assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
      const gz = await readAll(src.blob(l as never)(), 64 << 20);
      assert.equal(sha(gunzipSync(gz)), diffIds[i], `layer ${i} gunzips to its diffID`);
    }
    // Second copy: layer a is known (digest cache + HEAD), layer b was removed from the sink.
    const bBlob = m.layers[1]!.digest.slice(7);
    await run('rm', [join(out, 'blobs', 'sha256', bBlob)]);
    const again = await copyImage(await openDockerDaemonSource('x:1', { run: catRunner(file, diffIds), env: {}, tmpDir: spool }), await openOciLayoutSink(out, 'v2'), { cache });
    assert.equal(again.stats.compressed, 1, 'only the layer the sink lost is compressed again');
    assert.equal(again.stats.present, 2, 'the known layer and the config are present');
    assert.equal(again.digest, first.digest, 'same image, same digest');
  });

  it('a layer goes to the destination as soon as it is compressed, while the save is still streaming', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-daemon-'));
    const layers = [bigLayer('a', 3), bigLayer('b', 2)];
    const { file, diffIds } = oci25Save(dir, layers);
    const out = join(dir, 'out');
    const blobs = join(out, 'blobs', 'sha256');
    // The save stand-in writes the first tar entry (layer a, whole and padded), then holds the
    // rest until the destination holds a blob: without early uploads nothing is sent before the
    // whole save has been read, so the copy would stall here and this test fail on its deadline.
    const firstEnd = 512 + Math.ceil(layers[0]!.length / 512) * 512;
    let heldFor = -1;
    const pausing: SaveRunner = async (req) => {
      if (req.args[0] === 'image') return { code: 0, stdout: JSON.stringify(diffIds), stderr: '' };
      const bytes = readFileSync(file);
      const sink = req.stdout!;
      const write = (b: Buffer) => new Promise<void>((ok, bad) => sink.write(b, (err) => (err ? bad(err) : ok())));
      await write(bytes.subarray(0, firstEnd));
      const t0 = Date.now();
      const landed = () => existsSync(blobs) && readdirSync(blobs).some((n) => /^[0-9a-f]{64}$/.test(n));
      while (!landed() && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
      heldFor = landed() ? Date.now() - t0 : -1;
      await write(bytes.subarray(firstEnd));
      sink.end();
      return { code: 0, stdout: '', stderr: '' };
    };
    const r = await copyImage(await openDockerDaemonSource('x:1', { run: pausing, env: {} }), await openOciLayoutSink(out, 'v1'));
    assert.ok(heldFor >= 0, 'layer a reached the destination while the save was held after it');
    assert.equal(r.stats.compressed, 2);
    const m = JSON.parse((await (await openOciLayoutSource(out, 'v1')).manifest()).bytes.toString()) as { layers: { digest: string }[] };
    assert.equal(m.layers.length, 2, 'both layers, in the config\'s order');
  });

  it('a save that breaks after a layer went ahead fails the copy and tags nothing', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-daemon-'));
    const layers = [bigLayer('a', 3), bigLayer('b', 2)];
    const { file, diffIds } = oci25Save(dir, layers);
    const out = join(dir, 'out');
    const firstEnd = 512 + Math.ceil(layers[0]!.length / 512) * 512;
    const breaking: SaveRunner = async (req) => {
      if (req.args[0] === 'image') return { code: 0, stdout: JSON.stringify(diffIds), stderr: '' };
      await new Promise<void>((ok, bad) => req.stdout!.write(readFileSync(file).subarray(0, firstEnd + 4096), (err) => (err ? bad(err) : ok())));
      await new Promise((r) => setTimeout(r, 300)); // layer a is compressed and on its way
      req.stdout!.end();
      return { code: 1, stdout: '', stderr: 'Error response from daemon: write /var/lib/docker/tmp/docker-export: no space left on device' };
    };
    const spool = mkdtempSync(join(tmpdir(), 'hoist-daemon-spool-'));
    const source = await openDockerDaemonSource('x:1', { run: breaking, env: {}, tmpDir: spool });
    await assert.rejects(copyImage(source, await openOciLayoutSink(out, 'v1')), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'image.daemon-failed', err.message);
      assert.match(err.message, /docker save x:1 failed: Error response from daemon: .*no space left on device/);
      return true;
    });
    await assert.rejects(openOciLayoutSource(out, 'v1').then((s) => s.manifest()), 'no image is tagged v1');
    await source.close();
    assert.deepEqual(readdirSync(spool), []);
  });

  it('containerd image store: gzipped layers go through untouched (same digests), checked against their names and diff_ids', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-daemon-'));
    // One layer above the in-memory threshold, one below it (kept in memory, handled at the end).
    const { file, diffIds, blobs } = containerdSave(dir, [bigLayer('a', 3), tar([{ type: 'file', path: 'small.txt', data: 'small layer\n' }])]);
    const out = join(dir, 'out');
    const r = await copyImage(await openDockerDaemonSource('x:1', { run: catRunner(file, diffIds), env: {} }), await openOciLayoutSink(out, 'v1'));
    assert.equal(r.stats.compressed, 0, 'nothing recompressed');
    const src = await openOciLayoutSource(out, 'v1');
    const m = JSON.parse((await src.manifest()).bytes.toString()) as { layers: { digest: string }[] };
    assert.deepEqual(m.layers.map((l) => l.digest), blobs, 'the registry gets the very blobs the engine holds');
    for (const [i, l] of m.layers.entries()) assert.equal(sha(gunzipSync(await readAll(src.blob(l as never)(), 64 << 20))), diffIds[i]);

    const bad = containerdSave(mkdtempSync(join(tmpdir(), 'hoist-daemon-')), [bigLayer('a', 3)], true);
    await assert.rejects(copyImage(await openDockerDaemonSource('x:1', { run: catRunner(bad.file, bad.diffIds), env: {} }), await openOciLayoutSink(join(dir, 'bad'), 'v1')),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'image.archive-invalid', err.message);
        assert.match(err.message, /blobs\/sha256\/[0-9a-f]{64} is gzip but does not gunzip/);
        return true;
      });
  });

  it('a zstd layer from a containerd store is refused by name, with the way out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-daemon-'));
    const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(2 << 20)]);
    const path = `blobs/sha256/${sha(zstd).slice(7)}`;
    const file = join(dir, 'save.tar');
    writeFileSync(file, tar([{ type: 'file', path, data: zstd }, { type: 'file', path: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', Layers: [path] }]) }]));
    await assert.rejects(copyImage(await openDockerDaemonSource('x:1', { run: catRunner(file, []), env: {} }), await openOciLayoutSink(join(dir, 'out'), 'v1')),
      (err: Error & { code?: string; hint?: string }) => {
        assert.equal(err.code, 'image.unsupported');
        assert.match(err.message, /is a zstd-compressed layer/);
        assert.match(err.hint ?? '', /docker push/);
        return true;
      });
  });

  it('docker-archive: of a containerd-store save copies its gzipped layers untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-archive-'));
    const { file, diffIds, blobs } = containerdSave(dir, [bigLayer('a', 2), tar([{ type: 'file', path: 'small.txt', data: 'small layer\n' }])]);
    const out = join(dir, 'out');
    const r = await copyImage(await openDockerArchiveSource(file), await openOciLayoutSink(out, 'v1'));
    assert.equal(r.stats.compressed, 0);
    const src = await openOciLayoutSource(out, 'v1');
    const m = JSON.parse((await src.manifest()).bytes.toString()) as { layers: { digest: string; mediaType: string }[] };
    assert.deepEqual(m.layers.map((l) => l.digest), blobs);
    for (const [i, l] of m.layers.entries()) {
      assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
      assert.equal(sha(gunzipSync(await readAll(src.blob(l as never)(), 64 << 20))), diffIds[i]);
    }
  });

  it('a layer whose bytes do not match the config diff_ids fails, naming it, and leaves no spool behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-daemon-'));
    const { file, diffIds } = oci25Save(dir, [bigLayer('a', 2), bigLayer('b', 2)], true);
    const spool = mkdtempSync(join(tmpdir(), 'hoist-daemon-spool-'));
    const source = await openDockerDaemonSource('x:1', { run: catRunner(file, diffIds), env: {}, tmpDir: spool });
    await assert.rejects(copyImage(source, await openOciLayoutSink(join(dir, 'out'), 'v1')), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'image.archive-invalid');
      assert.match(err.message, /layer 2 .* hashes to sha256:[0-9a-f]{64}, but the config says/);
      return true;
    });
    await source.close();
    assert.deepEqual(readdirSync(spool), []);
  });

  it('classic engine format: the real docker save of the base image round-trips with its diffIDs', { timeout: 300_000 }, async (t) => {
    if (await skipUnless(t, 'docker-unix')) return;
    const base = await ensureDockerBaseImage();
    const env = { ...cleanEnv(), DOCKER_HOST: 'unix:///var/run/docker.sock' };
    const inspect = await run('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', base.tag], { env });
    const diffIds = JSON.parse(inspect.stdout) as string[];
    const out = mkdtempSync(join(tmpdir(), 'hoist-daemon-out-'));
    const spool = mkdtempSync(join(tmpdir(), 'hoist-daemon-spool-'));
    const source = await openDockerDaemonSource(base.tag, { run: exec, env, tmpDir: spool });
    const r = await copyImage(source, await openOciLayoutSink(out, 'v1'));
    await source.close();
    assert.deepEqual(readdirSync(spool), [], 'spool removed on close');
    const m = JSON.parse((await (await openOciLayoutSource(out, 'v1')).manifest()).bytes.toString()) as { config: { digest: string } };
    const cfg = JSON.parse((await readAll((await openOciLayoutSource(out, 'v1')).blob(m.config as never)(), 1 << 20)).toString()) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(cfg.rootfs.diff_ids, diffIds);
    assert.equal(r.stats.compressed, diffIds.length);
    await assert.rejects(openDockerDaemonSource('hoist-test/no-such-image:0', { run: exec, env, tmpDir: spool }).then((s) => s.manifest()),
      (err: Error & { code?: string }) => err.code === 'image.daemon-failed' && /no-such-image/.test(err.message));
    assert.deepEqual(readdirSync(spool), [], 'a failed save leaves no spool');
  });
});
