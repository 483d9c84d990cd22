// Tags (Docker's grammar), sanitizing generated tags, semantic versions and tag-rule strings.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSemver } from '../src/model/semver.ts';
import { parseTag, sanitizeTag } from '../src/model/tag.ts';
import { DEFAULT_TAG_RULES, formatTagRule, parseTagRule, renderSemver } from '../src/model/tag-rule.ts';
import { orThrow } from '../src/model/value.ts';

test('tags: [\\w][\\w.-]{0,127}', () => {
  for (const ok of ['3.0.0', 'latest', 'v1.2.3-rc.1', 'MixedCase_ok', '_x', 'a'.repeat(128), 'abcdef12']) {
    assert.equal(parseTag(ok).ok, true, ok);
  }
  const table: Array<[string, string, string]> = [
    ['', 'it is empty', 'Tags are 1–128 letters, digits, _ . - and do not start with . or -.'],
    ['-x', 'it starts with "-"', 'Use x.'],
    ['.hidden', 'it starts with "."', 'Use hidden.'],
    ['feature/login', 'tags cannot contain "/"', 'Use feature-login.'],
    ['1.0+build', 'tags cannot contain "+"', 'Use 1.0-build.'],
    ['a'.repeat(129), 'it has 129 characters; tags have at most 128', `Use ${'a'.repeat(128)}.`],
  ];
  for (const [raw, why, hint] of table) {
    const p = parseTag(raw, '--tag');
    assert.deepEqual(p, { ok: false, problem: { source: '--tag', message: `${JSON.stringify(raw)} is not a valid image tag: ${why}`, hint } }, raw);
  }
});

test('sanitizeTag makes generated tags valid, like docker/metadata-action', () => {
  const table: Array<[string, string | undefined]> = [
    ['feature/login', 'feature-login'],
    ['release 2024/01', 'release-2024-01'],
    ['Ünïcode', 'n-code'],
    ['--x', 'x'],
    ['.../', undefined],
    ['', undefined],
    ['a'.repeat(200), 'a'.repeat(128)],
  ];
  for (const [raw, expected] of table) assert.equal(sanitizeTag(raw), expected, raw);
});

test('semantic versions: v prefix, pre-release, build metadata', () => {
  assert.deepEqual(parseSemver('v1.2.3'), { major: 1, minor: 2, patch: 3, version: '1.2.3', raw: 'v1.2.3' });
  assert.deepEqual(parseSemver('2.0.0-rc.1'), { major: 2, minor: 0, patch: 0, prerelease: 'rc.1', version: '2.0.0-rc.1', raw: '2.0.0-rc.1' });
  assert.equal(parseSemver('1.0.0+build.5')?.version, '1.0.0');
  for (const not of ['1.2', 'v01.2.3', 'release-2024', '1.2.3.4', 'latest']) assert.equal(parseSemver(not), undefined, not);
});

test('tag rules parse from their short strings and print back', () => {
  const table: Array<[string, unknown, string]> = [
    ['sha', { kind: 'sha', length: 'full' }, 'sha'],
    ['sha:short', { kind: 'sha', length: 'short' }, 'sha:short'],
    ['sha:12', { kind: 'sha', length: 12 }, 'sha:12'],
    ['ref', { kind: 'ref' }, 'ref'],
    ['semver', { kind: 'semver', pattern: '{{version}}' }, 'semver'],
    ['semver:{{major}}.{{minor}}', { kind: 'semver', pattern: '{{major}}.{{minor}}' }, 'semver:{{major}}.{{minor}}'],
    ['latest', { kind: 'latest', when: 'default-branch' }, 'latest'],
    ['latest:tag', { kind: 'latest', when: 'tag' }, 'latest:tag'],
    ['mr', { kind: 'mr' }, 'mr'],
  ];
  for (const [raw, rule, printed] of table) {
    const parsed = orThrow(parseTagRule(raw));
    assert.deepEqual(parsed, rule, raw);
    assert.equal(formatTagRule(parsed), printed);
  }
  assert.deepEqual(DEFAULT_TAG_RULES.map(formatTagRule), ['sha:short', 'latest']);
});

test('bad tag rules say why and list the rules', () => {
  const table: Array<[string, string]> = [
    ['branch', '"branch" is not a tag rule'],
    ['constructor', '"constructor" is not a tag rule'],
    ['sha:2', '"sha:2" is not a tag rule: the SHA length must be short, full, or a number from 4 to 64, not "2"'],
    ['semver:{{foo}}', '"semver:{{foo}}" is not a tag rule: unknown placeholder {{foo}}; use {{version}} {{major}} {{minor}} {{patch}} {{raw}}'],
    ['semver:stable', '"semver:stable" is not a tag rule: the pattern has no placeholder; use {{version}} {{major}} {{minor}} {{patch}} {{raw}}'],
    ['latest:sometimes', '"latest:sometimes" is not a tag rule: latest takes tag, always or default-branch, not "sometimes"'],
    ['mr:1', '"mr:1" is not a tag rule: mr takes no argument'],
  ];
  for (const [raw, message] of table) {
    const p = parseTagRule(raw, '--tag-rule');
    assert.equal(p.ok ? 'ok' : p.problem.message, message, raw);
    assert.match(p.ok ? '' : p.problem.hint!, /^Tag rules: sha, sha:short/);
  }
});

test('semver patterns: releases fill every placeholder; pre-releases only ever give the full version', () => {
  const release = parseSemver('v1.2.3')!;
  const rc = parseSemver('v2.0.0-rc.1')!;
  assert.deepEqual(['{{version}}', '{{major}}.{{minor}}', '{{major}}', 'v{{major}}', '{{raw}}'].map((p) => renderSemver(p, release)), ['1.2.3', '1.2', '1', 'v1', 'v1.2.3']);
  assert.deepEqual(['{{version}}', '{{major}}.{{minor}}', '{{major}}', '{{raw}}'].map((p) => renderSemver(p, rc)), ['2.0.0-rc.1', '2.0.0-rc.1', '2.0.0-rc.1', 'v2.0.0-rc.1']);
});
