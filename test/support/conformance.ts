// Our own OCI distribution conformance suite, held to every registry we talk to (the sandbox's
// ECR stand-in and the real CNCF registry), with plain fetch. Feature flags gate what a
// registry legitimately does not do (ECR: no blob delete, PATCH answers 201; distribution 2.8:
// no tag delete, no tags/list pagination, no 416 for out-of-order chunks).
//
//   registryConformance({ name, url, repo, authHeader, features, setupRepo });
//
// Registers one `describe` of `it`s; call it at the top level of a test file or inside a describe.

import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';

export interface ConformanceFeatures {
  /** `POST ?mount=&from=` mounts (201); false: answered with an upload session (202). */
  mount: boolean;
  /** DELETE /manifests/<tag> removes the tag (ECR); false: refused with a 4xx, tag kept. */
  tagDelete: boolean;
  /** DELETE /blobs/<digest> deletes (202); false: 405 UNSUPPORTED (ECR). */
  blobDelete: boolean;
  /** Status of a successful PATCH: 202 per spec, 201 on ECR. */
  patchStatus: 201 | 202;
  /** DELETE /manifests/<digest> deletes the image (202). */
  manifestDelete: boolean;
  /** `POST ?digest=` with the body completes in one request (201); default false (202, then PUT). */
  singlePost?: boolean;
  /** tags/list honours n/last with a Link header, sorted lexically; default true. */
  tagPagination?: boolean;
  /** A chunk whose Content-Range does not start at the upload's size gets 416; default true. */
  chunkOrder416?: boolean;
}

export interface ConformanceTarget {
  name: string;
  /** Base URL, e.g. http://127.0.0.1:5000 */
  url: string;
  /** Authorization header value sent with every request (same origin only). */
  authHeader?: () => Promise<string | undefined>;
  /** Repository to work in (created by setupRepo when the registry needs that); `<repo>-src` is used too. */
  repo: string;
  features: ConformanceFeatures;
  /** Creates a repository before it is pushed to (ECR needs that; distribution creates on push). */
  setupRepo?: (name: string) => Promise<void>;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | ReadableStream<Uint8Array>;
}

/** A tiny registry client over fetch: relative paths resolve against the target; auth is same-origin only. */
export class RegistryClient {
  constructor(readonly target: Pick<ConformanceTarget, 'url' | 'authHeader'>) {}

  async request(method: string, pathOrUrl: string | URL, opts: RequestOptions = {}): Promise<Reply> {
    const url = new URL(pathOrUrl, this.target.url);
    const headers = new Headers(opts.headers);
    if (url.origin === new URL(this.target.url).origin) {
      const auth = await this.target.authHeader?.();
      if (auth) headers.set('authorization', auth);
    }
    const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'manual', signal: AbortSignal.timeout(60_000) };
    if (opts.body !== undefined) {
      init.body = opts.body instanceof ReadableStream ? opts.body : new Uint8Array(opts.body);
      if (opts.body instanceof ReadableStream) init.duplex = 'half';
    }
    const res = await fetch(url, init);
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  /** Opens an upload session; returns its absolute Location. */
  async startUpload(repo: string, query = ''): Promise<Reply & { location: URL }> {
    const r = await this.request('POST', `/v2/${repo}/blobs/uploads/${query}`);
    const location = new URL(r.headers.get('location') ?? '', this.target.url);
    return { ...r, location };
  }

