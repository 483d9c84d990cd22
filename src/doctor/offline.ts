// `hoist doctor` without AWS: the same verdicts from files — the token (or its claims), the
// role's trust policy, its permissions policies — and the security review. Checks whose
// inputs were not given are left out; with only policy files, the review runs alone.

import { isHoistError, type Problem } from '../errors.ts';
import { parseRoleArn } from '../model/aws.ts';
import { parsePolicy, type PolicyDocument, type PolicyKind } from '../policy/index.ts';
import { type Check, fail, repositoryArn, skip } from './check.ts';
import { checkPermissions, verdictsFromPolicies } from './permissions.ts';
import { reviewCheck, reviewPermissions, reviewTrust } from './review.ts';
import { checkToken } from './token.ts';
import { checkTrust } from './trust.ts';

export interface PolicyFile {
  text: string;
  source: string;
}

export interface OfflineInput {
  token?: { text: string; source: string };
  claims?: { value: Record<string, unknown>; source: string };
  tokenProblems?: readonly Problem[];
  trustPolicy?: PolicyFile;
  permissionsPolicies?: readonly PolicyFile[];
  roleArn?: string;
  region?: string;
  repository?: string;
  createWanted: boolean;
  /** Client IDs the provider lists (default sts.amazonaws.com). */
  audiences?: readonly string[];
  nowMs: number;
}

export interface ParsedPolicy {
  doc?: PolicyDocument;
  error?: Check['evidence'];
}

export function parsePolicyFile(file: PolicyFile, kind: PolicyKind): ParsedPolicy {
  try {
    return { doc: parsePolicy(file.text, file.source, kind) };
  } catch (err) {
    if (!isHoistError(err)) throw err;
    return { error: [err.message, ...err.problems.map((p) => `${p.source}: ${p.message}`)] };
  }
}

export function offlineDoctor(input: OfflineInput): Check[] {
  const checks: Check[] = [];
  const trust = input.trustPolicy && parsePolicyFile(input.trustPolicy, 'trust');
  const perms = (input.permissionsPolicies ?? []).map((f) => parsePolicyFile(f, 'identity'));
  const role = roleOf(input.roleArn, trust?.doc);
  let claims: Record<string, unknown> | undefined;
  let audience: string | undefined;
  if (input.token || input.claims || (input.tokenProblems ?? []).length > 0) {
    const v = checkToken({
      ...(input.token ? { token: input.token.text } : {}), ...(input.claims ? { claims: input.claims.value } : {}),
      source: input.token?.source ?? input.claims?.source ?? 'the token', problems: input.tokenProblems ?? [],
      ...(input.audiences ? { audiences: input.audiences, audienceSource: 'the IAM OIDC provider' } : {}), nowMs: input.nowMs,
    });
    checks.push(v.check);
    claims = v.claims;
    audience = v.audience;
  }
  if (trust) checks.push(trustCheck(trust, claims, audience, role));
  if (perms.length > 0) checks.push(permissionsCheck(perms, input, role));
  if (trust?.doc) checks.push(reviewCheck('review-trust', reviewTrust(trust.doc), trust.doc.source));
  const docs = perms.flatMap((p) => (p.doc ? [p.doc] : []));
  if (docs.length > 0) checks.push(reviewCheck('review-permissions', reviewPermissions(docs, repoArn(input, role)), docs.map((d) => d.source).join(', ')));
  return checks;
}

type Role = { arn: string; account: string; partition: string } | undefined;

/** The role from --role-arn, else an account taken from the trust policy's provider ARN. */
function roleOf(raw: string | undefined, trust: PolicyDocument | undefined): Role {
  if (raw !== undefined) {
    const parsed = parseRoleArn(raw, '--role-arn');
    if (parsed.ok) return { arn: parsed.value.arn, account: parsed.value.account, partition: parsed.value.partition };
  }
  for (const s of trust?.statements ?? []) {
    const fed = s.principal && s.principal !== '*' ? s.principal.Federated?.[0] : undefined;
    const m = fed && /^arn:([^:]+):iam::(\d{12}):oidc-provider\//.exec(fed);
    if (m) return { arn: `arn:${m[1]}:iam::${m[2]}:role/(unnamed)`, account: m[2]!, partition: m[1]! };
  }
  return undefined;
}

function trustCheck(trust: ParsedPolicy, claims: Record<string, unknown> | undefined, audience: string | undefined, role: Role): Check {
  if (!trust.doc) return fail('trust', trust.error ?? [], 'Fix the trust policy: AWS would reject it with MalformedPolicyDocument.');
  if (!claims) return skip('trust', 'no usable token or claims to evaluate the trust policy against (--token or --token-claims)');
  if (!role) return skip('trust', 'no role ARN (--role-arn) and no provider ARN in the trust policy');
  return checkTrust({ policy: trust.doc, claims, ...(audience ? { audience } : {}), role });
}

function repoArn(input: OfflineInput, role: Role): string | undefined {
  if (!input.repository || !input.region || !role) return undefined;
  return repositoryArn(role.partition, input.region, role.account, input.repository);
}

function permissionsCheck(perms: readonly ParsedPolicy[], input: OfflineInput, role: Role): Check {
  const broken = perms.filter((p) => !p.doc);
  if (broken.length > 0) return fail('permissions', broken.flatMap((p) => p.error ?? []), 'Fix the permissions policy: AWS would reject it with MalformedPolicyDocument.');
  const arn = repoArn(input, role);
  if (!arn) return skip('permissions', 'the repository ARN is unknown: pass --repository, --region and --role-arn');
  const docs = perms.map((p) => p.doc!);
  return checkPermissions({
    verdicts: verdictsFromPolicies(docs, arn, role?.arn), basis: `the policy files ${docs.map((d) => d.source).join(', ')}`,
    repositoryArn: arn, createWanted: input.createWanted,
  });
}
