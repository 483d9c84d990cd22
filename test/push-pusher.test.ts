// Who pushes an image the docker builder made (src/api/engine-push.ts): the choice, from what
// the build found of its cache images, and the flag that overrides it.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { selectBuilder } from '../src/api/builders.ts';
import { choosePusher, EnginePushBuilder, parsePusher } from '../src/api/engine-push.ts';
import { baseImages } from '../src/build/native.ts';
import { parseDockerfile } from '../src/model/dockerfile/index.ts';
import type { Builder, CacheSource, PushRequest } from '../src/build/builder.ts';
import { tar } from './support/tar.ts';

const ECR = '831955480324.dkr.ecr.ap-south-1.amazonaws.com';
const facts = (statuses: CacheSource['status'][], ...bases: [string[] | undefined] | []) =>
  ({ cacheSources: statuses.map((status, i) => ({ ref: `${ECR}/app:${i}`, status })), bases: bases.length ? bases[0] : ['node:20-alpine'], registry: ECR });

describe('choosePusher', () => {
  const cases: [string, Parameters<typeof choosePusher>, 'docker' | 'hoist'][] = [
    ['no cache image in the registry, base from Docker Hub (the seed\'s job): hoist', ['auto', facts(['missing'])], 'hoist'],
    ['several cache images, none in the registry: hoist', ['auto', facts(['missing', 'missing'])], 'hoist'],
    ['a cache image that could not be pulled: hoist (the engine knows nothing of the registry)', ['auto', facts(['unavailable'])], 'hoist'],
    ['no cache image given (a fresh DinD engine knows no layer there): hoist', ['auto', facts([])], 'hoist'],
    ['FROM scratch or an earlier stage only: hoist', ['auto', facts([], [])], 'hoist'],
    ['base from another registry: hoist', ['auto', facts([], ['public.ecr.aws/docker/library/node:20', 'ghcr.io/acme/base:1'])], 'hoist'],
    ['the engine pulled the cache image: docker push', ['auto', facts(['available'])], 'docker'],
    ['one of two cache images pulled: docker push', ['auto', facts(['missing', 'available'])], 'docker'],
    ['a base image in the same registry (docker push mounts its layers): docker push', ['auto', facts(['missing'], ['node:20', `${ECR}/base/node:20`])], 'docker'],
    ['base images that cannot be told (an ARG without a value): docker push', ['auto', facts(['missing'], undefined)], 'docker'],
    ['nothing built by this run: docker push', ['auto', undefined], 'docker'],
    ['--pusher docker wins over a cold registry', ['docker', facts(['missing'])], 'docker'],
    ['--pusher hoist wins over a pulled cache image', ['hoist', facts(['available'])], 'hoist'],
  ];
  for (const [name, args, via] of cases) it(name, () => assert.equal(choosePusher(...args).via, via));

  it('says why', () => {
    assert.deepEqual(choosePusher('auto', facts(['available'])), { via: 'docker', why: 'the cache image came from the registry: docker push sends only the layers it lacks' });
    assert.deepEqual(choosePusher('auto', facts([], [`${ECR}/base/node:20`])),
      { via: 'docker', why: `the base image ${ECR}/base/node:20 is in this registry: docker push mounts its layers, hoist would send them again` });
    assert.deepEqual(choosePusher('hoist', facts(['available'])), { via: 'hoist', why: '--pusher hoist' });
  });
});

describe('baseImages: what a build starts FROM', () => {
  const df = (text: string) => parseDockerfile(text, 'Dockerfile');
  it('the needed stages\' images, ARGs substituted, stages and scratch left out', () => {
    const text = 'ARG BASE=node:20\nARG REG\nFROM ${BASE} AS build\nRUN make\nFROM scratch AS empty\nFROM ${REG}/runtime:1\nCOPY --from=build /out /\n';
    assert.deepEqual(baseImages(df(text), undefined, { REG: 'r.example' }), ['node:20', 'r.example/runtime:1']);
    assert.deepEqual(baseImages(df(text), 'build', { BASE: 'node:22' }), ['node:22']);
    assert.deepEqual(baseImages(df('FROM alpine AS a\nFROM a\n'), undefined), ['alpine']);
  });
  it('an ARG without a value is empty, as in Docker; a name that is then no reference: undefined, not a guess', () => {
    assert.deepEqual(baseImages(df('ARG PREFIX\nFROM ${PREFIX}node:20\n'), undefined), ['node:20']);
    assert.equal(baseImages(df('ARG REG\nFROM ${REG}/x:1\n'), undefined), undefined);
  });
});