  /** Monolithic upload: POST, then PUT ?digest= with the whole body. */
  async pushBlob(repo: string, bytes: Buffer): Promise<string> {
    const start = await this.startUpload(repo);
    assert.equal(start.status, 202, `POST upload: ${start.status} ${start.body}`);
    const digest = digestOf(bytes);
    const put = await this.request('PUT', withDigest(start.location, digest), { body: bytes });
    assert.equal(put.status, 201, `PUT upload: ${put.status} ${put.body}`);
    return digest;
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<Reply> {
    return this.request('PUT', `/v2/${repo}/manifests/${reference}`, { body: bytes, headers: { 'content-type': mediaType } });
  }
}

export function withDigest(location: URL, digest: string): URL {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u;
}

/** The error codes of a distribution error body (empty for HEAD or non-JSON bodies). */
export function errorCodes(r: Reply): string[] {
  try {
    const parsed = JSON.parse(r.body.toString('utf8')) as { errors?: Array<{ code?: string }> };
    return (parsed.errors ?? []).map((e) => e.code ?? '');
  } catch {
    return [];
  }
}

export function assertError(r: Reply, status: number, code: string | string[], what = ''): void {
  const codes = Array.isArray(code) ? code : [code];
  assert.equal(r.status, status, `${what} expected ${status} ${codes.join('|')}, got ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  const got = errorCodes(r);
  assert.ok(got.some((c) => codes.includes(c)), `${what} expected error code ${codes.join('|')}, got ${JSON.stringify(got)}`);
}

export interface PushedImage {
  manifest: Buffer;
  digest: string;
  mediaType: string;
  config: Buffer;
  layer: Buffer;
}

/** Pushes config + one layer and builds (but does not push) an image manifest of the given flavour. */
export async function prepareImage(client: RegistryClient, repo: string, flavour: 'oci' | 'docker'): Promise<PushedImage> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomUUID() }));
  const layer = randomBytes(2048 + Math.floor(Math.random() * 2048));
  await client.pushBlob(repo, config);
  await client.pushBlob(repo, layer);
  const mediaType = flavour === 'oci' ? OCI_MANIFEST : DOCKER_MANIFEST;
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: flavour === 'oci' ? OCI_CONFIG : DOCKER_CONFIG, digest: digestOf(config), size: config.length },
    layers: [{ mediaType: flavour === 'oci' ? OCI_LAYER : DOCKER_LAYER, digest: digestOf(layer), size: layer.length }],
  }));
  return { manifest, digest: digestOf(manifest), mediaType, config, layer };
}

export function registryConformance(target: ConformanceTarget): void {
  const client = new RegistryClient(target);
  const repo = target.repo;
  const src = `${repo}-src`;
  const f = { singlePost: false, tagPagination: true, chunkOrder416: true, ...target.features };

  describe(`distribution conformance: ${target.name}`, () => {
    before(async () => {
      await target.setupRepo?.(repo);
      await target.setupRepo?.(src);
    });

    registerBase(target, client);
    registerPush(client, repo, f);
    registerMount(client, repo, src, f);
    registerManifests(client, repo);
    registerTags(client, repo, f);
    registerDeletes(client, repo, f);
    registerErrors(client, repo);
  });
}

type Features = Required<ConformanceFeatures>;

function registerBase(target: ConformanceTarget, client: RegistryClient): void {
  it('GET /v2/ answers 200 with the API version header (401 with a challenge without credentials)', async () => {
    const r = await client.request('GET', '/v2/');
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    if (target.authHeader) {
      const anon = await fetch(new URL('/v2/', target.url), { signal: AbortSignal.timeout(10_000) });
      await anon.arrayBuffer();
      assert.equal(anon.status, 401);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm="/);
    }
  });
}

/** Pulls a blob by GET and HEAD and checks bytes, size and digest. */
export async function assertBlob(client: RegistryClient, repo: string, bytes: Buffer): Promise<void> {
  const digest = digestOf(bytes);
  const head = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  assert.equal(head.status, 200, `HEAD blob ${digest}: ${head.status}`);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  assert.equal(head.headers.get('docker-content-digest'), digest);
  const get = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
  assert.equal(get.status, 200, `GET blob ${digest}: ${get.status}`);
  assert.equal(get.body.length, bytes.length);
  assert.equal(digestOf(get.body), digest, 'blob body digest');
  assert.equal(get.headers.get('docker-content-digest'), digest);
}

function registerPush(client: RegistryClient, repo: string, f: Features): void {
  it('monolithic upload: POST (202, Location, Range 0-0) then PUT ?digest= with the body (201)', async () => {
    const bytes = randomBytes(10_000);
    const start = await client.startUpload(repo);
    assert.equal(start.status, 202);
    assert.ok(start.headers.get('location'));
    assert.ok(start.headers.get('docker-upload-uuid'));
    assert.equal(start.headers.get('range'), '0-0');
    const digest = digestOf(bytes);
    const put = await client.request('PUT', withDigest(start.location, digest), { body: bytes });
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.equal(new URL(put.headers.get('location')!, 'http://x').pathname, `/v2/${repo}/blobs/${digest}`);
    await assertBlob(client, repo, bytes);
  });

  it(`single-request upload: POST ?digest= with the body (${f.singlePost ? '201' : '202, then PUT'})`, async () => {
    const bytes = randomBytes(5_000);
    const digest = digestOf(bytes);
    const r = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes });
    if (f.singlePost) {
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers.get('docker-content-digest'), digest);
    } else {
      assert.equal(r.status, 202, r.body.toString());
      const put = await client.request('PUT', withDigest(new URL(r.headers.get('location')!, client.target.url), digest), { body: bytes });
      assert.equal(put.status, 201, put.body.toString());
    }
    await assertBlob(client, repo, bytes);
  });

  it(`streamed PATCH without Content-Range (${f.patchStatus}), then PUT ?digest= without a body`, async () => {
    const parts = [randomBytes(70_000), randomBytes(1), randomBytes(33_333)];
    const bytes = Buffer.concat(parts);
    const start = await client.startUpload(repo);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new Uint8Array(p));
        c.close();
      },
    });
    const patch = await client.request('PATCH', start.location, { body: stream, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(patch.status, f.patchStatus, patch.body.toString());
    assert.equal(patch.headers.get('range'), `0-${bytes.length - 1}`);
    const loc = new URL(patch.headers.get('location')!, start.location);
    const put = await client.request('PUT', withDigest(loc, digestOf(bytes)));
    assert.equal(put.status, 201, put.body.toString());
    await assertBlob(client, repo, bytes);
  });

  it(`chunked PATCH with Content-Range${f.chunkOrder416 ? ', out-of-order chunk → 416' : ''}, GET status, PUT`, async () => {
    const bytes = randomBytes(30_000);
    const a = bytes.subarray(0, 12_000);
    const b = bytes.subarray(12_000);
    const start = await client.startUpload(repo);
    const p1 = await client.request('PATCH', start.location, {
      body: a, headers: { 'content-range': `0-${a.length - 1}`, 'content-type': 'application/octet-stream' },
    });
    assert.equal(p1.status, f.patchStatus, p1.body.toString());
    assert.equal(p1.headers.get('range'), `0-${a.length - 1}`);
    let loc = new URL(p1.headers.get('location')!, start.location);
    if (f.chunkOrder416) {
      const bad = await client.request('PATCH', loc, {
        body: b, headers: { 'content-range': `${a.length + 10}-${a.length + 10 + b.length - 1}`, 'content-type': 'application/octet-stream' },
      });
      assertError(bad, 416, 'BLOB_UPLOAD_INVALID', 'out-of-order chunk');
    }
    const status = await client.request('GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${a.length - 1}`);
    loc = new URL(status.headers.get('location') ?? loc.href, loc);
    const p2 = await client.request('PATCH', loc, {
      body: b, headers: { 'content-range': `${a.length}-${bytes.length - 1}`, 'content-type': 'application/octet-stream' },
    });
    assert.equal(p2.status, f.patchStatus, p2.body.toString());
    assert.equal(p2.headers.get('range'), `0-${bytes.length - 1}`);
    const put = await client.request('PUT', withDigest(new URL(p2.headers.get('location')!, loc), digestOf(bytes)));
    assert.equal(put.status, 201, put.body.toString());
    await assertBlob(client, repo, bytes);
  });

  it('PATCH a chunk, then the final PUT carries the rest of the body', async () => {
    const bytes = randomBytes(20_000);
    const start = await client.startUpload(repo);
    const p1 = await client.request('PATCH', start.location, {
      body: bytes.subarray(0, 7_000), headers: { 'content-range': '0-6999', 'content-type': 'application/octet-stream' },
    });
    assert.equal(p1.status, f.patchStatus);
    const loc = new URL(p1.headers.get('location')!, start.location);
    const put = await client.request('PUT', withDigest(loc, digestOf(bytes)), {
      body: bytes.subarray(7_000), headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.status, 201, put.body.toString());
    await assertBlob(client, repo, bytes);
  });

  it('zero-length blob', async () => {
    const empty = Buffer.alloc(0);
    const start = await client.startUpload(repo);
    const put = await client.request('PUT', withDigest(start.location, digestOf(empty)));
    assert.equal(put.status, 201, put.body.toString());
    await assertBlob(client, repo, empty);
  });

  it('digest mismatch → 400 DIGEST_INVALID, the upload is gone and nothing is visible', async () => {
    const bytes = randomBytes(4_000);
    const claimed = digestOf(randomBytes(10));
    const start = await client.startUpload(repo);
    const put = await client.request('PUT', withDigest(start.location, claimed), { body: bytes });
    assertError(put, 400, 'DIGEST_INVALID', 'PUT with a wrong digest');
    const status = await client.request('GET', start.location);
    assert.equal(status.status, 404, 'upload session after a digest mismatch');
    for (const d of [claimed, digestOf(bytes)]) {
      const head = await client.request('HEAD', `/v2/${repo}/blobs/${d}`);
      assert.equal(head.status, 404, `blob ${d} after a digest mismatch`);
    }
  });
}

