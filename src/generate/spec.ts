// What `hoist init` and `hoist bootstrap` generate from: one validated description of the
// project, its branch, the AWS account and the role. Parsed once at the edge; every problem
// is reported together (DESIGN §1 "Configuration").

import { assertNoProblems, type Problem } from '../errors.ts';
import { parseAccountId, parseRegion, partitionOf, partitionInfo, type AccountId, type Partition, type Region } from '../model/aws.ts';
import { parseRepositoryName, type RepositoryName } from '../model/repository.ts';
import { collect, fail, ok, quote, type Parsed } from '../model/value.ts';

export type BuilderChoice = 'docker' | 'native' | 'auto';
export const BUILDERS: readonly BuilderChoice[] = ['docker', 'native', 'auto'];

export const DEFAULTS = {
  roleName: 'gitlab-runner-ecr-role',
  policyName: 'ecr-push',
  issuer: 'https://gitlab.com',
  builder: 'docker' as BuilderChoice,
  imageTag: '$CI_COMMIT_SHA',
  testImage: 'maven:3.9-eclipse-temurin-21',
  testCommand: 'mvn -B test',
  hoistPackage: 'hoist',
} as const;

/** The raw settings, as flags or prompts give them. */
export interface InitInput {
  projectPath?: string | undefined;
  repository?: string | undefined;
  account?: string | undefined;
  region?: string | undefined;
  branch?: string | undefined;
  roleName?: string | undefined;
  policyName?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  projectId?: string | undefined;
  namespaceId?: string | undefined;
  builder?: string | undefined;
  imageTag?: string | undefined;
  tags?: boolean | undefined;
  testStage?: boolean | undefined;
  testImage?: string | undefined;
  testCommand?: string | undefined;
  createRepository?: boolean | undefined;
  hoistPackage?: string | undefined;
}

export interface InitSpec {
  projectPath: string;
  repository: RepositoryName;
  account: AccountId;
  region: Region;
  partition: Partition;
  branch: string;
  roleName: string;
  policyName: string;
  /** `https://gitlab.com`: the issuer URL the OIDC provider is registered with. */
  issuer: string;
  /** The issuer as IAM stores it and prefixes condition keys with: `gitlab.com`. */
  issuerHost: string;
  audience: string;
  projectId?: string;
  namespaceId?: string;
  builder: BuilderChoice;
  imageTag: string;
  tags: boolean;
  test?: { image: string; command: string };
  createRepository: boolean;
  hoistPackage: string;
}

/** The settings without which nothing can be generated, with the flag that sets each. */
export const REQUIRED: ReadonlyArray<{ key: keyof InitInput; flag: string; question: string }> = [
  { key: 'projectPath', flag: '--project-path', question: 'GitLab project path (group/project)' },
  { key: 'repository', flag: '--repository', question: 'ECR repository name' },
  { key: 'account', flag: '--account', question: 'AWS account ID (12 digits)' },
  { key: 'region', flag: '--region', question: 'AWS region (e.g. ap-south-1)' },
  { key: 'branch', flag: '--branch', question: 'branch that publishes images (e.g. main)' },
];

export function missingRequired(input: InitInput): string[] {
  return REQUIRED.filter((r) => !input[r.key]).map((r) => r.flag);
}

// GitLab paths: namespaces and project slugs of letters, digits, _ . - (+ subgroups).
const PROJECT_PATH = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;
// IAM RoleName / PolicyName: [\w+=,.@-], 1–64 / 1–128.
const IAM_NAME = /^[\w+=,.@-]+$/;

export function parseProjectPath(raw: string, source = '--project-path'): Parsed<string> {
  if (PROJECT_PATH.test(raw)) return ok(raw);
  return fail(source, `${quote(raw)} is not a GitLab project path`, 'Use group/project (or group/subgroup/project), as in the project URL.');
}

