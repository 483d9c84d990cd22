// Tags for a pipeline: explicit tags (--tag / IMAGE_TAG) plus what the tag rules give on
// GitLab's variables — docker/metadata-action's rule engine ported to GitLab (mission anchors
// (c) 9). Output is deduplicated and keeps order: explicit tags first, then rules in order.

import { type Problem } from '../errors.ts';
import { parseSemver } from '../model/semver.ts';
import { type Tag, sanitizeTag } from '../model/tag.ts';
import { type TagRule, formatTagRule, renderSemver } from '../model/tag-rule.ts';
import { type GitlabContext, onDefaultBranch, slugify } from './gitlab.ts';

export interface TagInput {
  rules: readonly TagRule[];
  explicit: readonly Tag[];
  gitlab: GitlabContext;
  /** The rules are hoist's defaults, not the user's: problems then speak about IMAGE_TAG / --tag. */
  defaulted?: boolean;
}

export interface TagResult {
  tags: Tag[];
  problems: Problem[];
}

const NOT_IN_PIPELINE = 'Run inside a GitLab pipeline, or give the tag yourself with --tag or IMAGE_TAG.';

export function computeTags(input: TagInput): TagResult {
  const problems: Problem[] = [];
  const generated = input.rules.flatMap((rule) => applyRule(rule, input.gitlab, problems));
  const tags = dedupe([...input.explicit, ...generated]);
  if (input.defaulted && problems.length > 0) return { tags: [], problems: [noDefaultTag()] };
  if (tags.length === 0 && problems.length === 0) problems.push(noTag(input));
  return { tags, problems };
}

/** The tags one rule gives on this pipeline; [] when the rule does not apply to it. */
export function applyRule(rule: TagRule, ctx: GitlabContext, problems: Problem[]): Tag[] {
  const raw = RULES[rule.kind](rule as never, ctx);
  if (typeof raw !== 'string' && !Array.isArray(raw)) {
    problems.push({ source: `${raw.variable} (environment)`, message: `tag rule ${JSON.stringify(formatTagRule(rule))} needs ${raw.what}, but ${raw.variable} is not set`, hint: NOT_IN_PIPELINE });
    return [];
  }
  return [raw].flat().flatMap((t) => sanitized(t, rule, problems));
}

interface Missing {
  variable: string;
  what: string;
}

type Evaluator<K extends TagRule['kind']> = (rule: Extract<TagRule, { kind: K }>, ctx: GitlabContext) => string | string[] | Missing;

const RULES: { [K in TagRule['kind']]: Evaluator<K> } = {
  sha: (rule, ctx) => shaTag(rule.length, ctx),
  ref: (_, ctx) => ctx.commit.refSlug ?? (ctx.commit.refName ? slugify(ctx.commit.refName) : { variable: 'CI_COMMIT_REF_SLUG', what: 'the branch or tag name' }),
  semver: (rule, ctx) => semverTags(rule.pattern, ctx),
  latest: (rule, ctx) => (latestApplies(rule.when, ctx) ? 'latest' : []),
  mr: (_, ctx) => (ctx.mergeRequest ? `mr-${ctx.mergeRequest.iid}` : []),
};

function shaTag(length: 'full' | 'short' | number, ctx: GitlabContext): string | Missing {
  const sha = ctx.commit.sha;
  if (sha === undefined) return { variable: 'CI_COMMIT_SHA', what: 'the commit SHA' };
  if (length === 'full') return sha;
  // CI_COMMIT_SHORT_SHA is GitLab's own short form (8 characters); prefer it so tags match the UI.
  if (length === 'short') return ctx.commit.shortSha ?? sha.slice(0, 8);
  return sha.slice(0, length);
}

/** Tag pipelines only. A tag that is not semver is used as it is (sanitized), for every pattern. */
function semverTags(pattern: string, ctx: GitlabContext): string[] {
  const tag = ctx.commit.tag;
  if (tag === undefined) return [];
  const version = parseSemver(tag);
  return [version === undefined ? tag : renderSemver(pattern, version)];
}

function latestApplies(when: 'default-branch' | 'tag' | 'always', ctx: GitlabContext): boolean {
  if (when === 'always') return true;
  if (when === 'default-branch') return onDefaultBranch(ctx);
  const tag = ctx.commit.tag;
  return tag !== undefined && parseSemver(tag)?.prerelease === undefined;
}

function sanitized(raw: string, rule: TagRule, problems: Problem[]): Tag[] {
  const tag = sanitizeTag(raw);
  if (tag !== undefined) return [tag];
  problems.push({ source: `--tag-rule ${formatTagRule(rule)}`, message: `${JSON.stringify(raw)} cannot be made into an image tag` });
  return [];
}

function dedupe(tags: readonly Tag[]): Tag[] {
  return [...new Set(tags)];
}

function noDefaultTag(): Problem {
  return {
    source: 'IMAGE_TAG (environment)',
    message: 'no tag to push: IMAGE_TAG is not set, and outside a GitLab pipeline there is no commit SHA to tag with',
    hint: 'Set IMAGE_TAG or pass --tag (e.g. --tag dev), or run inside a GitLab pipeline.',
  };
}

function noTag(input: TagInput): Problem {
  const rules = input.rules.map(formatTagRule).join(', ');
  const where = describePipeline(input.gitlab);
  return {
    source: '--tag-rule',
    message: `no tag to push: the tag rules (${rules}) give no tag on ${where}`,
    hint: 'Add a rule that applies to every pipeline (sha:short or ref), or a --tag.',
  };
}

export function describePipeline(ctx: GitlabContext): string {
  if (ctx.commit.tag !== undefined) return `the tag pipeline for ${ctx.commit.tag}`;
  if (ctx.mergeRequest !== undefined) return `the pipeline for merge request !${ctx.mergeRequest.iid}`;
  if (ctx.commit.branch !== undefined) return `the pipeline for branch ${ctx.commit.branch}`;
  return 'this pipeline';
}
