// Image tags. Docker's reference grammar (distribution/reference, `reference.go`):
//   tag := /[\w][\w.-]{0,127}/
// so 1–128 characters of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`.
// Tags may be upper case (only repository names must be lowercase).

import { type Brand, type Parsed, fail, ok, quote } from './value.ts';

export type Tag = Brand<string, 'Tag'>;

export const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;

export function parseTag(raw: string, source = 'tag'): Parsed<Tag> {
  const problem = tagProblem(raw);
  if (problem === undefined) return ok(raw as Tag);
  const fixed = sanitizeTag(raw);
  const hint = fixed === undefined ? 'Tags are 1–128 letters, digits, _ . - and do not start with . or -.' : `Use ${fixed}.`;
  return fail(source, `${quote(raw)} is not a valid image tag: ${problem}`, hint);
}

/** What is wrong with a tag, or undefined when it is valid. */
export function tagProblem(raw: string): string | undefined {
  if (TAG_PATTERN.test(raw)) return undefined;
  if (raw.length === 0) return 'it is empty';
  if (raw.length > 128) return `it has ${raw.length} characters; tags have at most 128`;
  if (/^[.-]/.test(raw)) return `it starts with ${quote(raw[0]!)}`;
  const invalid = [...new Set(raw.replace(/[\w.-]/g, ''))];
  return `tags cannot contain ${invalid.map((c) => quote(c)).join(', ')}`;
}

/**
 * Makes a generated tag valid, as docker/metadata-action does for branch and tag names: each run
 * of other characters becomes `-`, leading `.`/`-` are dropped, and it is cut to 128 characters.
 * Undefined when nothing usable is left.
 */
export function sanitizeTag(raw: string): Tag | undefined {
  const tag = raw.replace(/[^\w.-]+/g, '-').replace(/^[.-]+/, '').slice(0, 128);
  return TAG_PATTERN.test(tag) ? (tag as Tag) : undefined;
}
