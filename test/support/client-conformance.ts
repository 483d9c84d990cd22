// The conformance suite driven through hoist's own registry client (src/registry/client.ts)
// instead of plain fetch: every push mode the client uses (HEAD, mount, monolithic POST+PUT,
// one streamed PATCH), pulls with digest verification, manifests and indexes, tag pagination,
// and errors as HoistErrors. Features mirror test/support/conformance.ts.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isHoistError } from '../../src/errors.ts';
import { type Descriptor, MEDIA, rawManifest, sha256Digest } from '../../src/image/descriptor.ts';
import { gzipOpener } from '../../src/image/streams.ts';
import type { RegistryCredentials } from '../../src/registry/auth.ts';
import { RegistryClient, type Repository } from '../../src/registry/client.ts';

export interface ClientConformanceTarget {
  name: string;
  host: string;
  credentials?: RegistryCredentials;
  repo: string;
  mount: boolean;
  tagPagination: boolean;
  setupRepo?: (name: string) => Promise<void>;
}

const desc = (bytes: Buffer, mediaType: string = MEDIA.ociLayerGzip): Descriptor => ({ mediaType, digest: sha256Digest(bytes), size: bytes.length });
const opener = (bytes: Buffer) => () => Readable.from([bytes]);

async function readStream(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function pushImage(repo: Repository, flavour: 'oci' | 'docker') {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomUUID() }));
  const layer = gzipSync(randomBytes(3000));
  const c = desc(config, flavour === 'oci' ? MEDIA.ociConfig : MEDIA.dockerConfig);
  const l = desc(layer, flavour === 'oci' ? MEDIA.ociLayerGzip : MEDIA.dockerLayerGzip);
  assert.equal(await repo.pushBlob(c, opener(config)), 'uploaded');
  assert.equal(await repo.pushBlob(l, opener(layer)), 'uploaded');
  const mediaType = flavour === 'oci' ? MEDIA.ociManifest : MEDIA.dockerManifest;
  return rawManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: c, layers: [l] })), mediaType);
}

