// The role's trust policy and least-privilege permissions policy (mission anchors (c) 3,
// (d) 2): one source of truth for `hoist init` (files) and `hoist bootstrap` (API calls).

import { providerArnOf, repositoryArnOf, type InitSpec } from './spec.ts';

export interface PolicyJson {
  Version: '2012-10-17';
  Statement: Array<Record<string, unknown>>;
}

/** The seed's push/pull list (Prerequisites 2), on the repository ARN only. */
export const PUSH_PULL_ACTIONS = [
  'ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload',
  'ecr:UploadLayerPart', 'ecr:PutImage', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer',
  'ecr:DescribeRepositories',
] as const;

const hasWildcard = (s: string) => /[*?]/.test(s);

/** The `sub` values the role accepts: the branch, and any tag when tag pipelines publish. */
export function subjects(s: Pick<InitSpec, 'projectPath' | 'branch' | 'tags'>): string[] {
  const base = `project_path:${s.projectPath}`;
  return [`${base}:ref_type:branch:ref:${s.branch}`, ...(s.tags ? [`${base}:ref_type:tag:ref:*`] : [])];
}

export function trustPolicy(s: InitSpec): PolicyJson {
  const host = s.issuerHost;
  const subs = subjects(s);
  const sub = subs.length === 1 ? subs[0]! : subs;
  // StringEquals never expands wildcards (a classic AccessDenied): StringLike only when needed.
  const wild = subs.some(hasWildcard);
  const equals: Record<string, string> = { [`${host}:aud`]: s.audience };
  if (!wild) Object.assign(equals, { [`${host}:sub`]: sub });
  if (s.projectId) equals[`${host}:project_id`] = s.projectId;
  if (s.namespaceId) equals[`${host}:namespace_id`] = s.namespaceId;
  const condition: Record<string, Record<string, string | string[]>> = { StringEquals: equals };
  if (wild) condition.StringLike = { [`${host}:sub`]: sub };
  return {
    Version: '2012-10-17',
    Statement: [{
      Sid: 'GitLabCiPush',
      Effect: 'Allow',
      Principal: { Federated: providerArnOf(s) },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: condition,
    }],
  };
}

export function permissionsPolicy(s: InitSpec): PolicyJson {
  const repo = repositoryArnOf(s);
  const statements: Array<Record<string, unknown>> = [
    // GetAuthorizationToken has no resource-level permissions: "*" is the only valid Resource.
    { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    { Sid: 'PushPull', Effect: 'Allow', Action: [...PUSH_PULL_ACTIONS], Resource: repo },
  ];
  if (s.createRepository) statements.push({ Sid: 'CreateRepository', Effect: 'Allow', Action: 'ecr:CreateRepository', Resource: repo });
  return { Version: '2012-10-17', Statement: statements };
}

export function policyText(p: PolicyJson): string {
  return JSON.stringify(p, null, 2) + '\n';
}

/** Key order and whitespace do not matter to IAM; compare documents by value. */
export function samePolicy(a: string, b: string): boolean {
  try {
    return canonical(JSON.parse(a)) === canonical(JSON.parse(b));
  } catch {
    return false;
  }
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