function registerMount(client: RegistryClient, repo: string, src: string, f: Features): void {
  it(`cross-repository mount ${f.mount ? 'answers 201' : 'falls back to an upload session (202)'}`, async () => {
    const bytes = randomBytes(3_000);
    const digest = await client.pushBlob(src, bytes);
    const r = await client.startUpload(repo, `?mount=${digest}&from=${src}`);
    if (f.mount) {
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers.get('docker-content-digest'), digest);
      await assertBlob(client, repo, bytes);
      return;
    }
    assert.equal(r.status, 202, r.body.toString());
    assert.equal((await client.request('HEAD', `/v2/${repo}/blobs/${digest}`)).status, 404, 'not mounted');
    // The session it opened is an ordinary upload.
    const put = await client.request('PUT', withDigest(r.location, digest), { body: bytes });
    assert.equal(put.status, 201, put.body.toString());
    await assertBlob(client, repo, bytes);
  });

  it('mount of a blob the source repository does not hold → 202 upload session', async () => {
    const bytes = randomBytes(1_000);
    const r = await client.startUpload(repo, `?mount=${digestOf(bytes)}&from=${src}`);
    assert.equal(r.status, 202, r.body.toString());
    const put = await client.request('PUT', withDigest(r.location, digestOf(bytes)), { body: bytes });
    assert.equal(put.status, 201, put.body.toString());
  });
}

