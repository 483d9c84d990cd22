// docker-daemon: read from the engine's unix socket (src/image/engine-socket.ts). The real
// engine is exercised in copy-promote.test.ts (socket and CLI); here an HTTP server on a unix
// socket stands in for dockerd's API, so the cases an engine rarely shows on demand (a refused
// image, a save cut off midway, nothing listening) and what hoist sent can be checked exactly.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';

import { copyImage } from '../src/image/copy.ts';
import { openDockerDaemonSource, type SaveRunner } from '../src/image/docker-daemon.ts';
import { type EngineEndpoint, engineEndpoint } from '../src/image/engine-socket.ts';
import { openOciLayoutSink } from '../src/image/oci-layout.ts';
import { catRunner } from './support/docker-archive.ts';
import { tar } from './support/tar.ts';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'hoist-engine-socket-'));

/** A Docker ≥ 25 style save of two text layers (above the in-memory threshold), and its diffIDs. */
function save(): { bytes: Buffer; diffIds: string[] } {
  const layer = (n: string, mb: number) => tar([{ type: 'file', path: `${n}.txt`, data: `${n} the quick brown fox 0123456789\n`.repeat(Math.ceil(mb * 1048576 / 32)) }]);
  const layers = [layer('a', 3), layer('b', 2)];
  const diffIds = layers.map(sha);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} }));
  const blobs = layers.map((t, i) => ({ type: 'file' as const, path: `blobs/sha256/${diffIds[i]!.slice(7)}`, data: t }));
  const bytes = tar([
    ...blobs,
    { type: 'file', path: `blobs/sha256/${sha(config).slice(7)}`, data: config },
    { type: 'file', path: 'manifest.json', data: JSON.stringify([{ Config: `blobs/sha256/${sha(config).slice(7)}`, RepoTags: ['x:1'], Layers: blobs.map((b) => b.path) }]) },
  ]);
  return { bytes, diffIds };
}

interface FakeEngine {
  socket: string;
  /** Where hoist reaches it: the unix socket, or with `tcp` a loopback port. */
  endpoint: EngineEndpoint;
  seen: string[];
  server: Server;
  /** With `linger`: settles once the save's connection is closed, saying who closed it. */
  saveClosed: Promise<'by hoist' | 'by the engine'>;
}

interface FakeSave {
  /** Stop the save after this many bytes, breaking the connection. */
  cut?: number;
  /** Send this many bytes of the save, then nothing more (the connection stays open). */
  stall?: number;
  /**
   * Send the whole save, then hold the connection as dockerd does while it removes its temp dir
   * (moby tarexport: a deferred RemoveAll before the response ends), here for up to 30 s.
   */
  linger?: boolean;
  /** Listen on a loopback TCP port (a DinD service's tcp://docker:2375) instead of a unix socket. */
  tcp?: boolean;
}

/** dockerd's two endpoints hoist uses, for image x:1. */
async function fakeEngine(name: string, img: { bytes: Buffer; diffIds: string[] }, how: FakeSave = {}): Promise<FakeEngine> {
  const socket = join(tmp, `${name}.sock`);
  const seen: string[] = [];
  let closed: (who: 'by hoist' | 'by the engine') => void = () => {};
  const saveClosed = new Promise<'by hoist' | 'by the engine'>((r) => (closed = r));
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
    if (req.url === '/images/get?names=x%3A1') {
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      if (how.cut !== undefined) return void res.write(img.bytes.subarray(0, how.cut), () => res.socket?.destroy());
      if (how.stall !== undefined) return void res.write(img.bytes.subarray(0, how.stall));
      if (!how.linger) return void res.end(img.bytes);
      res.write(img.bytes);
      const giveUp = setTimeout(() => {
        closed('by the engine');
        res.end();
      }, 30_000);
      res.socket?.once('close', () => {
        clearTimeout(giveUp);
        closed('by hoist');
      });
      return;
    }
    if (req.url === '/images/x%3A1/json') return void res.end(JSON.stringify({ Id: 'sha256:x', RootFS: { Type: 'layers', Layers: img.diffIds } }));
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `No such image: ${decodeURIComponent(req.url!.replace(/^.*names=|^\/images\/|\/json$/g, ''))}` }));
  });
  await new Promise<void>((r) => (how.tcp ? server.listen(0, '127.0.0.1', r) : server.listen(socket, r)));
  after(() => new Promise<void>((r) => server.close(() => r())));
  const endpoint: EngineEndpoint = how.tcp ? { kind: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port } : unix(socket);
  return { socket, endpoint, seen, server, saveClosed };
}