function parseBranch(raw: string, source = '--branch'): Parsed<string> {
  // Git ref rules that matter here; `*` is kept as a trust-policy/rules wildcard.
  if (raw !== '' && !/[\s~^:?\\[]|\.\.|^\/|\/$|^-/.test(raw)) return ok(raw);
  return fail(source, `${quote(raw)} is not a branch name`, 'Use the branch that publishes images, e.g. main or master (release/* for a family of branches).');
}

function parseIamName(raw: string, source: string, max: number): Parsed<string> {
  if (IAM_NAME.test(raw) && raw.length <= max) return ok(raw);
  return fail(source, `${quote(raw)} is not a valid IAM name`, `IAM allows 1–${max} letters, digits and + = , . @ _ -.`);
}

function parseIssuer(raw: string, source = '--issuer'): Parsed<string> {
  if (/^https:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(raw)) return ok(raw.replace(/\/+$/, ''));
  return fail(source, `${quote(raw)} is not an OIDC issuer URL`, 'Use the GitLab instance URL, e.g. https://gitlab.com or https://gitlab.example.com.');
}

function parseNumericId(raw: string, source: string): Parsed<string> {
  return /^\d+$/.test(raw) ? ok(raw) : fail(source, `${quote(raw)} is not a numeric ID`, 'Find it on the GitLab project or group page (Settings → General).');
}

function parseBuilder(raw: string): Parsed<BuilderChoice> {
  return (BUILDERS as readonly string[]).includes(raw)
    ? ok(raw as BuilderChoice)
    : fail('--builder', `${quote(raw)} is not a builder`, 'Use docker (DinD service), native (daemonless) or auto.');
}

export function issuerHost(issuer: string): string {
  return issuer.replace(/^https:\/\//, '').replace(/\/+$/, '');
}

/** Validates everything at once; throws one `config.invalid` error listing every problem. */
export function parseInitSpec(input: InitInput): InitSpec {
  const problems: Problem[] = [];
  const missing = missingRequired(input);
  if (missing.length > 0) problems.push({ source: missing.join(', '), message: 'required', hint: 'Pass the missing flags, or run hoist init in a terminal to be asked.' });
  const need = (raw: string | undefined, p: (r: string) => Parsed<unknown>) => (raw ? collect(p(raw), problems) : undefined);
  const projectPath = need(input.projectPath, (r) => parseProjectPath(r)) as string | undefined;
  const repository = need(input.repository, (r) => parseRepositoryName(r, '--repository')) as RepositoryName | undefined;
  const account = need(input.account, (r) => parseAccountId(r, '--account')) as AccountId | undefined;
  const region = need(input.region, (r) => parseRegion(r, '--region')) as Region | undefined;
  const branch = need(input.branch, (r) => parseBranch(r)) as string | undefined;
  const roleName = collect(parseIamName(input.roleName ?? DEFAULTS.roleName, '--role-name', 64), problems);
  const policyName = collect(parseIamName(input.policyName ?? DEFAULTS.policyName, '--policy-name', 128), problems);
  const issuer = collect(parseIssuer(input.issuer ?? DEFAULTS.issuer), problems);
  const builder = collect(parseBuilder(input.builder ?? DEFAULTS.builder), problems);
  const projectId = input.projectId === undefined ? undefined : collect(parseNumericId(input.projectId, '--project-id'), problems);
  const namespaceId = input.namespaceId === undefined ? undefined : collect(parseNumericId(input.namespaceId, '--namespace-id'), problems);
  if ((input.projectId || input.namespaceId) && issuer && issuerHost(issuer) !== 'gitlab.com') {
    problems.push({
      source: input.projectId ? '--project-id' : '--namespace-id',
      message: `AWS evaluates project_id/namespace_id only for the gitlab.com identity provider, not ${issuerHost(issuer)}`,
      hint: 'On self-managed GitLab only the sub claim is a condition key: drop the flag.',
    });
  }
  assertNoProblems(problems, 'hoist init');
  const partition = partitionOf(region!);
  return {
    projectPath: projectPath!, repository: repository!, account: account!, region: region!, partition,
    branch: branch!, roleName: roleName!, policyName: policyName!, issuer: issuer!, issuerHost: issuerHost(issuer!),
    audience: input.audience ?? partitionInfo(partition).stsAudience,
    ...(projectId ? { projectId } : {}), ...(namespaceId ? { namespaceId } : {}),
    builder: builder!, imageTag: input.imageTag ?? DEFAULTS.imageTag, tags: input.tags === true,
    ...(input.testStage ? { test: { image: input.testImage ?? DEFAULTS.testImage, command: input.testCommand ?? DEFAULTS.testCommand } } : {}),
    createRepository: input.createRepository === true, hoistPackage: input.hoistPackage ?? DEFAULTS.hoistPackage,
  };
}

export function roleArnOf(s: Pick<InitSpec, 'partition' | 'account' | 'roleName'>): string {
  return `arn:${s.partition}:iam::${s.account}:role/${s.roleName}`;
}

export function providerArnOf(s: Pick<InitSpec, 'partition' | 'account' | 'issuerHost'>): string {
  return `arn:${s.partition}:iam::${s.account}:oidc-provider/${s.issuerHost}`;
}

export function repositoryArnOf(s: Pick<InitSpec, 'partition' | 'region' | 'account' | 'repository'>): string {
  return `arn:${s.partition}:ecr:${s.region}:${s.account}:repository/${s.repository}`;
}