async function assertManifest(client: RegistryClient, repo: string, reference: string, img: { manifest: Buffer; digest: string; mediaType: string }): Promise<void> {
  const get = await client.request('GET', `/v2/${repo}/manifests/${reference}`, { headers: { accept: img.mediaType } });
  assert.equal(get.status, 200, `GET manifest ${reference}: ${get.status} ${get.body}`);
  assert.ok(get.body.equals(img.manifest), 'manifest bytes');
  assert.equal(get.headers.get('content-type'), img.mediaType);
  assert.equal(get.headers.get('docker-content-digest'), img.digest);
  assert.equal(digestOf(get.body), img.digest);
  const head = await client.request('HEAD', `/v2/${repo}/manifests/${reference}`, { headers: { accept: img.mediaType } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(img.manifest.length));
  assert.equal(head.headers.get('docker-content-digest'), img.digest);
  assert.equal(head.body.length, 0);
}

function registerManifests(client: RegistryClient, repo: string): void {
  for (const flavour of ['oci', 'docker'] as const) {
    it(`${flavour === 'oci' ? 'OCI image' : 'Docker schema 2'} manifest: PUT by tag (201), GET/HEAD by tag and by digest`, async () => {
      const img = await prepareImage(client, repo, flavour);
      const tag = `${flavour}-${randomUUID().slice(0, 8)}`;
      const put = await client.putManifest(repo, tag, img.manifest, img.mediaType);
      assert.equal(put.status, 201, put.body.toString());
      assert.equal(put.headers.get('docker-content-digest'), img.digest);
      assert.equal(new URL(put.headers.get('location')!, 'http://x').pathname, `/v2/${repo}/manifests/${img.digest}`);
      await assertManifest(client, repo, tag, img);
      await assertManifest(client, repo, img.digest, img);
      await assertBlob(client, repo, img.layer);
      await assertBlob(client, repo, img.config);
    });
  }

  it('image index referencing manifests', async () => {
    const a = await prepareImage(client, repo, 'oci');
    const b = await prepareImage(client, repo, 'oci');
    for (const img of [a, b]) assert.equal((await client.putManifest(repo, img.digest, img.manifest, img.mediaType)).status, 201);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: a.digest, size: a.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: OCI_MANIFEST, digest: b.digest, size: b.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }));
    const tag = `index-${randomUUID().slice(0, 8)}`;
    const put = await client.putManifest(repo, tag, index, OCI_INDEX);
    assert.equal(put.status, 201, put.body.toString());
    await assertManifest(client, repo, tag, { manifest: index, digest: digestOf(index), mediaType: OCI_INDEX });
  });

  it('manifest referencing a missing blob → 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const img = await prepareImage(client, repo, 'oci');
    const doc = JSON.parse(img.manifest.toString()) as { layers: Array<{ digest: string; size: number }> };
    const ghost = randomBytes(100);
    doc.layers.push({ ...doc.layers[0]!, digest: digestOf(ghost), size: ghost.length });
    const r = await client.putManifest(repo, `missing-${randomUUID().slice(0, 8)}`, Buffer.from(JSON.stringify(doc)), OCI_MANIFEST);
    assertError(r, 400, 'MANIFEST_BLOB_UNKNOWN', 'manifest with a missing layer');
  });

  it('manifest PUT by digest (201); a digest that does not match the body → 400 DIGEST_INVALID', async () => {
    const img = await prepareImage(client, repo, 'oci');
    const put = await client.putManifest(repo, img.digest, img.manifest, img.mediaType);
    assert.equal(put.status, 201, put.body.toString());
    await assertManifest(client, repo, img.digest, img);
    const other = await prepareImage(client, repo, 'oci');
    const bad = await client.putManifest(repo, other.digest, img.manifest, img.mediaType);
    assertError(bad, 400, 'DIGEST_INVALID', 'manifest PUT under another digest');
  });
}

