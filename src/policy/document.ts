// IAM JSON policy documents: the value types and a strict parser for the grammar in
// "IAM JSON policy element reference" / "Grammar of the IAM JSON policy language".
// Every problem is reported at once, naming the statement (index and Sid) and the field.

import { HoistError, type Problem } from '../errors.ts';
import { parseOperator } from './conditions.ts';

export type PolicyVersion = '2012-10-17' | '2008-10-17';
export type Effect = 'Allow' | 'Deny';

/**
 * What the document is attached as, which decides the required/prohibited elements:
 * identity policies have no Principal and need Resource; role trust policies need a
 * Principal and have no Resource; resource policies (ECR repository policy) need a Principal.
 */
export type PolicyKind = 'any' | 'identity' | 'trust' | 'resource';

export interface PrincipalMap {
  readonly AWS?: readonly string[];
  readonly Federated?: readonly string[];
  readonly Service?: readonly string[];
  readonly CanonicalUser?: readonly string[];
}

/** `"*"` (everyone) or principals by type. */
export type Principal = '*' | PrincipalMap;

/** One key of one operator block: `"StringLike": {"gitlab.com:sub": [...]}`. */
export interface ConditionEntry {
  readonly operator: string;
  readonly key: string;
  readonly values: readonly string[];
}

export interface Statement {
  /** Position in the Statement array (0 when Statement is a single object). */
  readonly index: number;
  readonly sid?: string;
  readonly effect: Effect;
  readonly action?: readonly string[];
  readonly notAction?: readonly string[];
  readonly resource?: readonly string[];
  readonly notResource?: readonly string[];
  readonly principal?: Principal;
  readonly notPrincipal?: Principal;
  readonly conditions: readonly ConditionEntry[];
}

export interface PolicyDocument {
  readonly version: PolicyVersion;
  readonly id?: string;
  /** Where the document came from, e.g. `role hoist-ci trust policy`; used in explanations. */
  readonly source: string;
  readonly statements: readonly Statement[];
}

const SYNTAX = 'Syntax errors in policy.';
const TOP_FIELDS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_FIELDS = new Set([
  'Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition',
]);
const PRINCIPAL_TYPES = new Set(['AWS', 'Federated', 'Service', 'CanonicalUser']);
// "service:action", where the action may use * and ? ("IAM JSON policy elements: Action").
const ACTION = /^[A-Za-z0-9-]+:[A-Za-z0-9*?_-]+$/;

interface Issues {
  problems: Problem[];
  aws: string[];
}

function report(issues: Issues, source: string, message: string, aws: string): void {
  issues.problems.push({ source, message });
  issues.aws.push(aws);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a policy document from JSON text. Throws `HoistError` with code `policy.malformed`
 * (AWS: `MalformedPolicyDocument`); `context.awsMessage` holds the message AWS would give.
 */
export function parsePolicy(json: string, source: string, kind: PolicyKind = 'any'): PolicyDocument {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw malformed(source, { problems: [{ source, message: `not valid JSON: ${(err as Error).message}` }], aws: [SYNTAX] });
  }
  return parsePolicyValue(value, source, kind);
}

/** Like `parsePolicy`, for a document that is already a JavaScript value. */
export function parsePolicyValue(value: unknown, source: string, kind: PolicyKind = 'any'): PolicyDocument {
  const issues: Issues = { problems: [], aws: [] };
  if (!isRecord(value)) {
    report(issues, source, 'a policy must be a JSON object', SYNTAX);
    throw malformed(source, issues);
  }
  for (const field of Object.keys(value)) {
    if (!TOP_FIELDS.has(field)) report(issues, `${source}.${field}`, `unknown policy element "${field}"`, SYNTAX);
  }
  const version = parseVersion(value['Version'], source, issues);
  const id = value['Id'];
  if (id !== undefined && typeof id !== 'string') report(issues, `${source}.Id`, 'Id must be a string', SYNTAX);
  const statements = parseStatements(value['Statement'], source, kind, issues);
  if (issues.problems.length > 0) throw malformed(source, issues);
  return { version, ...(typeof id === 'string' ? { id } : {}), source, statements };
}

function malformed(source: string, issues: Issues): HoistError {
  const n = issues.problems.length;
  return new HoistError(`${source}: malformed IAM policy (${n} problem${n === 1 ? '' : 's'})`, {
    code: 'policy.malformed',
    op: 'parsePolicy',
    hint: 'AWS would reject this document with MalformedPolicyDocument; fix each listed element.',
    problems: issues.problems,
    context: { source, awsCode: 'MalformedPolicyDocument', awsMessage: issues.aws[0] ?? SYNTAX },
  });
}

