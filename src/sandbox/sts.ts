// AWS STS, Query protocol (STS API reference, version 2011-06-15): AssumeRoleWithWebIdentity
// (unsigned), AssumeRole and GetCallerIdentity. Sessions are stored in the world so later
// SigV4 requests are verified against them.

import { evaluate, parsePolicy, type Evaluation, type PolicyDocument } from '../policy/index.ts';
import { rolePolicies } from './authorize.ts';
import { findRole } from './iam-roles.ts';
import * as ids from './ids.ts';
import { AwsFault, isoTime, queryReply, type AwsCall, type AwsHandler, type XmlValue } from './protocol.ts';
import { Validator, validationError } from './query-params.ts';
import type { World } from './state.ts';
import { verifyWebIdentityToken, webIdentityKeys } from './sts-web-identity.ts';
import type { Principal, Role, Session, WorldState } from './world.ts';

/** `maxSeconds`: the sandbox's --credential-seconds cap on issued sessions, when set. */
type StsAction = (world: World, call: AwsCall, maxSeconds: number | undefined) => Promise<XmlValue>;

const ACTIONS: Record<string, StsAction> = {
  AssumeRoleWithWebIdentity: assumeRoleWithWebIdentity,
  AssumeRole: assumeRole,
  GetCallerIdentity: getCallerIdentity,
};

/** `[\w+=,.@-]*`, the pattern of roleSessionNameType and sourceIdentityType. */
const SESSION_NAME = /[\w+=,.@-]*/;
const DEFAULT_DURATION = 3600;
/** "Role chaining limits your … session to a maximum of one hour" (IAM User Guide, "Role terms"). */
const CHAINING_MAX = 3600;
/** Expired sessions are kept a while so their keys keep answering ExpiredToken, then dropped. */
const SESSION_RETENTION_MS = 7 * 24 * 3600 * 1000;

export const handleSts: AwsHandler = async (ctx, call) => {
  const action = ACTIONS[call.action];
  if (!action) throw new AwsFault('InvalidAction', `Could not find operation ${call.action} for version 2011-06-15`, 400);
  return queryReply('sts', call.action, await action(ctx.world, call, ctx.credentialSeconds), call.requestId);
};

// ---- AssumeRoleWithWebIdentity ----------------------------------------------------------