async function listAllTags(client: RegistryClient, repo: string, n: number): Promise<{ tags: string[]; pages: number }> {
  const tags: string[] = [];
  let next: string | undefined = `/v2/${repo}/tags/list?n=${n}`;
  let pages = 0;
  while (next && pages < 100) {
    const r = await client.request('GET', next);
    assert.equal(r.status, 200, r.body.toString());
    const body = JSON.parse(r.body.toString()) as { name: string; tags: string[] };
    assert.equal(body.name, repo);
    assert.ok(body.tags.length <= n, `page of ${body.tags.length} > n=${n}`);
    tags.push(...body.tags);
    pages++;
    const link = r.headers.get('link');
    next = link ? /^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1] : undefined;
    if (link) assert.ok(next, `Link header ${link}`);
  }
  return { tags, pages };
}

function registerTags(client: RegistryClient, repo: string, f: Features): void {
  it(`tags/list${f.tagPagination ? ' sorted, paginated with n/last and Link rel="next"' : ''}`, async () => {
    const img = await prepareImage(client, repo, 'oci');
    const prefix = `pg-${randomUUID().slice(0, 6)}`;
    const mine = ['e', 'a', 'c', 'b', 'd'].map((s) => `${prefix}-${s}`);
    for (const t of mine) assert.equal((await client.putManifest(repo, t, img.manifest, img.mediaType)).status, 201);
    const full = await client.request('GET', `/v2/${repo}/tags/list`);
    assert.equal(full.status, 200);
    const all = (JSON.parse(full.body.toString()) as { tags: string[] }).tags;
    for (const t of mine) assert.ok(all.includes(t), `${t} listed`);
    if (!f.tagPagination) return;
    assert.deepEqual(all, [...all].sort(), 'tags sorted lexically');
    const paged = await listAllTags(client, repo, 2);
    assert.deepEqual(paged.tags, all, 'pages add up to the full list');
    assert.equal(paged.pages, Math.ceil(all.length / 2));
    const last = [...mine].sort()[1]!;
    const after = await client.request('GET', `/v2/${repo}/tags/list?n=2&last=${last}`);
    assert.deepEqual((JSON.parse(after.body.toString()) as { tags: string[] }).tags, all.filter((t) => t > last).slice(0, 2));
  });
}

