// Policy evaluation ("Policy evaluation logic"): an explicit Deny wins; otherwise any
// applicable Allow allows; otherwise the request is implicitly denied. Every statement's
// result is kept, so callers can explain a refusal instead of just reporting it.

import { evaluateCondition, lookupKey, type ConditionResult } from './conditions.ts';
import type { PolicyDocument, Principal, Statement } from './document.ts';
import { globMatch, splitArn } from './match.ts';

export type { ConditionResult } from './conditions.ts';

export interface RequestPrincipal {
  federated?: string;
  aws?: string | string[];
  service?: string;
}

export interface RequestContext {
  /** e.g. `sts:AssumeRoleWithWebIdentity`; matched case-insensitively, with * and ? in the policy. */
  action: string;
  /** ARN, matched case-sensitively with * and ?; absent = not checked (trust policies). */
  resource?: string;
  /** For trust/resource policies; absent = Principal not checked (identity policies). */
  principal?: RequestPrincipal;
  /** Condition keys, e.g. `gitlab.com:sub`; looked up case-insensitively. */
  keys: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

export interface StatementResult {
  index: number;
  sid?: string;
  /** `PolicyDocument.source` of the document the statement belongs to. */
  policy: string;
  effect: 'Allow' | 'Deny';
  actionMatched: boolean;
  resourceMatched: boolean;
  principalMatched: boolean;
  conditions: ConditionResult[];
  applies: boolean;
  /** Why Action, Resource or Principal did not match, in plain English. */
  mismatches: string[];
}

export interface Evaluation {
  decision: Decision;
  statements: StatementResult[];
  action: string;
  resource?: string;
}

export function evaluate(docs: readonly PolicyDocument[], req: RequestContext): Evaluation {
  const statements = docs.flatMap((doc) => doc.statements.map((s) => evaluateStatement(s, doc.source, req)));
  const applying = statements.filter((s) => s.applies);
  const decision: Decision = applying.some((s) => s.effect === 'Deny')
    ? 'explicit-deny'
    : applying.some((s) => s.effect === 'Allow') ? 'allow' : 'implicit-deny';
  return { decision, statements, action: req.action, ...(req.resource !== undefined ? { resource: req.resource } : {}) };
}

/** A statement applies when Action, Resource, Principal and every condition match. */
export function evaluateStatement(s: Statement, policy: string, req: RequestContext): StatementResult {
  const mismatches: string[] = [];
  const actionMatched = matchAction(s, req.action, mismatches);
  const resourceMatched = matchResource(s, req.resource, mismatches);
  const principalMatched = matchPrincipal(s, req.principal, mismatches);
  // Multiple operators, and multiple keys within one operator, are AND'ed: every entry must pass.
  const conditions = s.conditions.map((c) => evaluateCondition(c.operator, c.key, c.values, lookupKey(req.keys, c.key)));
  const applies = actionMatched && resourceMatched && principalMatched && conditions.every((c) => c.passed);
  return {
    index: s.index,
    ...(s.sid !== undefined ? { sid: s.sid } : {}),
    policy,
    effect: s.effect,
    actionMatched,
    resourceMatched,
    principalMatched,
    conditions,
    applies,
    mismatches,
  };
}

/** Action names are case-insensitive ("IAM JSON policy elements: Action"); NotAction inverts. */
function matchAction(s: Statement, action: string, out: string[]): boolean {
  const listed = s.action ?? s.notAction ?? [];
  const hit = listed.some((p) => globMatch(p, action, true));
  if (s.notAction !== undefined) {
    if (hit) out.push(`NotAction excludes ${action}`);
    return !hit;
  }
  if (!hit) out.push(`Action ${JSON.stringify(listed)} does not include ${action}${actionHint(listed, action)}`);
  return hit;
}

/** sts:AssumeRole is a different action from sts:AssumeRoleWithWebIdentity, and so on. */
function actionHint(listed: readonly string[], action: string): string {
  const near = listed.find((p) => !p.includes('*') && action.toLowerCase().startsWith(p.toLowerCase()));
  return near === undefined ? '' : ` (${near} is a different action; actions match whole names unless you use a wildcard)`;
}

/** Resource ARNs are case-sensitive with * and ?; a statement without Resource does not restrict it. */
function matchResource(s: Statement, resource: string | undefined, out: string[]): boolean {
  if (resource === undefined) return true;
  if (s.resource !== undefined) {
    const hit = s.resource.some((p) => globMatch(p, resource));
    if (!hit) out.push(`Resource ${JSON.stringify(s.resource)} does not include ${resource}`);
    return hit;
  }
  if (s.notResource !== undefined) {
    const hit = s.notResource.some((p) => globMatch(p, resource));
    if (hit) out.push(`NotResource excludes ${resource}`);
    return !hit;
  }
  return true;
}

function matchPrincipal(s: Statement, principal: RequestPrincipal | undefined, out: string[]): boolean {
  if (principal === undefined) return true;
  if (s.principal !== undefined) {
    const hit = principalMatches(s.principal, principal);
    if (!hit) out.push(`Principal ${describePolicyPrincipal(s.principal)} does not include the caller (${describeCaller(principal)})`);
    return hit;
  }
  if (s.notPrincipal !== undefined) {
    const hit = principalMatches(s.notPrincipal, principal);
    if (hit) out.push(`NotPrincipal excludes the caller (${describeCaller(principal)})`);
    return !hit;
  }
  // In a trust or resource policy a statement without Principal grants nobody anything.
  out.push('the statement has no Principal, so it names no caller');
  return false;
}

/**
 * "Principal": "*" and {"AWS": "*"} match everyone. Federated and Service entries must equal
 * the caller exactly (no wildcards in Principal). An AWS account ID or its
 * `arn:…:iam::<account>:root` stands for every principal of that account.
 */
export function principalMatches(p: Principal, caller: RequestPrincipal): boolean {
  if (p === '*' || p.AWS?.includes('*')) return true;
  if (caller.federated !== undefined && p.Federated?.includes(caller.federated)) return true;
  if (caller.service !== undefined && p.Service?.includes(caller.service)) return true;
  const arns = caller.aws === undefined ? [] : typeof caller.aws === 'string' ? [caller.aws] : caller.aws;
  return (p.AWS ?? []).some((entry) => arns.some((arn) => arn === entry || sameAccount(entry, arn)));
}

function sameAccount(entry: string, arn: string): boolean {
  const account = /^\d{12}$/.test(entry) ? entry : /^arn:[^:]+:iam::(\d{12}):root$/.exec(entry)?.[1];
  if (account === undefined) return false;
  return (/^\d{12}$/.test(arn) ? arn : splitArn(arn)?.[4]) === account;
}

function describePolicyPrincipal(p: Principal): string {
  return p === '*' ? '"*"' : JSON.stringify(p);
}

function describeCaller(c: RequestPrincipal): string {
  const parts: string[] = [];
  if (c.federated !== undefined) parts.push(`federated ${c.federated}`);
  if (c.aws !== undefined) parts.push(`AWS ${typeof c.aws === 'string' ? c.aws : c.aws.join(', ')}`);
  if (c.service !== undefined) parts.push(`service ${c.service}`);
  return parts.length > 0 ? parts.join('; ') : 'no principal';
}

function label(s: StatementResult): string {
  return `${s.policy} statement ${s.index}${s.sid ? ` (Sid "${s.sid}")` : ''}`;
}

/** How close an Allow statement came: Action first, then Principal, Resource, conditions. */
function closeness(s: StatementResult): number {
  const passed = s.conditions.filter((c) => c.passed).length;
  const ratio = s.conditions.length === 0 ? 1 : passed / s.conditions.length;
  return (s.actionMatched ? 8 : 0) + (s.principalMatched ? 4 : 0) + (s.resourceMatched ? 2 : 0) + ratio;
}

/**
 * Why a request was refused, one line per reason: for an explicit deny the Deny statements
 * that applied; for an implicit deny what failed in the best-matching Allow statements.
 * Empty when the request is allowed.
 */
export function explainDenial(ev: Evaluation): string[] {
  if (ev.decision === 'allow') return [];
  if (ev.decision === 'explicit-deny') {
    return ev.statements.filter((s) => s.applies && s.effect === 'Deny').map((s) => {
      const why = s.conditions.map((c) => c.reason).join('; ');
      return `${label(s)} explicitly denies ${ev.action}${why ? `: ${why}` : ' unconditionally'}`;
    });
  }
  const allows = ev.statements.filter((s) => s.effect === 'Allow');
  if (allows.length === 0) return [`no Allow statement covers ${ev.action}`];
  const best = Math.max(...allows.map(closeness));
  return allows.filter((s) => closeness(s) === best).flatMap((s) => [
    ...s.mismatches.map((m) => `${label(s)}: ${m}`),
    ...s.conditions.filter((c) => !c.passed).map((c) => `${label(s)}: ${c.reason}`),
  ]);
}
