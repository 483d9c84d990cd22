// `hoist doctor` results as values: each item of the seed's "Quick sanity checklist" becomes a
// check with a status, the evidence it rests on (never a secret) and, when it fails, the fix.

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export type CheckId =
  | 'config' | 'token' | 'provider' | 'trust' | 'permissions' | 'repository' | 'registry' | 'builder'
  | 'review-trust' | 'review-permissions';

export interface Check {
  id: CheckId;
  title: string;
  status: CheckStatus;
  evidence: string[];
  fix?: string;
}

export const TITLES: Readonly<Record<CheckId, string>> = {
  config: 'CI/CD variables set and well formed',
  token: 'OIDC ID token present, decodable, unexpired, right audience',
  provider: 'IAM OIDC identity provider for the token issuer lists its audience',
  trust: 'role exists and its trust policy admits this token',
  permissions: 'role permissions allow every ECR action push needs',
  repository: 'ECR repository exists or can be created',
  registry: 'the registry accepts the ECR login',
  builder: 'a builder is available (Docker engine at DOCKER_HOST answers)',
  'review-trust': 'security review: trust policy',
  'review-permissions': 'security review: permissions policy',
};

export function check(id: CheckId, status: CheckStatus, evidence: string[], fix?: string): Check {
  return { id, title: TITLES[id], status, evidence, ...(fix !== undefined && status !== 'pass' ? { fix } : {}) };
}

export const pass = (id: CheckId, evidence: string[]): Check => check(id, 'pass', evidence);
export const fail = (id: CheckId, evidence: string[], fix: string): Check => check(id, 'fail', evidence, fix);
export const warn = (id: CheckId, evidence: string[], fix?: string): Check => check(id, 'warn', evidence, fix);
export const skip = (id: CheckId, why: string, evidence: string[] = []): Check => check(id, 'skip', [why, ...evidence]);

/** The ECR actions of the seed's "Permissions policy" that a push needs, on the repository ARN. */
export const PUSH_ACTIONS = [
  'ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart',
  'ecr:PutImage', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeRepositories',
] as const;
export const LOGIN_ACTION = 'ecr:GetAuthorizationToken';
export const CREATE_ACTION = 'ecr:CreateRepository';
/** Everything the seed's list grants: the push actions, the login, and the optional create. */
export const SEED_ACTIONS: readonly string[] = [LOGIN_ACTION, ...PUSH_ACTIONS, CREATE_ACTION];

export const STS_AUDIENCE = 'sts.amazonaws.com';
export const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';

/** Exit code of a doctor run: 1 when any check failed; warnings and skips do not fail. */
export function exitCode(checks: readonly Check[]): 0 | 1 {
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}

export function repositoryArn(partition: string, region: string, account: string, repository: string): string {
  return `arn:${partition}:ecr:${region}:${account}:repository/${repository}`;
}

export function oidcProviderArn(partition: string, account: string, host: string): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${host}`;
}