/** The layers of the manifest `digest` in an OCI layout, gunzipped. */
function layersUnpacked(dir: string, digest: string): Buffer[] {
  const blob = (d: string) => readFileSync(join(dir, 'blobs', 'sha256', d.slice('sha256:'.length)));
  const manifest = JSON.parse(blob(digest).toString('utf8')) as { layers: { digest: string }[] };
  return manifest.layers.map((l) => gunzipSync(blob(l.digest)));
}

const unix = (path: string) => ({ kind: 'unix' as const, path });

/** Fails the test if hoist reaches for the docker CLI at all. */
const noCli: SaveRunner = (req) => Promise.reject(new Error(`the docker CLI was run: docker ${req.args.join(' ')}`));


describe('docker-daemon: from the engine socket', () => {
  const img = save();

  it('reads the save and the layer list over the socket (HTTP/1.0, no CLI) into the same image the CLI path gives', async () => {
    const engine = await fakeEngine('ok', img);
    const viaSocket = await copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(engine.socket) }), await openOciLayoutSink(join(tmp, 'sock'), 'v1'));
    const file = join(tmp, 'save.tar');
    writeFileSync(file, img.bytes);
    const viaCli = await copyImage(await openDockerDaemonSource('x:1', { run: catRunner(file, img.diffIds), env: {} }), await openOciLayoutSink(join(tmp, 'cli'), 'v1'));
    assert.equal(viaSocket.digest, viaCli.digest, 'byte for byte the same image either way');
    assert.equal(viaSocket.stats.compressed, 2);
    // The layer list is asked for because the copy may know layers from the digest cache.
    assert.deepEqual(engine.seen.sort(), ['GET /images/get?names=x%3A1 HTTP/1.0', 'GET /images/x%3A1/json HTTP/1.0']);
  });

  it('a head split across reads and a body sent in odd small pieces give the same image', async () => {
    // dockerd's head and body come in whatever pieces the socket gives: the head may end in a
    // later read than it began, and the body's first bytes may share a read with it.
    const socket = join(tmp, 'pieces.sock');
    const head = Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: application/x-tar\r\n\r\n');
    const whole = Buffer.concat([head, img.bytes]);
    const cuts = [20, head.length - 3, head.length + 5];
    for (let at = head.length + 5; at < whole.length; at += 1 + ((at * 7919) % 65_537)) cuts.push(at);
    cuts.push(whole.length);
    const server = createNetServer((conn) => conn.once('data', async (req: Buffer) => {
      conn.on('error', () => {}); // hoist may close first once the archive is whole
      if (!req.toString('latin1').startsWith('GET /images/get?')) {
        return void conn.end(`HTTP/1.0 200 OK\r\n\r\n${JSON.stringify({ RootFS: { Type: 'layers', Layers: img.diffIds } })}`);
      }
      for (let i = 0, from = 0; i < cuts.length && !conn.destroyed; from = cuts[i++]!) {
        if (!conn.write(whole.subarray(from, cuts[i]))) await new Promise((r) => conn.once('drain', r));
        if (i < 4) await new Promise((r) => setTimeout(r, 20));
      }
      conn.end();
    }));
    await new Promise<void>((r) => server.listen(socket, r));
    after(() => new Promise<void>((r) => server.close(() => r())));
    const viaPieces = await copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(socket) }), await openOciLayoutSink(join(tmp, 'pieces'), 'v1'));
    const engine = await fakeEngine('whole', img);
    const viaWhole = await copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(engine.socket) }), await openOciLayoutSink(join(tmp, 'whole'), 'v1'));
    assert.equal(viaPieces.digest, viaWhole.digest);
    assert.equal(viaPieces.stats.compressed, 2);
    // The socket reads straight into the blocks it hands on: every layer, unpacked again, is
    // still the bytes the engine sent (its diffID), not a block overwritten by a later read.
    assert.deepEqual(layersUnpacked(join(tmp, 'pieces'), viaPieces.digest).map(sha), img.diffIds);
  });

  it('over TCP (a DinD service without TLS): the same request, the same image', async () => {
    const viaUnix = await fakeEngine('tcp-unix', img);
    const viaTcp = await fakeEngine('tcp', img, { tcp: true });
    const copy = async (e: FakeEngine, out: string) => copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: e.endpoint }), await openOciLayoutSink(join(tmp, out), 'v1'));
    assert.equal((await copy(viaTcp, 'tcp')).digest, (await copy(viaUnix, 'tcp-unix')).digest);
    assert.deepEqual(viaTcp.seen, viaUnix.seen, 'the same requests, HTTP/1.0');
    assert.ok(viaTcp.seen.includes('GET /images/get?names=x%3A1 HTTP/1.0'), viaTcp.seen.join(', '));
  });

  it('nothing listening on a tcp:// engine: the CLI\'s words and the DinD checklist', async () => {
    const gone = createNetServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    await assert.rejects(copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: { kind: 'tcp', host: '127.0.0.1', port } }), await openOciLayoutSink(join(tmp, 'tcp-nobody'), 'v1')),
      (e: Error & { code?: string; hint?: string }) => e.code === 'image.daemon-failed'
        && e.message.includes(`Cannot connect to the Docker daemon at tcp://127.0.0.1:${port}. Is the docker daemon running? (ECONNREFUSED)`)
        && /DOCKER_HOST=tcp:\/\/docker:2375 with DOCKER_TLS_CERTDIR="".*privileged/.test(e.hint ?? ''));
  });

  it('an image the engine does not hold: its own message, as the CLI would print it', async () => {
    const engine = await fakeEngine('missing', img);
    await assert.rejects(copyImage(await openDockerDaemonSource('y:2', { run: noCli, env: {}, endpoint: unix(engine.socket) }), await openOciLayoutSink(join(tmp, 'missing'), 'v1')),
      (e: Error & { code?: string; hint?: string }) => e.code === 'image.daemon-failed' && e.message === 'docker save y:2 failed: Error response from daemon: No such image: y:2'
        && /docker image ls/.test(e.hint ?? ''));
  });

  it('a save cut off midway fails and tags nothing', async () => {
    const engine = await fakeEngine('cut', img, { cut: 2 * 1048576 });
    const out = join(tmp, 'cut');
    await assert.rejects(copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(engine.socket) }), await openOciLayoutSink(out, 'v1')),
      (e: Error & { code?: string }) => e.code === 'image.archive-invalid' && /docker save stream broke off/.test(e.message));
    assert.ok(!existsSync(join(out, 'index.json')) || !readFileSync(join(out, 'index.json'), 'utf8').includes('"v1"'), 'nothing tagged v1');
  });

  it('a whole archive ends the save: hoist does not wait while the engine removes its temp dir', async () => {
    const engine = await fakeEngine('linger', img, { linger: true });
    const r = await copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(engine.socket) }), await openOciLayoutSink(join(tmp, 'linger'), 'v1'));
    assert.equal(r.stats.compressed, 2);
    assert.equal(await engine.saveClosed, 'by hoist', 'hoist closed the connection once the end-of-archive blocks were in');
  });

  it('a save that ends cleanly but without its end-of-archive blocks is cut off, not whole', async () => {
    const unended = { ...img, bytes: img.bytes.subarray(0, img.bytes.length - 1024) };
    assert.ok(unended.bytes.subarray(-512).some((b) => b !== 0), 'the last entry is still all there');
    const engine = await fakeEngine('unended', unended);
    await assert.rejects(copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(engine.socket) }), await openOciLayoutSink(join(tmp, 'unended'), 'v1')),
      (e: Error & { code?: string }) => e.code === 'image.archive-invalid' && /broke off \(tar: unexpected end of archive \(no end-of-archive block\)\)/.test(e.message));
  });

  it('a save stopped by the caller says so, not that the tar broke off', async () => {
    const engine = await fakeEngine('stall', img, { stall: 2 * 1048576 });
    const stop = new AbortController();
    const source = await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(engine.socket), signal: stop.signal });
    const copied = copyImage(source, await openOciLayoutSink(join(tmp, 'stall'), 'v1'));
    setTimeout(() => stop.abort(), 300);
    await assert.rejects(copied, (e: Error & { code?: string }) => e.code === 'exec.aborted' && /docker save x:1: aborted/.test(e.message));
  });

  it('nothing listening: the CLI\'s words and what to do', async () => {
    const socket = join(tmp, 'nobody.sock');
    await assert.rejects(copyImage(await openDockerDaemonSource('x:1', { run: noCli, env: {}, endpoint: unix(socket) }), await openOciLayoutSink(join(tmp, 'nobody'), 'v1')),
      (e: Error & { code?: string; hint?: string }) => e.code === 'image.daemon-failed'
        && e.message.includes(`Cannot connect to the Docker daemon at unix://${socket}. Is the docker daemon running?`)
        && /Start the Docker engine, or point DOCKER_HOST/.test(e.hint ?? ''));
  });
});