/** Version is optional (default 2008-10-17, which has no policy variables). */
function parseVersion(value: unknown, source: string, issues: Issues): PolicyVersion {
  if (value === undefined) return '2008-10-17';
  if (value === '2012-10-17' || value === '2008-10-17') return value;
  report(issues, `${source}.Version`, `Version must be "2012-10-17" or "2008-10-17", not ${JSON.stringify(value)}`,
    'The policy failed legacy parsing');
  return '2012-10-17';
}

/** Statement is one object or an array of them; Sids must be unique within the policy. */
function parseStatements(value: unknown, source: string, kind: PolicyKind, issues: Issues): Statement[] {
  if (value === undefined) {
    report(issues, `${source}.Statement`, 'Statement is missing', 'Missing required field Statement');
    return [];
  }
  const raw = Array.isArray(value) ? value : [value];
  const statements = raw.map((s, i) => parseStatement(s, i, source, kind, issues));
  const seen = new Set<string>();
  for (const s of statements) {
    if (s.sid === undefined || s.sid === '') continue;
    if (seen.has(s.sid)) {
      report(issues, `${source} Statement[${s.index}]`, `Sid "${s.sid}" is used twice`,
        'Statement IDs (SID) in a single policy must be unique.');
    }
    seen.add(s.sid);
  }
  return statements;
}

function parseStatement(raw: unknown, index: number, source: string, kind: PolicyKind, issues: Issues): Statement {
  if (!isRecord(raw)) {
    report(issues, `${source} Statement[${index}]`, 'a statement must be a JSON object', SYNTAX);
    return { index, effect: 'Deny', conditions: [] };
  }
  const sid = typeof raw['Sid'] === 'string' ? raw['Sid'] : undefined;
  const at = `${source} Statement[${index}]${sid ? ` (Sid "${sid}")` : ''}`;
  if (raw['Sid'] !== undefined && sid === undefined) report(issues, `${at}.Sid`, 'Sid must be a string', SYNTAX);
  for (const field of Object.keys(raw)) {
    if (!STATEMENT_FIELDS.has(field)) report(issues, `${at}.${field}`, `unknown statement element "${field}"`, SYNTAX);
  }
  const statement: Statement = {
    index,
    ...(sid !== undefined ? { sid } : {}),
    effect: parseEffect(raw['Effect'], `${at}.Effect`, issues),
    ...parseActions(raw, at, issues),
    ...parseResources(raw, at, kind, issues),
    ...parsePrincipals(raw, at, kind, issues),
    conditions: parseCondition(raw['Condition'], `${at}.Condition`, issues),
  };
  return statement;
}

/** Effect is required and is exactly "Allow" or "Deny". */
function parseEffect(value: unknown, where: string, issues: Issues): Effect {
  if (value === 'Allow' || value === 'Deny') return value;
  if (value === undefined) report(issues, where, 'Effect is missing', 'Missing required field Effect');
  else report(issues, where, `Effect must be "Allow" or "Deny", not ${JSON.stringify(value)}`, `Invalid effect: ${String(value)}`);
  return 'Deny';
}

/** A string or a non-empty array of strings, as Action, Resource and principals allow. */
function stringList(value: unknown, where: string, issues: Issues): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value as string[];
  report(issues, where, 'must be a string or a non-empty array of strings', SYNTAX);
  return [];
}

/** Exactly one of two mutually exclusive elements (Action/NotAction, …), or neither. */
function oneOf(raw: Record<string, unknown>, a: string, b: string, at: string, issues: Issues): [string, unknown] | undefined {
  if (raw[a] !== undefined && raw[b] !== undefined) {
    report(issues, `${at}.${b}`, `a statement cannot have both ${a} and ${b}`, SYNTAX);
  }
  if (raw[a] !== undefined) return [a, raw[a]];
  return raw[b] !== undefined ? [b, raw[b]] : undefined;
}

