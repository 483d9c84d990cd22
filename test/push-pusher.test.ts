// Who pushes an image the docker builder made (src/api/engine-push.ts): the choice, from what
// the build found of its cache images, and the flag that overrides it.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { selectBuilder } from '../src/api/builders.ts';
import { choosePusher, parsePusher } from '../src/api/engine-push.ts';
import type { CacheSource } from '../src/build/builder.ts';

const built = (...statuses: CacheSource['status'][]) => ({ cacheSources: statuses.map((status, i) => ({ ref: `r/app:${i}`, status })) });

describe('choosePusher', () => {
  const cases: [string, Parameters<typeof choosePusher>, 'docker' | 'hoist'][] = [
    ['no cache image in the registry (a first push; the seed, which never pushes :latest): hoist', ['auto', built('missing')], 'hoist'],
    ['several cache images, none in the registry: hoist', ['auto', built('missing', 'missing')], 'hoist'],
    ['the engine pulled the cache image: docker push', ['auto', built('available')], 'docker'],
    ['one of two cache images pulled: docker push', ['auto', built('missing', 'available')], 'docker'],
    ['a cache image that could not be pulled: hoist (the engine knows nothing of the registry)', ['auto', built('unavailable')], 'hoist'],
    ['no cache image given (a fresh DinD engine knows no layer there): hoist', ['auto', built()], 'hoist'],
    ['--pusher docker wins over a cold registry', ['docker', built('missing')], 'docker'],
    ['--pusher hoist wins over a pulled cache image', ['hoist', built('available')], 'hoist'],
  ];
  for (const [name, args, via] of cases) it(name, () => assert.equal(choosePusher(...args).via, via));

  it('says why', () => {
    assert.deepEqual(choosePusher('auto', built('available')), { via: 'docker', why: 'the cache image came from the registry: docker push sends only the layers it lacks' });
    assert.deepEqual(choosePusher('hoist', built('available')), { via: 'hoist', why: '--pusher hoist' });
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
