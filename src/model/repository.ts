// ECR repository names. The rule is ECR's, not Docker's: CreateRepository's `repositoryName`
// is 2–256 characters matching
//   (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*
// (ECR API reference, CreateRepository). Docker would also accept `__` and runs of `-`; ECR
// does not, so names are checked against ECR's rule before any call is made.

import { looksLikeEcrHost } from './aws.ts';
import { type Brand, type Parsed, fail, ok, quote } from './value.ts';

export type RepositoryName = Brand<string, 'RepositoryName'>;

const COMPONENT = '[a-z0-9]+(?:[._-][a-z0-9]+)*';
const NAME = new RegExp(`^(?:${COMPONENT}/)*${COMPONENT}$`);

export function parseRepositoryName(raw: string, source = 'repository'): Parsed<RepositoryName> {
  // A registry host is itself a valid ECR name (dots and dashes), so look for one first:
  // `<account>.dkr.ecr.<region>.amazonaws.com/app` would otherwise create a repository by that name.
  const mistake = hostOrTag(raw);
  if (mistake === undefined && NAME.test(raw) && raw.length >= 2 && raw.length <= 256) return ok(raw as RepositoryName);
  const { why, fix } = mistake ?? diagnose(raw);
  return fail(source, `${quote(raw)} is not a valid ECR repository name: ${why}`, hintFor(fix));
}

function hintFor(fix: string | undefined): string {
  return fix !== undefined && NAME.test(fix)
    ? `Use ${fix}.`
    : 'ECR names are lowercase letters and digits, with single . _ - between them and / between path parts, 2–256 characters.';
}

interface Diagnosis {
  why: string;
  /** A corrected name when one is obvious. */
  fix?: string;
}

/** The first rule the name breaks, in the order a person would fix them. */
function diagnose(raw: string): Diagnosis {
  if (raw.length === 0) return { why: 'it is empty' };
  return shape(raw) ?? components(raw) ?? { why: 'it does not match ECR\'s naming rule' };
}

function hostOrTag(raw: string): Diagnosis | undefined {
  const slash = raw.indexOf('/');
  if (slash > 0 && looksLikeEcrHost(raw.slice(0, slash))) {
    return { why: 'it includes the registry host; the repository is only the path after it', fix: raw.slice(slash + 1) };
  }
  const at = raw.indexOf('@');
  if (at >= 0) return { why: 'it includes a digest', fix: raw.slice(0, at) };
  const colon = raw.lastIndexOf(':');
  if (colon >= 0 && !raw.slice(colon).includes('/')) {
    return { why: `it includes a tag (${quote(raw.slice(colon + 1))}); give tags with IMAGE_TAG or --tag`, fix: raw.slice(0, colon) };
  }
  return undefined;
}

function shape(raw: string): Diagnosis | undefined {
  if (/[A-Z]/.test(raw)) return { why: 'ECR names are lowercase', fix: raw.toLowerCase() };
  if (raw.length < 2) return { why: 'ECR names have at least 2 characters' };
  if (raw.length > 256) return { why: `it has ${raw.length} characters; ECR allows 256` };
  if (raw.startsWith('/')) return { why: 'it starts with a slash', fix: raw.replace(/^\/+/, '') };
  if (raw.endsWith('/')) return { why: 'it ends with a slash', fix: raw.replace(/\/+$/, '') };
  if (raw.includes('//')) return { why: 'it has an empty path part (//)', fix: raw.replace(/\/{2,}/g, '/') };
  const invalid = [...new Set(raw.replace(/[a-z0-9._/-]/g, ''))];
  if (invalid.length > 0) return { why: `ECR names cannot contain ${invalid.map((c) => quote(c)).join(', ')}` };
  return undefined;
}

function components(raw: string): Diagnosis | undefined {
  for (const part of raw.split('/')) {
    const double = /[._-]{2,}/.exec(part);
    if (double) return { why: `it has two separators in a row (${quote(double[0])}); ECR allows one . _ or - between letters and digits` };
    if (/^[._-]/.test(part)) return { why: `path part ${quote(part)} starts with ${quote(part[0]!)}` };
    if (/[._-]$/.test(part)) return { why: `path part ${quote(part)} ends with ${quote(part.at(-1)!)}` };
  }
  return undefined;
}
