// Tag rules: which tags a pipeline gets, after docker/metadata-action's `type=sha|ref|semver`
// rules, written as short strings (`--tag-rule sha:short`) and evaluated on GitLab's predefined
// variables by src/ci/tags.ts. Parsing lives here (tier 0) so config can validate rules
// together with every other setting.

import { type SemVer } from './semver.ts';
import { type Parsed, fail, ok, quote } from './value.ts';

export type TagRule =
  /** The commit SHA: full, GitLab's short form (CI_COMMIT_SHORT_SHA), or its first N characters. */
  | { kind: 'sha'; length: 'full' | 'short' | number }
  /** CI_COMMIT_REF_SLUG: the branch or tag name, lowercased, `[a-z0-9-]`, ≤ 63 characters. */
  | { kind: 'ref' }
  /** On tag pipelines: the Git tag rendered through a pattern of {{version}} {{major}} … */
  | { kind: 'semver'; pattern: string }
  /** `latest`: on the default branch, on (non-pre-release) tag pipelines, or always. */
  | { kind: 'latest'; when: 'default-branch' | 'tag' | 'always' }
  /** `mr-<CI_MERGE_REQUEST_IID>` on merge-request pipelines. */
  | { kind: 'mr' };

export const RULES_HELP = 'Tag rules: sha, sha:short, sha:<length>, ref, semver[:<pattern>], latest[:tag|always], mr.';
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;
export const SEMVER_PLACEHOLDERS = ['version', 'major', 'minor', 'patch', 'raw'] as const;

/** Without any tag or rule: short SHA on every pipeline, `latest` on the default branch. */
export const DEFAULT_TAG_RULES: readonly TagRule[] = [{ kind: 'sha', length: 'short' }, { kind: 'latest', when: 'default-branch' }];

export function parseTagRule(raw: string, source = '--tag-rule'): Parsed<TagRule> {
  const colon = raw.indexOf(':');
  const kind = colon < 0 ? raw : raw.slice(0, colon);
  const arg = colon < 0 ? undefined : raw.slice(colon + 1);
  const bad = (why?: string) => fail(source, `${quote(raw)} is not a tag rule${why ? `: ${why}` : ''}`, RULES_HELP);
  const parser = Object.hasOwn(PARSERS, kind) ? PARSERS[kind] : undefined;
  if (parser === undefined) return bad();
  const rule = parser(arg);
  return typeof rule === 'string' ? bad(rule) : ok(rule);
}

type ArgParser = (arg: string | undefined) => TagRule | string;

const PARSERS: Record<string, ArgParser> = {
  sha: shaRule,
  ref: (arg) => (arg === undefined ? { kind: 'ref' } : 'ref takes no argument'),
  semver: (arg) => semverRule(arg ?? '{{version}}'),
  latest: latestRule,
  mr: (arg) => (arg === undefined ? { kind: 'mr' } : 'mr takes no argument'),
};

function shaRule(arg: string | undefined): TagRule | string {
  if (arg === undefined || arg === 'full' || arg === 'long') return { kind: 'sha', length: 'full' };
  if (arg === 'short') return { kind: 'sha', length: 'short' };
  const n = Number(arg);
  // Git needs at least 4 hex digits to name an object (git rev-parse --short); SHA-256 repositories have 64.
  if (/^\d+$/.test(arg) && n >= 4 && n <= 64) return { kind: 'sha', length: n };
  return `the SHA length must be short, full, or a number from 4 to 64, not ${quote(arg)}`;
}

function latestRule(arg: string | undefined): TagRule | string {
  if (arg === undefined || arg === 'default-branch') return { kind: 'latest', when: 'default-branch' };
  if (arg === 'tag' || arg === 'always') return { kind: 'latest', when: arg };
  return `latest takes tag, always or default-branch, not ${quote(arg)}`;
}

function semverRule(pattern: string): TagRule | string {
  const names = [...pattern.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  if (names.length === 0) return `the pattern has no placeholder; use ${SEMVER_PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')}`;
  const unknown = names.find((n) => !(SEMVER_PLACEHOLDERS as readonly string[]).includes(n));
  if (unknown !== undefined) return `unknown placeholder {{${unknown}}}; use ${SEMVER_PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')}`;
  return { kind: 'semver', pattern };
}

export function formatTagRule(rule: TagRule): string {
  switch (rule.kind) {
    case 'sha': return rule.length === 'full' ? 'sha' : `sha:${rule.length}`;
    case 'semver': return rule.pattern === '{{version}}' ? 'semver' : `semver:${rule.pattern}`;
    case 'latest': return rule.when === 'default-branch' ? 'latest' : `latest:${rule.when}`;
    default: return rule.kind;
  }
}

/**
 * Fills a semver pattern. A pre-release never moves a floating tag: a pattern that uses
 * {{major}}, {{minor}} or {{patch}} gives the full version instead (`2.0.0-rc.1` must not become
 * `2` or `2.0`), as docker/metadata-action's `type=semver` does.
 */
export function renderSemver(pattern: string, v: SemVer): string {
  const values: Record<string, string> = { version: v.version, major: String(v.major), minor: String(v.minor), patch: String(v.patch), raw: v.raw };
  const used = [...pattern.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  if (v.prerelease !== undefined && used.some((n) => n !== 'version' && n !== 'raw')) return v.version;
  return pattern.replace(PLACEHOLDER, (_, name: string) => values[name] ?? '');
}
