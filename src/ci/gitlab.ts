// GitLab's predefined CI/CD variables, read once into a typed context (GitLab docs,
// "Predefined CI/CD variables reference", doc/ci/variables/predefined_variables.md).
// Pipeline kinds differ in what they set: CI_COMMIT_BRANCH only on branch pipelines,
// CI_COMMIT_TAG only on tag pipelines, CI_MERGE_REQUEST_* only on merge-request pipelines.

import { type Problem } from '../errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface GitlabContext {
  /** GITLAB_CI=true: the job runs on a GitLab runner. */
  inGitlab: boolean;
  commit: {
    /** CI_COMMIT_SHA: 40 hex digits (64 in SHA-256 repositories). */
    sha?: string;
    /** CI_COMMIT_SHORT_SHA: the first 8 characters. */
    shortSha?: string;
    /** CI_COMMIT_REF_NAME: the branch or tag the pipeline runs for. */
    refName?: string;
    /** CI_COMMIT_REF_SLUG: refName lowercased, `[^0-9a-z]` → `-`, ≤ 63 bytes. */
    refSlug?: string;
    /** CI_COMMIT_BRANCH: set on branch pipelines only. */
    branch?: string;
    /** CI_COMMIT_TAG: set on tag pipelines only. */
    tag?: string;
  };
  /** CI_DEFAULT_BRANCH. */
  defaultBranch?: string;
  /** Merge-request pipelines (CI_PIPELINE_SOURCE=merge_request_event). */
  mergeRequest?: { iid: number; sourceBranch?: string; targetBranch?: string };
  pipeline: { id?: string; source?: string; createdAt?: Date };
  project: { url?: string; name?: string; path?: string; description?: string };
  job: { name?: string };
}

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const DIGITS = /^\d+$/;
const OVERRIDDEN = 'GitLab sets this variable itself; remove the override from `variables:` or the project settings.';

/** Reads the context; malformed values are left out and reported, never guessed at. */
export function readGitlabContext(env: Env): { context: GitlabContext; problems: Problem[] } {
  const problems: Problem[] = [];
  const v = (name: string) => value(env, name);
  const checked = (name: string, ok: (s: string) => boolean, what: string) => check(env, name, ok, what, problems);
  const context: GitlabContext = {
    inGitlab: env.GITLAB_CI === 'true',
    commit: compact({
      sha: checked('CI_COMMIT_SHA', (s) => SHA.test(s), 'a commit SHA'),
      shortSha: checked('CI_COMMIT_SHORT_SHA', (s) => /^[0-9a-f]{4,64}$/.test(s), 'a short commit SHA'),
      refName: v('CI_COMMIT_REF_NAME'),
      refSlug: v('CI_COMMIT_REF_SLUG'),
      branch: v('CI_COMMIT_BRANCH'),
      tag: v('CI_COMMIT_TAG'),
    }),
    pipeline: compact({
      id: checked('CI_PIPELINE_ID', (s) => DIGITS.test(s), 'a pipeline ID'),
      source: v('CI_PIPELINE_SOURCE'),
      createdAt: date(checked('CI_PIPELINE_CREATED_AT', (s) => date(s) !== undefined, 'an ISO 8601 time')),
    }),
    project: compact({ url: checked('CI_PROJECT_URL', isUrl, 'a URL'), name: v('CI_PROJECT_NAME'), path: v('CI_PROJECT_PATH'), description: v('CI_PROJECT_DESCRIPTION') }),
    job: compact({ name: v('CI_JOB_NAME') }),
  };
  return { context: withOptional(context, env, problems), problems };
}

function withOptional(context: GitlabContext, env: Env, problems: Problem[]): GitlabContext {
  const defaultBranch = value(env, 'CI_DEFAULT_BRANCH');
  if (defaultBranch !== undefined) context.defaultBranch = defaultBranch;
  const iid = check(env, 'CI_MERGE_REQUEST_IID', (s) => DIGITS.test(s), 'a merge request IID', problems);
  if (iid !== undefined) {
    context.mergeRequest = compact({
      iid: Number(iid),
      sourceBranch: value(env, 'CI_MERGE_REQUEST_SOURCE_BRANCH_NAME'),
      targetBranch: value(env, 'CI_MERGE_REQUEST_TARGET_BRANCH_NAME'),
    });
  }
  return context;
}

/** GitLab exports unset optional variables as empty strings in some executors: treat those as unset. */
function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

function check(env: Env, name: string, ok: (s: string) => boolean, what: string, problems: Problem[]): string | undefined {
  const raw = value(env, name);
  if (raw === undefined || ok(raw)) return raw;
  problems.push({ source: `${name} (environment)`, message: `${JSON.stringify(raw)} is not ${what}`, hint: OVERRIDDEN });
  return undefined;
}

function date(raw: string | undefined): Date | undefined {
  if (raw === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(raw)) return undefined;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function isUrl(raw: string): boolean {
  return URL.canParse(raw);
}

/** Drops undefined fields so results compare and print cleanly. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** GitLab's slug rule for CI_COMMIT_REF_SLUG, for when only the ref name is known. */
export function slugify(ref: string): string {
  return ref.toLowerCase().replace(/[^0-9a-z]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
}

/** True on a branch pipeline for the project's default branch. */
export function onDefaultBranch(ctx: GitlabContext): boolean {
  return ctx.commit.branch !== undefined && ctx.commit.branch === ctx.defaultBranch;
}
