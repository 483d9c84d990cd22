// hoist's registry client against tiny loopback servers that misbehave on purpose: a blob GET
// redirected to another host (Authorization must not follow), bytes that do not match their
// digest, a manifest over 4 MiB, a Bearer token challenge, and 503 + Retry-After.
import { backoffDelay, DEFAULT_RETRY } from '../src/http/retry.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { isHoistError } from '../src/errors.ts';
import { MEDIA, sha256Digest } from '../src/image/descriptor.ts';
import { Secret } from '../src/model/secret.ts';
import { RegistryClient } from '../src/registry/client.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler, host = '127.0.0.1'): Promise<{ server: Server; host: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, host, r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  return { server, host: `${host}:${port}` };
}

const creds = { username: 'u', password: new Secret('p4ss') };
const basic = `Basic ${Buffer.from('u:p4ss').toString('base64')}`;

async function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('a blob GET redirected to another host does not carry Authorization there', async () => {
  const bytes = randomBytes(10_000);
  const digest = sha256Digest(bytes);
  const seen: Array<{ server: string; auth: string | undefined }> = [];
  // "localhost" vs 127.0.0.1: another host name, as an S3 redirect from ECR is.
  const storage = await serve((req, res) => {
    seen.push({ server: 'storage', auth: req.headers.authorization });
    res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
  });
  const storageUrl = `http://localhost:${storage.host.split(':')[1]}/blob?sig=x`;
  const registry = await serve((req, res) => {
    seen.push({ server: 'registry', auth: req.headers.authorization });
    res.writeHead(307, { location: storageUrl }).end();
  });
  const client = new RegistryClient({ credentials: { [registry.host]: creds } });
  after(() => client.close());
  const got = await drain(await client.repository(registry.host, 'app').getBlob({ digest, size: bytes.length }));
  assert.ok(got.equals(bytes));
  assert.deepEqual(seen, [{ server: 'registry', auth: basic }, { server: 'storage', auth: undefined }]);
});

test('a blob whose bytes do not match its digest is an error', async () => {
  const bytes = randomBytes(50_000);
  const registry = await serve((_req, res) => void res.writeHead(200, { 'content-length': bytes.length }).end(bytes));
  const client = new RegistryClient();
  after(() => client.close());
  const wrong = sha256Digest(randomBytes(4));
  const stream = await client.repository(registry.host, 'app').getBlob({ digest: wrong, size: bytes.length });
  await assert.rejects(drain(stream), (e) => isHoistError(e, 'image.digest-mismatch'));
});

test('a manifest over 4 MiB is refused, with or without Content-Length', async () => {
  const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, pad: 'x'.repeat(4 * 1024 * 1024) }));
  const registry = await serve((req, res) => {
    const chunked = req.url?.includes('chunked');
    res.writeHead(200, { 'content-type': MEDIA.ociManifest, ...(chunked ? {} : { 'content-length': big.length }) });
    res.end(big);
  });
  const client = new RegistryClient();
  after(() => client.close());
  for (const tag of ['sized', 'chunked']) {
    await assert.rejects(client.repository(registry.host, 'app').getManifest(tag), (e) => isHoistError(e, 'image.manifest-too-large'));
  }
});

test('a manifest whose body does not match the digest asked for is refused', async () => {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: {}, layers: [] }));
  const registry = await serve((_req, res) => void res.writeHead(200, { 'content-type': MEDIA.ociManifest }).end(body));
  const client = new RegistryClient();
  after(() => client.close());
  await assert.rejects(client.repository(registry.host, 'app').getManifest(sha256Digest('other')), (e) => isHoistError(e, 'image.digest-mismatch'));
});

test('Bearer challenge: token fetched from the realm with Basic credentials and scope, then reused', async () => {
  const tokenRequests: Array<{ auth?: string; scope: string | null; service: string | null }> = [];
  const auth = await serve((req, res) => {
    const u = new URL(req.url!, 'http://x');
    tokenRequests.push({ auth: req.headers.authorization, scope: u.searchParams.get('scope'), service: u.searchParams.get('service') });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'tok-1', expires_in: 300 }));
  });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: {}, layers: [] }));
  const registry = await serve((req, res) => {
    if (req.headers.authorization !== 'Bearer tok-1') {
      return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${auth.host}/token",service="reg",scope="repository:team/app:pull"` }).end();
    }
    res.writeHead(200, { 'content-type': MEDIA.ociManifest }).end(manifest);
  });
  const client = new RegistryClient({ credentials: { [registry.host]: creds } });
  after(() => client.close());
  const repo = client.repository(registry.host, 'team/app');
  assert.equal((await repo.getManifest('v1')).digest, sha256Digest(manifest));
  assert.equal((await repo.getManifest('v2')).digest, sha256Digest(manifest));
  assert.deepEqual(tokenRequests, [{ auth: basic, scope: 'repository:team/app:pull', service: 'reg' }]);
});

test('503 with Retry-After is retried after the delay the server asked for; a 404 is not retried', async () => {
  let calls = 0;
  const registry = await serve((req, res) => {
    calls++;
    if (req.url?.includes('missing')) return void res.writeHead(404).end();
    if (calls < 3) return void res.writeHead(503, { 'retry-after': '1' }).end();
    res.writeHead(200, { 'content-length': 3, 'docker-content-digest': sha256Digest('abc') }).end();
  });
  const delays: number[] = [];
  const client = new RegistryClient({ retry: { sleep: async (ms) => void delays.push(ms) } });
  after(() => client.close());
  const repo = client.repository(registry.host, 'app');
  assert.equal(await repo.headBlob(sha256Digest('abc')), 3);
  assert.deepEqual(delays, [1000, 1000]);
  calls = 0;
  assert.equal(await repo.headManifest('missing'), undefined);
  assert.equal(calls, 1);
});

test('a connection reset during an upload restarts the blob from a new POST', async () => {
  const bytes = randomBytes(20_000);
  const digest = sha256Digest(bytes);
  const log: string[] = [];
  let puts = 0;
  const registry = await serve((req, res) => {
    log.push(`${req.method} ${new URL(req.url!, 'http://x').pathname}`);
    if (req.method === 'POST') return void res.writeHead(202, { location: `/v2/app/blobs/uploads/${log.length}` }).end();
    if (req.method === 'PUT' && ++puts === 1) return void req.socket.destroy();
    void drain(req).then((b) => res.writeHead(b.equals(bytes) ? 201 : 400).end());
  });
  const client = new RegistryClient({ retry: { sleep: async () => {} } });
  after(() => client.close());
  const outcome = await client.repository(registry.host, 'app').pushBlob({ mediaType: MEDIA.ociLayerGzip, digest, size: bytes.length }, () => {
    return Readable.from([bytes]);
  });
  assert.equal(outcome, 'uploaded');
  assert.deepEqual(log, ['POST /v2/app/blobs/uploads/', 'PUT /v2/app/blobs/uploads/1', 'POST /v2/app/blobs/uploads/', 'PUT /v2/app/blobs/uploads/3']);
});

test('backoff: equal jitter, so five attempts always span 7.5 to 15 s (a 3 s outage is survived)', () => {
  const p = { ...DEFAULT_RETRY };
  const span = (r: number) => [1, 2, 3, 4].reduce((sum, a) => sum + backoffDelay(a, { ...p, random: () => r }), 0);
  assert.equal(span(0), 7500);
  assert.ok(span(0.999999) > 14_990 && span(0.999999) < 15_000);
  assert.equal(backoffDelay(9, { ...p, random: () => 0.5 }), 11_250, 'capped at 15 s');
});
