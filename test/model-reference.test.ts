// Image references, digests, registry hosts, platforms and the Secret wrapper.

import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { parsePlatform } from '../src/model/platform.ts';
import { type ImageReference, formatReference, parseDigest, parseReference, parseRegistryHost, withTag } from '../src/model/reference.ts';
import { Secret } from '../src/model/secret.ts';
import { type Tag } from '../src/model/tag.ts';
import { orThrow } from '../src/model/value.ts';

const HEX = 'a'.repeat(64);

test('references split into registry, repository, tag and digest by Docker\'s rules', () => {
  const table: Array<[string, ImageReference]> = [
    ['order-microservice', { repository: 'order-microservice' }],
    ['order-microservice:3.0.0', { repository: 'order-microservice', tag: '3.0.0' as Tag }],
    ['library/ubuntu:22.04', { repository: 'library/ubuntu', tag: '22.04' as Tag }],
    ['831955480324.dkr.ecr.ap-south-1.amazonaws.com/order-microservice:latest',
      { registry: '831955480324.dkr.ecr.ap-south-1.amazonaws.com', repository: 'order-microservice', tag: 'latest' } as ImageReference],
    ['localhost/app', { registry: 'localhost', repository: 'app' } as ImageReference],
    ['localhost:5000/team/app:v1', { registry: 'localhost:5000', repository: 'team/app', tag: 'v1' } as ImageReference],
    ['Registry/app', { registry: 'Registry', repository: 'app' } as ImageReference],
    [`app@sha256:${HEX}`, { repository: 'app', digest: `sha256:${HEX}` } as ImageReference],
    [`r.example.com:443/a/b:t@sha256:${HEX}`, { registry: 'r.example.com:443', repository: 'a/b', tag: 't', digest: `sha256:${HEX}` } as ImageReference],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' } as ImageReference],
    ['a__b/c---d', { repository: 'a__b/c---d' }],
  ];
  for (const [raw, expected] of table) {
    const ref = orThrow(parseReference(raw));
    assert.deepEqual(ref, expected, raw);
    assert.equal(formatReference(ref), raw, 'formats back to the same text');
  }
});

test('invalid references name the part that is wrong', () => {
  const why = (raw: string) => {
    const p = parseReference(raw, '--cache-from');
    return p.ok ? 'ok' : p.problem.message.replace(/^".*" is not an image reference: /, '');
  };
  assert.equal(why('Order/App'), 'repository names are lowercase');
  assert.equal(why('app:-bad'), 'the tag: it starts with "-"');
  assert.equal(why('app@sha256:abc'), 'the digest: sha256 digests have 64 hex digits, this has 3');
  assert.equal(why(':tag'), 'it has no repository');
  assert.equal(why('team//app'), 'the repository has an empty path part');
  assert.equal(why('app_-x'), 'the repository "app_-x" has characters or separators Docker does not allow');
  assert.equal(why('bad_host.com/app'), '"bad_host.com" is not a valid registry host');
  assert.equal(why(`r.io/${'a'.repeat(260)}`), 'the name has 265 characters; Docker allows 255');
});

test('digests: sha256 or sha512 in lowercase hex', () => {
  assert.equal(orThrow(parseDigest(`sha256:${HEX}`)), `sha256:${HEX}`);
  assert.equal(orThrow(parseDigest(`sha512:${'0'.repeat(128)}`)), `sha512:${'0'.repeat(128)}`);
  const table: Array<[string, string, string?]> = [
    [HEX, 'it has no algorithm', `Use sha256:${HEX}.`],
    [`sha256:${'A'.repeat(64)}`, 'digests are lowercase hex', `Use sha256:${HEX}.`],
    ['md5:abc', 'unsupported algorithm "md5"; expected sha256 or sha512'],
    ['constructor:abc', 'unsupported algorithm "constructor"; expected sha256 or sha512'],
    ['sha256:xyz', 'the part after the colon must be hex digits'],
    ['sha256:abcd', 'sha256 digests have 64 hex digits, this has 4'],
  ];
  for (const [raw, why, hint] of table) {
    const p = parseDigest(raw);
    assert.equal(p.ok ? 'ok' : p.problem.message, `${JSON.stringify(raw)} is not an image digest: ${why}`, raw);
    if (hint) assert.equal(p.ok ? '' : p.problem.hint, hint);
  }
});

test('registry hosts and retagging', () => {
  assert.equal(orThrow(parseRegistryHost('https://registry.example.com:5000/')), 'registry.example.com:5000');
  assert.equal(parseRegistryHost('registry.example.com/path').ok, false);
  const ref = orThrow(parseReference(`r.example.com/app:old@sha256:${HEX}`));
  assert.equal(formatReference(withTag(ref, 'new' as Tag)), 'r.example.com/app:new');
});

test('platforms', () => {
  assert.deepEqual(orThrow(parsePlatform('linux/amd64')), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(orThrow(parsePlatform('linux/arm/v7')), { os: 'linux', architecture: 'arm', variant: 'v7' });
  const bad = parsePlatform('Linux/AMD64');
  assert.equal(bad.ok ? '' : bad.problem.message, '"Linux/AMD64" is not a platform: platforms are lowercase');
  assert.equal(parsePlatform('amd64').ok, false);
});

test('a Secret never prints its value', () => {
  const s = new Secret('eyJhbGciOi.secret.value');
  assert.equal(String(s), '[redacted]');
  assert.equal(JSON.stringify({ token: s }), '{"token":"[redacted]"}');
  assert.equal(inspect({ token: s }).includes('secret.value'), false);
  assert.equal(s.reveal(), 'eyJhbGciOi.secret.value');
});
