// Engine diagnoses with the real docker CLI against real endpoints: a closed port, an
// unresolvable host, TLS mismatches both ways (Node TLS servers with a self-signed cert made by
// openssl here, and a plain HTTP server), TLS without certs, a missing socket, a socket the
// user may not open. Each must be a HoistError with its own code, the DOCKER_HOST and a hint.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { lookup } from 'node:dns/promises';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, test, type TestContext } from 'node:test';

import { createDockerBuilder } from '../src/build/docker.ts';
import { HoistError, isHoistError } from '../src/errors.ts';
import { cleanEnv, run, runOk, skipUnless } from './support/components.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hoist-docker-diagnose-test-'));
const certs = join(scratch, 'certs');
const servers: Server[] = [];
let tls: { key: Buffer; cert: Buffer } | undefined;

before(async () => {
  mkdirSync(certs);
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'cert.pem'),
  ], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    if (process.env.CI === 'true') throw new Error(`openssl failed: ${r.stderr}`);
    return;
  }
  writeFileSync(join(certs, 'ca.pem'), readFileSync(join(certs, 'cert.pem')));
  tls = { key: readFileSync(join(certs, 'key.pem')), cert: readFileSync(join(certs, 'cert.pem')) };
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
  for (const s of servers) {
    s.close();
    (s as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  }
});