describe('--pusher / HOIST_PUSHER', () => {
  it('auto by default; names are case-blind', () => {
    assert.equal(parsePusher(undefined, 'HOIST_PUSHER (environment)'), 'auto');
    assert.equal(parsePusher(' Docker ', '--pusher'), 'docker');
  });

  it('anything else names its source and the choices', () => {
    assert.throws(() => parsePusher('skopeo', 'HOIST_PUSHER (environment)'),
      (e: Error & { code?: string; hint?: string }) => e.code === 'config.invalid' && e.message === 'HOIST_PUSHER (environment): "skopeo" is not a pusher' && e.hint === 'Use auto, docker or hoist.');
  });

  it('--pusher docker with the native builder: refused before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-pusher-'));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY a /a\n');
    await assert.rejects(selectBuilder('native', { file: join(dir, 'Dockerfile') }, {}, 'docker'),
      (e: Error & { code?: string }) => e.code === 'config.invalid' && /--pusher docker needs the docker builder/.test(e.message));
    await assert.rejects(selectBuilder('auto', { file: join(dir, 'Dockerfile') }, {}, 'docker'), /--pusher docker needs the docker builder/);
    assert.equal((await selectBuilder('docker', { file: join(dir, 'Dockerfile') }, {}, 'docker')).backend, 'docker');
  });
});

describe('EnginePushBuilder', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'hoist-engine-push-'));
  // Its base images are none the registry holds, so auto picks hoist.
  writeFileSync(join(tmp, 'Dockerfile'), 'FROM scratch\nCOPY a /a\n');

  /** An engine whose only image has a zstd layer (a containerd store), which hoist cannot read on Node 20. */
  async function zstdEngine(): Promise<string> {
    const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(2 << 20)]);
    const path = `blobs/sha256/${createHash('sha256').update(zstd).digest('hex')}`;
    const save = tar([{ type: 'file', path, data: zstd }, { type: 'file', path: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', Layers: [path] }]) }]);
    const socket = join(tmp, 'engine.sock');
    const server = createServer((conn) => conn.once('data', (req: Buffer) => {
      conn.on('error', () => {});
      if (req.toString('latin1').startsWith('GET /images/get?')) return void conn.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), save]));
      conn.end(`HTTP/1.0 200 OK\r\n\r\n${JSON.stringify({ RootFS: { Type: 'layers', Layers: [] } })}`);
    }));
    await new Promise<void>((r) => server.listen(socket, r));
    after(() => new Promise<void>((r) => server.close(() => r())));
    return socket;
  }

  /** The docker builder as the wrapper sees it: a build that found no cache image, and a push that is recorded. */
  function fakeDocker(pushes: PushRequest[]): Builder {
    return {
      backend: 'docker',
      check: () => Promise.reject(new Error('not used')),
      login: async () => {},
      build: async () => ({ imageId: 'sha256:x', totalSteps: 1, cachedSteps: 0, cacheHits: [], cacheSources: [{ ref: 'r.example/app:latest', status: 'missing' }], warnings: [], durationMs: 1 }),
      push: async (req) => (pushes.push(req), { pushed: [{ ref: req.refs[0]!, digest: 'sha256:pushed-by-docker', size: 1, layersPushed: 1, layersExisting: 0, layersMounted: 0, durationMs: 1 }] }),
      dispose: async () => {},
    };
  }

  it('auto picked hoist, and the image has layers hoist cannot read: docker push sends it, and says why', async () => {
    const pushes: PushRequest[] = [];
    const env = { DOCKER_HOST: `unix://${await zstdEngine()}`, TMPDIR: tmp };
    const b = new EnginePushBuilder(fakeDocker(pushes), { pusher: 'auto', env });
    await b.build({ context: tmp, tags: ['app:1'] });
    const r = await b.push({ image: 'app:1', refs: ['127.0.0.1:1/app:1'] });
    assert.equal(pushes.length, 1);
    assert.equal(r.pushed[0]?.digest, 'sha256:pushed-by-docker');
    assert.equal(r.pusher?.via, 'docker');
    assert.match(r.pusher?.why ?? '', /^hoist cannot read this image's layers \(docker save: blobs\/sha256\/[0-9a-f]{64} is a zstd-compressed layer/);
    await b.dispose();
  });

  it('--pusher hoist: the same image fails with hoist\'s own words, nothing pushed by docker', async () => {
    const pushes: PushRequest[] = [];
    const env = { DOCKER_HOST: `unix://${await zstdEngine()}`, TMPDIR: tmp };
    const b = new EnginePushBuilder(fakeDocker(pushes), { pusher: 'hoist', env });
    await b.build({ context: tmp, tags: ['app:1'] });
    await assert.rejects(b.push({ image: 'app:1', refs: ['127.0.0.1:1/app:1'] }), (e: Error & { code?: string }) => e.code === 'image.unsupported' && /zstd/.test(e.message));
    assert.equal(pushes.length, 0);
    await b.dispose();
  });
});