function registerDeletes(client: RegistryClient, repo: string, f: Features): void {
  it(`DELETE manifest by digest ${f.manifestDelete ? '(202, then MANIFEST_UNKNOWN)' : 'is refused'}`, async () => {
    const img = await prepareImage(client, repo, 'oci');
    assert.equal((await client.putManifest(repo, img.digest, img.manifest, img.mediaType)).status, 201);
    const del = await client.request('DELETE', `/v2/${repo}/manifests/${img.digest}`);
    if (!f.manifestDelete) {
      assert.ok(del.status >= 400 && del.status < 500, `delete refused: ${del.status}`);
      return;
    }
    assert.equal(del.status, 202, del.body.toString());
    assertError(await client.request('GET', `/v2/${repo}/manifests/${img.digest}`), 404, 'MANIFEST_UNKNOWN', 'deleted manifest');
  });

  it(`DELETE manifest by tag ${f.tagDelete ? 'untags (202)' : 'is refused and the tag stays'}`, async () => {
    const img = await prepareImage(client, repo, 'oci');
    const keep = `keep-${randomUUID().slice(0, 8)}`;
    const drop = `drop-${randomUUID().slice(0, 8)}`;
    for (const t of [keep, drop]) assert.equal((await client.putManifest(repo, t, img.manifest, img.mediaType)).status, 201);
    const del = await client.request('DELETE', `/v2/${repo}/manifests/${drop}`);
    if (f.tagDelete) {
      assert.equal(del.status, 202, del.body.toString());
      assertError(await client.request('GET', `/v2/${repo}/manifests/${drop}`), 404, 'MANIFEST_UNKNOWN', 'deleted tag');
      await assertManifest(client, repo, keep, img);
    } else {
      assert.ok(del.status >= 400 && del.status < 500, `tag delete refused: ${del.status} ${del.body}`);
      await assertManifest(client, repo, drop, img);
    }
  });

  it(`DELETE blob ${f.blobDelete ? '(202, then BLOB_UNKNOWN)' : '→ 405 UNSUPPORTED'}`, async () => {
    const bytes = randomBytes(500);
    const digest = await client.pushBlob(repo, bytes);
    const del = await client.request('DELETE', `/v2/${repo}/blobs/${digest}`);
    if (f.blobDelete) {
      assert.equal(del.status, 202, del.body.toString());
      assertError(await client.request('GET', `/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN', 'deleted blob');
    } else {
      assertError(del, 405, 'UNSUPPORTED', 'blob delete');
      await assertBlob(client, repo, bytes);
    }
  });
}

function registerErrors(client: RegistryClient, repo: string): void {
  it('unknown blob → 404 BLOB_UNKNOWN (GET) and 404 (HEAD)', async () => {
    const d = digestOf(randomBytes(16));
    assertError(await client.request('GET', `/v2/${repo}/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await client.request('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404);
  });

  it('unknown manifest → 404 MANIFEST_UNKNOWN by tag and by digest', async () => {
    assertError(await client.request('GET', `/v2/${repo}/manifests/no-such-tag`), 404, 'MANIFEST_UNKNOWN');
    assertError(await client.request('GET', `/v2/${repo}/manifests/${digestOf(randomBytes(16))}`), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await client.request('HEAD', `/v2/${repo}/manifests/no-such-tag`)).status, 404);
  });

  it('tags/list of a repository that does not exist → 404 NAME_UNKNOWN', async () => {
    assertError(await client.request('GET', `/v2/${repo}-never-${randomUUID().slice(0, 8)}/tags/list`), 404, 'NAME_UNKNOWN');
  });

  it('a cancelled upload → 204, then 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const start = await client.startUpload(repo);
    const del = await client.request('DELETE', start.location);
    assert.equal(del.status, 204);
    assertError(await client.request('GET', start.location), 404, 'BLOB_UPLOAD_UNKNOWN');
    const put = await client.request('PUT', withDigest(start.location, digestOf(Buffer.from('x'))), { body: Buffer.from('x') });
    assertError(put, 404, 'BLOB_UPLOAD_UNKNOWN');
  });
}