describe('engineEndpoint: only where the docker CLI would go the same way, in plain HTTP', () => {
  const home = (config?: unknown) => {
    const h = mkdtempSync(join(tmp, 'home-'));
    if (config !== undefined) {
      mkdirSync(join(h, '.docker'));
      writeFileSync(join(h, '.docker', 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    }
    return h;
  };
  const tcp = (host: string, port: number) => ({ kind: 'tcp' as const, host, port });
  const cases: [string, Record<string, string>, ReturnType<typeof unix> | ReturnType<typeof tcp> | undefined][] = [
    ['no DOCKER_HOST: the default socket', { HOME: home() }, unix('/var/run/docker.sock')],
    ['DOCKER_HOST=unix://PATH', { DOCKER_HOST: 'unix:///run/user/1000/docker.sock', HOME: home() }, unix('/run/user/1000/docker.sock')],
    ['DOCKER_HOST=tcp://docker:2375 (the seed\'s DinD service)', { DOCKER_HOST: 'tcp://docker:2375', DOCKER_TLS_CERTDIR: '', HOME: home() }, tcp('docker', 2375)],
    ['DOCKER_HOST=tcp://HOST without a port: 2375, as the CLI', { DOCKER_HOST: 'tcp://docker', HOME: home() }, tcp('docker', 2375)],
    ['DOCKER_HOST=tcp://[::1]:2375/', { DOCKER_HOST: 'tcp://[::1]:2375/', HOME: home() }, tcp('::1', 2375)],
    ['tcp:// with DOCKER_TLS_VERIFY=1 (DinD on 2376): the CLI', { DOCKER_HOST: 'tcp://docker:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs/client', HOME: home() }, undefined],
    ['tcp:// with DOCKER_TLS_VERIFY=0: the CLI (it turns TLS on for any value)', { DOCKER_HOST: 'tcp://docker:2376', DOCKER_TLS_VERIFY: '0', HOME: home() }, undefined],
    ['tcp:// with DOCKER_TLS=1: the CLI', { DOCKER_HOST: 'tcp://docker:2376', DOCKER_TLS: '1', HOME: home() }, undefined],
    ['tcp:// behind HTTP_PROXY: the CLI (it would go through the proxy)', { DOCKER_HOST: 'tcp://docker:2375', HTTP_PROXY: 'http://proxy:3128', HOME: home() }, undefined],
    ['tcp:// on loopback with http_proxy set: never proxied', { DOCKER_HOST: 'tcp://127.0.0.1:2375', http_proxy: 'http://proxy:3128', HOME: home() }, tcp('127.0.0.1', 2375)],
    ['tcp:// with a path: the CLI', { DOCKER_HOST: 'tcp://docker:2375/engine', HOME: home() }, undefined],
    ['tcp:// with port 0: the CLI', { DOCKER_HOST: 'tcp://docker:0', HOME: home() }, undefined],
    ['DOCKER_HOST=ssh://: the CLI', { DOCKER_HOST: 'ssh://me@build', HOME: home() }, undefined],
    ['DOCKER_CONTEXT names another context: the CLI', { DOCKER_CONTEXT: 'remote', HOME: home() }, undefined],
    ['DOCKER_CONTEXT names another context, even with DOCKER_HOST=tcp://', { DOCKER_CONTEXT: 'remote', DOCKER_HOST: 'tcp://docker:2375', HOME: home() }, undefined],
    ['DOCKER_CONTEXT=default', { DOCKER_CONTEXT: 'default', HOME: home() }, unix('/var/run/docker.sock')],
    ['config.json: currentContext remote: the CLI', { HOME: home({ currentContext: 'remote' }) }, undefined],
    ['config.json: currentContext default', { HOME: home({ currentContext: 'default', auths: {} }) }, unix('/var/run/docker.sock')],
    ['DOCKER_CONFIG dir wins over HOME', { DOCKER_CONFIG: join(home({ currentContext: 'remote' }), '.docker'), HOME: home() }, undefined],
    ['DOCKER_HOST=unix:// overrides the current context', { DOCKER_HOST: 'unix:///var/run/docker.sock', HOME: home({ currentContext: 'remote' }) }, unix('/var/run/docker.sock')],
    ['DOCKER_HOST=tcp:// overrides the current context', { DOCKER_HOST: 'tcp://docker:2375', HOME: home({ currentContext: 'remote' }) }, tcp('docker', 2375)],
    ['config.json that does not parse: the CLI says what is wrong', { HOME: home('{not json') }, undefined],
  ];
  for (const [name, env, want] of cases) {
    it(name, async () => assert.deepEqual(await engineEndpoint(env), want));
  }
});
