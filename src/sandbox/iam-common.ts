// What the IAM actions share (IAM API reference, "Common Errors" and each action's "Errors"):
// authorization of the caller, IAM's error codes and HTTP statuses, policy-document
// validation with MalformedPolicyDocument / LimitExceeded, and IAM's quotas
// ("IAM and AWS STS quotas").

import { isHoistError } from '../errors.ts';
import { parsePolicy, type PolicyDocument, type PolicyKind } from '../policy/index.ts';
import { authorize } from './authorize.ts';
import { AwsFault, type AwsCall, type XmlValue } from './protocol.ts';
import { uriEncode } from './sigv4-canonical.ts';
import type { World } from './state.ts';
import type { WorldState } from './world.ts';

export type IamAction = (world: World, call: AwsCall) => Promise<XmlValue>;

/** Names of roles and policies: `[\w+=,.@-]+`. */
export const NAME_PATTERN = /[\w+=,.@-]+/;
export const NAME_PATTERN_TEXT = '[\\w+=,.@-]+';
/** `/` or `/a/b/` of printable ASCII. */
export const PATH_PATTERN = /(\u002F)|(\u002F[\u0021-\u007E]+\u002F)/;
export const PATH_PATTERN_TEXT = '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)';

export const QUOTAS = {
  trustPolicySize: 2048,
  inlinePoliciesPerRole: 10240,
  managedPolicySize: 6144,
  attachedPoliciesPerRole: 10,
  policyVersions: 5,
} as const;

/** Every IAM call is authorized against the caller's identity policies first (root: always). */
export function allow(world: World, call: AwsCall, action: string, resource: string): void {
  authorize(world, call.caller!.principal, `iam:${action}`, resource, 'AccessDenied');
}

export const noSuchEntity = (message: string): AwsFault => new AwsFault('NoSuchEntity', message, 404);
export const alreadyExists = (message: string): AwsFault => new AwsFault('EntityAlreadyExists', message, 409);
export const deleteConflict = (message: string): AwsFault => new AwsFault('DeleteConflict', message, 409);
export const limitExceeded = (message: string): AwsFault => new AwsFault('LimitExceeded', message, 409);
export const invalidInput = (message: string): AwsFault => new AwsFault('InvalidInput', message, 400);

/** IAM returns policy documents URL-encoded (RFC 3986), e.g. in GetRole and GetRolePolicy. */
export const encodeDocument = (doc: string): string => uriEncode(doc);

/** "IAM doesn't count white space when calculating the size of a policy against these limits." */
export function policySize(doc: string): number {
  return doc.replace(/\s+/g, '').length;
}

/** Parses with the policy grammar of `kind`; problems become MalformedPolicyDocument with AWS's words. */
export function parseDocument(doc: string, source: string, kind: PolicyKind): PolicyDocument {
  try {
    return parsePolicy(doc, source, kind);
  } catch (err) {
    if (!isHoistError(err, 'policy.malformed')) throw err;
    const message = err.context['awsMessage'];
    throw new AwsFault('MalformedPolicyDocument', typeof message === 'string' ? message : 'Syntax errors in policy.', 400);
  }
}

/**
 * A role trust policy: trust grammar, STS actions only, at most 2048 characters, and principals
 * of this account that exist (IAM resolves principals when the policy is saved).
 */
export function validateTrustPolicy(state: WorldState, doc: string, roleName: string): PolicyDocument {
  if (policySize(doc) > QUOTAS.trustPolicySize) {
    throw limitExceeded(`Cannot exceed quota for ACLSizePerRole: ${QUOTAS.trustPolicySize}`);
  }
  const parsed = parseDocument(doc, `role ${roleName} trust policy`, 'trust');
  for (const s of parsed.statements) {
    const actions = s.action ?? s.notAction ?? [];
    if (s.notAction !== undefined || actions.some((a) => !/^sts:/i.test(a))) {
      throw new AwsFault('MalformedPolicyDocument', 'AssumeRole policy may only specify STS AssumeRole actions.', 400);
    }
    for (const p of [s.principal, s.notPrincipal]) {
      if (p === undefined || p === '*') continue;
      for (const arn of p.Federated ?? []) checkPrincipalExists(state, 'Federated', arn);
      for (const arn of p.AWS ?? []) checkPrincipalExists(state, 'AWS', arn);
    }
  }
  return parsed;
}

function checkPrincipalExists(state: WorldState, type: 'AWS' | 'Federated', arn: string): void {
  const prefix = `arn:aws:iam::${state.accountId}:`;
  if (!arn.startsWith(prefix)) return;
  const rest = arn.slice(prefix.length);
  const exists = type === 'Federated'
    ? rest.startsWith('oidc-provider/') ? state.oidcProviders[arn] !== undefined : true
    : rest.startsWith('role/') ? Object.values(state.roles).some((r) => r.arn === arn) : true;
  if (!exists) {
    throw new AwsFault('MalformedPolicyDocument', `Invalid principal in policy: "${type}":"${arn}"`, 400);
  }
}