async function assumeRoleWithWebIdentity(world: World, call: AwsCall, maxSeconds: number | undefined): Promise<XmlValue> {
  const v = new Validator(call.params);
  const common = commonParams(v);
  const token = v.required('WebIdentityToken');
  v.sensitiveText(token, 'webIdentityToken', 4, 20000);
  const providerId = v.optional('ProviderId');
  v.text(providerId, 'providerId', 4, 2048);
  v.done();
  rejectSessionPolicies(call.params);
  if (providerId !== undefined) {
    // OAuth 2.0 access tokens of www.amazon.com / graph.facebook.com: the IdP is asked, and refuses.
    throw new AwsFault('IDPRejectedClaim',
      `${providerId}: the hoist sandbox does not emulate OAuth 2.0 providers; omit ProviderId for OpenID Connect ID tokens`, 403);
  }
  const verified = verifyWebIdentityToken(world, token);
  const denied = new AwsFault('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403);
  const role = roleFromArn(world.state, common.roleArn);
  if (!role) throw denied;
  const ev = evaluateTrust(role, {
    action: 'sts:AssumeRoleWithWebIdentity',
    principal: { federated: verified.provider.arn },
    keys: webIdentityKeys(verified, common.sessionName),
  });
  if (ev?.decision !== 'allow') throw denied;
  const session = await issueSession(world, role, common.sessionName, capped(duration(role, common.duration, false), maxSeconds));
  return {
    Credentials: credentials(session),
    SubjectFromWebIdentityToken: verified.subject,
    AssumedRoleUser: assumedRoleUser(session.principal),
    Provider: verified.provider.arn,
    Audience: verified.audience,
  };
}

// ---- AssumeRole -------------------------------------------------------------------------

async function assumeRole(world: World, call: AwsCall, maxSeconds: number | undefined): Promise<XmlValue> {
  const caller = call.caller!.principal;
  const v = new Validator(call.params);
  const common = commonParams(v);
  const externalId = v.optional('ExternalId');
  v.text(externalId, 'externalId', 2, 1224, /[\w+=,.@:/-]*/);
  const sourceIdentity = v.optional('SourceIdentity');
  v.text(sourceIdentity, 'sourceIdentity', 2, 64, SESSION_NAME, '[\\w+=,.@-]*');
  v.done();
  rejectSessionPolicies(call.params);
  if (caller.kind === 'root') throw new AwsFault('AccessDenied', 'Roles may not be assumed by root accounts.', 403);
  const role = roleFromArn(world.state, common.roleArn);
  const denied = new AwsFault('AccessDenied',
    `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${common.roleArn}`, 403);
  if (!role || !assumeRoleAllowed(world, caller, role, {
    'aws:PrincipalArn': caller.roleArn,
    'aws:PrincipalAccount': caller.accountId,
    'sts:RoleSessionName': common.sessionName,
    'sts:ExternalId': externalId,
    'sts:SourceIdentity': sourceIdentity,
  })) throw denied;
  // Every non-root principal of the sandbox is a role session: this is role chaining.
  const session = await issueSession(world, role, common.sessionName, capped(duration(role, common.duration, true), maxSeconds));
  return {
    Credentials: credentials(session),
    AssumedRoleUser: assumedRoleUser(session.principal),
    SourceIdentity: sourceIdentity,
  };
}

/**
 * Same-account role trust ("Cross-account policy evaluation logic" and "How IAM roles differ
 * from resource-based policies"): a trust statement naming the caller's session ARN grants
 * by itself; one naming the caller's role ARN or the account needs the caller's own policies
 * to allow sts:AssumeRole too. An explicit deny on either side refuses.
 */
function assumeRoleAllowed(world: World, caller: Extract<Principal, { kind: 'assumed-role' }>, role: Role,
  keys: Record<string, string | undefined>): boolean {
  const trust = evaluateTrust(role, { action: 'sts:AssumeRole', principal: { aws: [caller.arn, caller.roleArn] }, keys });
  if (trust?.decision !== 'allow') return false;
  const identity = evaluate(rolePolicies(world.state, caller.roleName), { action: 'sts:AssumeRole', resource: role.arn, keys });
  if (identity.decision === 'explicit-deny') return false;
  const doc = trustDocument(role)!;
  const direct = trust.statements.some((s) => s.applies && s.effect === 'Allow' && namesPrincipal(doc, s.index, caller.arn));
  return direct || identity.decision === 'allow';
}

/** The statement names this session ARN, or everyone ("*"), rather than the role or the account. */
function namesPrincipal(doc: PolicyDocument, index: number, arn: string): boolean {
  const principal = doc.statements[index]?.principal;
  if (principal === undefined) return false;
  return principal === '*' || (principal.AWS ?? []).some((p) => p === '*' || p === arn);
}

// ---- GetCallerIdentity ------------------------------------------------------------------

async function getCallerIdentity(_world: World, call: AwsCall): Promise<XmlValue> {
  const p = call.caller!.principal;
  // The root user's UserId is the account ID; a role session's is `<roleId>:<sessionName>`.
  const userId = p.kind === 'root' ? p.accountId : `${p.roleId}:${p.sessionName}`;
  return { UserId: userId, Account: p.accountId, Arn: p.arn };
}

// ---- shared -----------------------------------------------------------------------------

interface CommonParams {
  roleArn: string;
  sessionName: string;
  duration: number | undefined;
}

function commonParams(v: Validator): CommonParams {
  const roleArn = v.required('RoleArn');
  v.text(roleArn, 'roleArn', 20, 2048);
  const sessionName = v.required('RoleSessionName');
  v.text(sessionName, 'roleSessionName', 2, 64, SESSION_NAME, '[\\w+=,.@-]*');
  const duration = v.integer('DurationSeconds', 'durationSeconds', 900, 43200);
  return { roleArn, sessionName, duration };
}

/** Session policies would need to be stored with the session to restrict it; refuse rather than ignore. */
function rejectSessionPolicies(params: URLSearchParams): void {
  const has = params.has('Policy') || [...params.keys()].some((k) => k.startsWith('PolicyArns.'));
  if (has) throw validationError('The hoist sandbox does not support session policies (Policy, PolicyArns); omit them.');
}

/** STS finds the role by account and name; the path in the ARN is not significant. */
function roleFromArn(state: WorldState, arn: string): Role | undefined {
  const m = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (!m) throw validationError('Request ARN is invalid');
  return m[1] === state.accountId ? findRole(state, m[2]!) : undefined;
}

function trustDocument(role: Role): PolicyDocument | undefined {
  try {
    return parsePolicy(role.assumeRolePolicy, `role ${role.name} trust policy`, 'trust');
  } catch {
    return undefined;
  }
}

function evaluateTrust(role: Role, req: Parameters<typeof evaluate>[1]): Evaluation | undefined {
  const doc = trustDocument(role);
  return doc ? evaluate([doc], req) : undefined;
}

function duration(role: Role, requested: number | undefined, chained: boolean): number {
  const seconds = requested ?? DEFAULT_DURATION;
  if (chained && seconds > CHAINING_MAX) {
    throw validationError('The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }
  if (seconds > role.maxSessionDuration) {
    throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }
  return seconds;
}

/**
 * The session's lifetime under --credential-seconds: the request is validated as AWS does
 * (900 s and up, within the role's maximum), then the session is made shorter than AWS ever would.
 */
function capped(seconds: number, maxSeconds: number | undefined): number {
  return maxSeconds === undefined ? seconds : Math.min(seconds, maxSeconds);
}

async function issueSession(world: World, role: Role, sessionName: string, seconds: number): Promise<Session> {
  const state = world.state;
  const now = world.now();
  const session: Session = {
    accessKeyId: ids.accessKeyId(true),
    secretAccessKey: ids.secretAccessKey(),
    sessionToken: ids.sessionToken(),
    expiresAt: now + seconds * 1000,
    principal: {
      kind: 'assumed-role',
      accountId: state.accountId,
      // The assumed-role ARN carries the role name without its path.
      arn: `arn:aws:sts::${state.accountId}:assumed-role/${role.name}/${sessionName}`,
      roleName: role.name,
      roleArn: role.arn,
      roleId: role.roleId,
      sessionName,
    },
  };
  for (const [key, s] of Object.entries(state.sessions)) {
    if (s.expiresAt !== undefined && s.expiresAt + SESSION_RETENTION_MS < now) delete state.sessions[key];
  }
  state.sessions[session.accessKeyId] = session;
  await world.commit();
  return session;
}

function credentials(s: Session): XmlValue {
  return {
    AccessKeyId: s.accessKeyId,
    SecretAccessKey: s.secretAccessKey,
    SessionToken: s.sessionToken,
    Expiration: isoTime(s.expiresAt!),
  };
}

function assumedRoleUser(p: Principal): XmlValue {
  if (p.kind !== 'assumed-role') return undefined;
  return { Arn: p.arn, AssumedRoleId: `${p.roleId}:${p.sessionName}` };
}