export function clientConformance(target: ClientConformanceTarget): void {
  const client = new RegistryClient({ ...(target.credentials ? { credentials: { [target.host]: target.credentials } } : {}), retry: { attempts: 2, baseMs: 10 } });
  const repo = client.repository(target.host, target.repo);
  const src = client.repository(target.host, `${target.repo}-src`);

  describe(`hoist registry client conformance: ${target.name}`, () => {
    before(async () => {
      await target.setupRepo?.(repo.name);
      await target.setupRepo?.(src.name);
    });
    after(() => client.close());

    it('monolithic push (POST, PUT ?digest= with Content-Length), HEAD, verified GET', async () => {
      const bytes = randomBytes(200_000);
      const d = desc(bytes);
      assert.equal(await repo.headBlob(d.digest), undefined);
      assert.equal(await repo.pushBlob(d, opener(bytes)), 'uploaded');
      assert.equal(await repo.headBlob(d.digest), bytes.length);
      assert.ok((await readStream(await repo.getBlob(d))).equals(bytes));
    });

    it('zero-length blob', async () => {
      const d = desc(Buffer.alloc(0));
      await repo.pushBlob(d, opener(Buffer.alloc(0)));
      assert.equal(await repo.headBlob(d.digest), 0);
    });

    it('one streamed PATCH compressed and hashed on the fly, then PUT ?digest=', async () => {
      const raw = Buffer.concat([randomBytes(300_000), Buffer.alloc(300_000)]);
      const open = gzipOpener(opener(raw), 1);
      const got = await repo.pushStream(open);
      const expected = await readStream(open());
      assert.equal(got.digest, sha256Digest(expected));
      assert.equal(got.size, expected.length);
      assert.equal(await repo.headBlob(got.digest), expected.length);
    });

    it(`mount from another repository ${target.mount ? 'answers 201' : 'falls back to the 202 session (reused)'}`, async () => {
      const bytes = randomBytes(5_000);
      const d = desc(bytes);
      await src.pushBlob(d, opener(bytes));
      const outcome = await repo.pushBlob(d, opener(bytes), { registry: target.host, repository: src.name });
      assert.equal(outcome, target.mount ? 'mounted' : 'uploaded');
      assert.equal(await repo.headBlob(d.digest), bytes.length);
    });

    for (const flavour of ['oci', 'docker'] as const) {
      it(`${flavour} manifest: PUT by tag, skipped when the tag holds it, GET by tag and digest`, async () => {
        const m = await pushImage(repo, flavour);
        const tag = `${flavour}-${randomUUID().slice(0, 8)}`;
        assert.equal(await repo.putManifest(m, tag), 'pushed');
        assert.equal(await repo.putManifest(m, tag), 'unchanged');
        for (const ref of [tag, m.digest]) {
          const got = await repo.getManifest(ref);
          assert.ok(got.bytes.equals(m.bytes));
          assert.equal(got.digest, m.digest);
          assert.equal(got.mediaType, m.mediaType);
        }
        assert.equal((await repo.headManifest(tag))?.size, m.bytes.length);
        assert.equal(await repo.tagDigest(tag), m.digest);
      });
    }

    it('image index referencing two manifests', async () => {
      const a = await pushImage(repo, 'oci');
      const b = await pushImage(repo, 'oci');
      for (const m of [a, b]) assert.equal(await repo.putManifest(m), 'pushed');
      const index = rawManifest(Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MEDIA.ociIndex,
        manifests: [a, b].map((m, i) => ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, platform: { architecture: i ? 'arm64' : 'amd64', os: 'linux' } })),
      })), MEDIA.ociIndex);
      const tag = `index-${randomUUID().slice(0, 8)}`;
      assert.equal(await repo.putManifest(index, tag), 'pushed');
      const got = await repo.getManifest(tag);
      assert.equal(got.digest, index.digest);
      assert.equal(got.mediaType, MEDIA.ociIndex);
    });

    it(`tags/list through the client${target.tagPagination ? ', paginated (n=2, Link rel="next")' : ''}`, async () => {
      const m = await pushImage(repo, 'oci');
      const prefix = `pg-${randomUUID().slice(0, 6)}`;
      const mine = ['c', 'a', 'b', 'e', 'd'].map((s) => `${prefix}-${s}`);
      for (const t of mine) await repo.putManifest(m, t);
      const all = await repo.listTags();
      for (const t of mine) assert.ok(all.includes(t), `${t} listed`);
      if (target.tagPagination) assert.deepEqual(await repo.listTags(2), all);
      await assert.rejects(repo.listTags(1001), /page size/);
    });

    it('errors: unknown manifest and repository are HoistErrors; unknown blob HEAD is undefined', async () => {
      await assert.rejects(repo.getManifest('no-such-tag'), (e) => isHoistError(e, 'registry.not-found'));
      assert.equal(await repo.headManifest('no-such-tag'), undefined);
      assert.equal(await repo.headBlob(sha256Digest(randomBytes(8))), undefined);
      await assert.rejects(repo.getBlob(desc(randomBytes(8))), (e) => isHoistError(e, 'registry.not-found'));
      const ghost = client.repository(target.host, `${target.repo}-never-${randomUUID().slice(0, 6)}`);
      await assert.rejects(ghost.listTags(), (e) => isHoistError(e) && /not-found|denied/.test(e.code));
    });

    it('a manifest whose layer is missing is refused (MANIFEST_BLOB_UNKNOWN)', async () => {
      const m = await pushImage(repo, 'oci');
      const doc = JSON.parse(m.bytes.toString()) as { layers: Descriptor[] };
      doc.layers.push(desc(randomBytes(100)));
      const bad = rawManifest(Buffer.from(JSON.stringify(doc)), MEDIA.ociManifest);
      await assert.rejects(repo.putManifest(bad, 'missing'), (e) => isHoistError(e) && e.context.registryCode === 'MANIFEST_BLOB_UNKNOWN');
    });
  });
}