/** Every statement needs Action or NotAction: "service:action" with wildcards, or "*". */
function parseActions(raw: Record<string, unknown>, at: string, issues: Issues): Partial<Statement> {
  const found = oneOf(raw, 'Action', 'NotAction', at, issues);
  if (found === undefined) {
    report(issues, `${at}.Action`, 'the statement has neither Action nor NotAction', 'Policy statement must contain actions.');
    return {};
  }
  const [field, value] = found;
  const actions = stringList(value, `${at}.${field}`, issues);
  for (const a of actions) {
    if (a !== '*' && !ACTION.test(a)) {
      report(issues, `${at}.${field}`, `"${a}" is not "*" or "service:action"`,
        'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
    }
  }
  return field === 'Action' ? { action: actions } : { notAction: actions };
}

/** Resource/NotResource: required in identity policies, prohibited in trust policies. */
function parseResources(raw: Record<string, unknown>, at: string, kind: PolicyKind, issues: Issues): Partial<Statement> {
  const found = oneOf(raw, 'Resource', 'NotResource', at, issues);
  if (found === undefined) {
    if (kind === 'identity') {
      report(issues, `${at}.Resource`, 'an identity policy statement needs Resource or NotResource',
        'Policy statement must contain resources.');
    }
    return {};
  }
  const [field, value] = found;
  if (kind === 'trust') {
    report(issues, `${at}.${field}`, `a role trust policy cannot have ${field}`, `Has prohibited field ${field}`);
  }
  const resources = stringList(value, `${at}.${field}`, issues);
  for (const r of resources) {
    if (r !== '*' && !r.startsWith('arn:')) {
      report(issues, `${at}.${field}`, `"${r}" is not an ARN or "*"`, `Resource ${r} must be in ARN format or "*".`);
    }
  }
  return field === 'Resource' ? { resource: resources } : { notResource: resources };
}

/** Principal/NotPrincipal: required in trust and resource policies, prohibited in identity ones. */
function parsePrincipals(raw: Record<string, unknown>, at: string, kind: PolicyKind, issues: Issues): Partial<Statement> {
  const found = oneOf(raw, 'Principal', 'NotPrincipal', at, issues);
  if (found === undefined) {
    if (kind === 'trust' || kind === 'resource') {
      report(issues, `${at}.Principal`, `a ${kind} policy statement needs Principal`, 'Missing required field Principal');
    }
    return {};
  }
  const [field, value] = found;
  if (kind === 'identity') {
    report(issues, `${at}.${field}`, `an identity policy cannot have ${field}`, `Has prohibited field ${field}`);
  }
  const principal = parsePrincipal(value, `${at}.${field}`, issues);
  return field === 'Principal' ? { principal } : { notPrincipal: principal };
}

/** `"*"` or `{ "AWS" | "Federated" | "Service" | "CanonicalUser": string | string[] }`. */
function parsePrincipal(value: unknown, where: string, issues: Issues): Principal {
  if (value === '*') return '*';
  if (!isRecord(value) || Object.keys(value).length === 0) {
    report(issues, where, 'must be "*" or an object such as {"Federated": "arn:aws:iam::…:oidc-provider/…"}',
      'Invalid principal in policy');
    return {};
  }
  const map: Record<string, string[]> = {};
  for (const [type, v] of Object.entries(value)) {
    if (!PRINCIPAL_TYPES.has(type)) {
      report(issues, `${where}.${type}`, `unknown principal type "${type}" (use AWS, Federated, Service or CanonicalUser)`,
        'Invalid principal in policy');
      continue;
    }
    map[type] = stringList(v, `${where}.${type}`, issues);
  }
  return map as PrincipalMap;
}

/** Condition: { operator: { key: value | [values] } }; numbers and booleans are read as strings. */
function parseCondition(value: unknown, where: string, issues: Issues): ConditionEntry[] {
  if (value === undefined) return [];
  if (!isRecord(value)) {
    report(issues, where, 'must be an object of condition operators', SYNTAX);
    return [];
  }
  const entries: ConditionEntry[] = [];
  for (const [operator, block] of Object.entries(value)) {
    if (parseOperator(operator) === undefined) {
      report(issues, `${where}.${operator}`, `"${operator}" is not an IAM condition operator`, `Invalid Condition type : ${operator}`);
    }
    if (!isRecord(block) || Object.keys(block).length === 0) {
      report(issues, `${where}.${operator}`, 'must be a non-empty object of condition keys', SYNTAX);
      continue;
    }
    for (const [key, raw] of Object.entries(block)) {
      entries.push({ operator, key, values: conditionValues(raw, `${where}.${operator}.${key}`, issues) });
    }
  }
  return entries;
}

function conditionValues(raw: unknown, where: string, issues: Issues): string[] {
  const scalar = (v: unknown): v is string | number | boolean =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (scalar(raw)) return [String(raw)];
  if (Array.isArray(raw) && raw.length > 0 && raw.every(scalar)) return raw.map(String);
  report(issues, where, 'must be a string, number, boolean or a non-empty array of them', SYNTAX);
  return [];
}