function listen(server: Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

async function closedPort(): Promise<number> {
  const s = createNetServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** Like dockerd's Go TLS listener: a plaintext HTTP request gets "400 … Client sent an HTTP request to an HTTPS server." */
function goStyleTlsServer(material: { key: Buffer; cert: Buffer }): Server {
  const inner = createTlsServer(material, (s) => s.end());
  return createNetServer((sock) => {
    sock.once('data', (first: Buffer) => {
      if (first[0] === 0x16) {
        sock.pause();
        sock.unshift(first);
        inner.emit('connection', sock);
        sock.resume();
      } else {
        sock.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
      }
    });
  });
}

async function diagnose(env: Record<string, string>, docker?: string): Promise<HoistError> {
  const b = createDockerBuilder({ env: cleanEnv(env), tmpDir: scratch, timeouts: { check: 20_000 }, ...(docker ? { docker } : {}) });
  try {
    await b.check();
  } catch (e) {
    assert.ok(e instanceof HoistError, String(e));
    return e;
  } finally {
    await b.dispose();
  }
  assert.fail('check() succeeded');
}

function expectDiagnosis(err: HoistError, code: string, dockerHost: string, hint: RegExp): void {
  assert.equal(err.code, code, `${err.code}: ${err.message}`);
  assert.equal(err.context.dockerHost, dockerHost);
  assert.match(err.hint ?? '', hint);
}

async function needCli(t: TestContext): Promise<boolean> {
  return skipUnless(t, 'docker-unix'); // the CLI is what runs; its engine answers on the socket
}

describe('engine diagnosis with the real docker CLI', () => {
  test('closed port → docker.unreachable with the 2375/2376 hint', async (t) => {
    if (await needCli(t)) return;
    const host = `tcp://127.0.0.1:${await closedPort()}`;
    const err = await diagnose({ DOCKER_HOST: host });
    expectDiagnosis(err, 'docker.unreachable', host, /not up yet or listens with TLS on 2376.*--tls=false/);
    assert.equal(err.retryable, true);
  });

  test('unresolvable host → docker.dns; tcp://docker:2375 → the missing DinD service recipe', async (t) => {
    if (await needCli(t)) return;
    expectDiagnosis(await diagnose({ DOCKER_HOST: 'tcp://docker.invalid:2375' }), 'docker.dns', 'tcp://docker.invalid:2375', /docker\.invalid/);
    const resolves = await lookup('docker').then(() => true, () => false);
    if (resolves) return void t.diagnostic('"docker" resolves on this machine: DinD recipe case not checked');
    expectDiagnosis(await diagnose({ DOCKER_HOST: 'tcp://docker:2375' }), 'docker.dns', 'tcp://docker:2375', /DinD service is missing: add services: .*docker:24\.0-dind/);
  });

  test('plain HTTP to a TLS port → docker.tls-mismatch (Node TLS server and Go-style listener)', async (t) => {
    if (await needCli(t)) return;
    if (!tls) return void t.skip('openssl unavailable');
    const nodeTls = `tcp://127.0.0.1:${await listen(createHttpsServer(tls, (_q, s) => s.end()))}`;
    expectDiagnosis(await diagnose({ DOCKER_HOST: nodeTls }), 'docker.tls-mismatch', nodeTls, /DOCKER_TLS_VERIFY.*2376|--tls=false/);
    const goTls = `tcp://127.0.0.1:${await listen(goStyleTlsServer(tls))}`;
    const err = await diagnose({ DOCKER_HOST: goTls });
    expectDiagnosis(err, 'docker.tls-mismatch', goTls, /DOCKER_CERT_PATH/);
    assert.match(err.message, /expects TLS/);
  });

  test('TLS to a plain HTTP port (DOCKER_TLS_VERIFY=1 with certs) → docker.tls-mismatch', async (t) => {
    if (await needCli(t)) return;
    if (!tls) return void t.skip('openssl unavailable');
    const plain = `tcp://127.0.0.1:${await listen(createHttpServer((_q, s) => s.writeHead(404).end('not docker')))}`;
    const err = await diagnose({ DOCKER_HOST: plain, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
    expectDiagnosis(err, 'docker.tls-mismatch', plain, /unset DOCKER_TLS_VERIFY/);
    assert.match(err.message, /answers plain HTTP/);
  });

  test('DOCKER_TLS_VERIFY without certs → docker.tls-certs', async (t) => {
    if (await needCli(t)) return;
    const empty = mkdtempSync(join(scratch, 'nocerts-'));
    const err = await diagnose({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: empty });
    expectDiagnosis(err, 'docker.tls-certs', 'tcp://127.0.0.1:2376', /DOCKER_CERT_PATH: \/certs\/client/);
  });

  test('a socket that does not exist → docker.unreachable naming it', async (t) => {
    if (await needCli(t)) return;
    const sock = `unix://${join(scratch, 'no.sock')}`;
    const err = await diagnose({ DOCKER_HOST: sock });
    expectDiagnosis(err, 'docker.unreachable', sock, /start dockerd/);
    assert.match(err.message, /there is no socket at/);
  });

  test('a socket the user may not open → docker.permission', async (t) => {
    if (await needCli(t)) return;
    const setpriv = await run('setpriv', ['--version']).catch(() => undefined);
    if (!setpriv || setpriv.code !== 0 || (await runOk('id', ['-u'])).stdout.trim() !== '0') {
      return void t.skip('needs root and setpriv to run the CLI as nobody');
    }
    // The docker CLI as `nobody` (no docker group): the socket is root:docker 0660.
    const wrapper = join(scratch, 'docker-as-nobody');
    writeFileSync(wrapper, '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups docker "$@"\n');
    chmodSync(wrapper, 0o755);
    chmodSync(scratch, 0o755); // nobody must reach the private DOCKER_CONFIG's parent (the dir itself stays 0700: docker only warns)
    const err = await diagnose({ DOCKER_HOST: 'unix:///var/run/docker.sock' }, wrapper);
    expectDiagnosis(err, 'docker.permission', 'unix:///var/run/docker.sock', /docker/);
  });

  test('check() is bounded: an endpoint that accepts and never answers → docker.unreachable after the timeout', async (t) => {
    if (await needCli(t)) return;
    const silent = `tcp://127.0.0.1:${await listen(createNetServer(() => {}))}`;
    const b = createDockerBuilder({ env: cleanEnv({ DOCKER_HOST: silent }), tmpDir: scratch, timeouts: { check: 1_500 } });
    const started = Date.now();
    await assert.rejects(b.check(), (e: unknown) => isHoistError(e, 'docker.unreachable') && /did not answer within 1500 ms/.test(e.message));
    assert.ok(Date.now() - started < 10_000);
    await b.dispose();
  });
});
