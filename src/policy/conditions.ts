// Condition operators, following "IAM JSON policy elements: Condition operators" and
// "Single-valued vs. multivalued context keys". Each result carries a plain-English reason,
// because `hoist doctor` has to say *why* a trust policy refused a token.

import { arnMatch, globMatch, ipMatch, parseBool, parseDate, parseNumber, wildcardIn } from './match.ts';

export interface ConditionResult {
  operator: string;
  key: string;
  expected: readonly string[];
  actual: readonly string[] | undefined;
  passed: boolean;
  reason: string;
}

export type SetQualifier = 'ForAnyValue' | 'ForAllValues';

export interface ParsedOperator {
  /** As written in the policy, e.g. `ForAllValues:StringLikeIfExists`. */
  readonly name: string;
  /** The canonical operator without qualifier or suffix, e.g. `StringLike`. */
  readonly base: string;
  readonly qualifier: SetQualifier | undefined;
  readonly ifExists: boolean;
  /** StringNotEquals, ArnNotLike, NotIpAddress, …: true when no policy value matches. */
  readonly negated: boolean;
}

type Test = (expected: string, actual: string) => boolean | undefined;

interface Spec {
  readonly test: Test;
  readonly negated: boolean;
  /** Relation of the positive form, e.g. "equals", "is less than". */
  readonly verb: string;
  readonly notVerb: string;
  /** What a value must look like, for type mismatches, e.g. "number". */
  readonly kind: string;
}

const numeric = (cmp: (a: number, e: number) => boolean): Test => (e, a) => {
  const x = parseNumber(a);
  const y = parseNumber(e);
  return x === undefined || y === undefined ? undefined : cmp(x, y);
};
const dated = (cmp: (a: number, e: number) => boolean): Test => (e, a) => {
  const x = parseDate(a);
  const y = parseDate(e);
  return x === undefined || y === undefined ? undefined : cmp(x, y);
};
const bool: Test = (e, a) => {
  const x = parseBool(a);
  const y = parseBool(e);
  return x === undefined || y === undefined ? undefined : x === y;
};

function spec(test: Test, verb: string, notVerb: string, kind: string, negated = false): Spec {
  return { test, verb, notVerb, kind, negated };
}

const eq: Test = (e, a) => e === a;
const eqIgnoreCase: Test = (e, a) => e.toLowerCase() === a.toLowerCase();
const like: Test = (e, a) => globMatch(e, a);
const cmp = {
  eq: (a: number, e: number) => a === e,
  lt: (a: number, e: number) => a < e,
  le: (a: number, e: number) => a <= e,
  gt: (a: number, e: number) => a > e,
  ge: (a: number, e: number) => a >= e,
};

/** Every operator of the IAM docs except Null, which tests presence instead of values. */
const SPECS: Readonly<Record<string, Spec>> = {
  StringEquals: spec(eq, 'equals', 'does not equal', 'string'),
  StringNotEquals: spec(eq, 'equals', 'does not equal', 'string', true),
  StringEqualsIgnoreCase: spec(eqIgnoreCase, 'equals (ignoring case)', 'does not equal (even ignoring case)', 'string'),
  StringNotEqualsIgnoreCase: spec(eqIgnoreCase, 'equals (ignoring case)', 'does not equal (even ignoring case)', 'string', true),
  StringLike: spec(like, 'matches', 'does not match', 'string'),
  StringNotLike: spec(like, 'matches', 'does not match', 'string', true),
  NumericEquals: spec(numeric(cmp.eq), 'equals', 'does not equal', 'number'),
  NumericNotEquals: spec(numeric(cmp.eq), 'equals', 'does not equal', 'number', true),
  NumericLessThan: spec(numeric(cmp.lt), 'is less than', 'is not less than', 'number'),
  NumericLessThanEquals: spec(numeric(cmp.le), 'is at most', 'is not at most', 'number'),
  NumericGreaterThan: spec(numeric(cmp.gt), 'is greater than', 'is not greater than', 'number'),
  NumericGreaterThanEquals: spec(numeric(cmp.ge), 'is at least', 'is not at least', 'number'),
  DateEquals: spec(dated(cmp.eq), 'is the same time as', 'is not the same time as', 'date'),
  DateNotEquals: spec(dated(cmp.eq), 'is the same time as', 'is not the same time as', 'date', true),
  DateLessThan: spec(dated(cmp.lt), 'is before', 'is not before', 'date'),
  DateLessThanEquals: spec(dated(cmp.le), 'is at or before', 'is after', 'date'),
  DateGreaterThan: spec(dated(cmp.gt), 'is after', 'is not after', 'date'),
  DateGreaterThanEquals: spec(dated(cmp.ge), 'is at or after', 'is before', 'date'),
  Bool: spec(bool, 'is', 'is not', 'boolean ("true" or "false")'),
  BinaryEquals: spec(eq, 'equals', 'does not equal', 'base64 string'),
  IpAddress: spec(ipMatch, 'is within', 'is not within', 'IP address or CIDR block'),
  NotIpAddress: spec(ipMatch, 'is within', 'is not within', 'IP address or CIDR block', true),
  ArnEquals: spec(arnMatch, 'matches', 'does not match', 'ARN'),
  ArnLike: spec(arnMatch, 'matches', 'does not match', 'ARN'),
  ArnNotEquals: spec(arnMatch, 'matches', 'does not match', 'ARN', true),
  ArnNotLike: spec(arnMatch, 'matches', 'does not match', 'ARN', true),
};

const CANONICAL = new Map([...Object.keys(SPECS), 'Null'].map((n) => [n.toLowerCase(), n]));

/**
 * Splits `ForAnyValue:`/`ForAllValues:` and `IfExists` off an operator name. Returns
 * undefined for unknown operators, and for `NullIfExists` ("You can add IfExists to the end
 * of any condition operator name except the Null condition"). Names are matched
 * case-insensitively and reported in canonical spelling.
 */
export function parseOperator(name: string): ParsedOperator | undefined {
  const m = /^(ForAnyValue|ForAllValues):(.+)$/i.exec(name);
  const qualifier = m ? (m[1]!.toLowerCase() === 'foranyvalue' ? 'ForAnyValue' : 'ForAllValues') : undefined;
  const rest = m ? m[2]! : name;
  const ifExists = /.IfExists$/i.test(rest);
  const base = CANONICAL.get((ifExists ? rest.slice(0, -'IfExists'.length) : rest).toLowerCase());
  if (base === undefined || (base === 'Null' && ifExists)) return undefined;
  return { name, base, qualifier, ifExists, negated: SPECS[base]?.negated ?? false };
}

/** Case-insensitive lookup of a condition key ("Condition key names are not case-sensitive"). */
export function lookupKey(
  keys: Readonly<Record<string, string | readonly string[] | undefined>>,
  key: string,
): readonly string[] | undefined {
  const wanted = key.toLowerCase();
  for (const [name, value] of Object.entries(keys)) {
    if (name.toLowerCase() === wanted && value !== undefined) return typeof value === 'string' ? [value] : value;
  }
  return undefined;
}

interface Verdict {
  value: string;
  ok: boolean;
  hits: string[];
  typeError: boolean;
}

/** One request value against all policy values: values are OR'ed, and NOR'ed for negated operators. */
function judge(s: Spec, expected: readonly string[], value: string): Verdict {
  const outcomes = expected.map((e) => s.test(e, value));
  const hits = expected.filter((_, i) => outcomes[i] === true);
  const ok = s.negated ? hits.length === 0 : hits.length > 0;
  return { value, ok, hits, typeError: outcomes.every((o) => o === undefined) };
}

/**
 * Evaluates one key of one operator block. `actual` is the request-context value(s);
 * undefined or an empty list means the key is absent from the request.
 */
export function evaluateCondition(
  operator: string,
  key: string,
  expected: readonly string[],
  actual: string | readonly string[] | undefined,
): ConditionResult {
  const values = typeof actual === 'string' ? [actual] : actual;
  const done = (passed: boolean, reason: string): ConditionResult =>
    ({ operator, key, expected, actual: values, passed, reason });
  const op = parseOperator(operator);
  if (op === undefined) return done(false, `"${operator}" is not an IAM condition operator, so this condition is never true`);
  if (op.base === 'Null') return done(...nullCheck(key, expected, values));
  if (values === undefined || values.length === 0) return done(...absent(op, key));
  const s = SPECS[op.base]!;
  const verdicts = values.map((v) => judge(s, expected, v));
  // ForAllValues: every request value must pass. A negated operator without a qualifier is
  // a NOR over everything, i.e. also "every value passes". Otherwise one passing value suffices.
  const every = op.qualifier === 'ForAllValues' || (op.qualifier === undefined && op.negated);
  const passed = every ? verdicts.every((v) => v.ok) : verdicts.some((v) => v.ok);
  return done(passed, explain(op, s, key, expected, verdicts, passed));
}

/** Null: "true" means the key must be absent, "false" that it must be present. */
function nullCheck(key: string, expected: readonly string[], values: readonly string[] | undefined): [boolean, string] {
  const isAbsent = values === undefined || values.length === 0;
  const wants = expected.map(parseBool);
  const bad = expected.find((_, i) => wants[i] === undefined);
  if (bad !== undefined) return [false, `Null expects "true" or "false" for ${key}, not "${bad}"`];
  const passed = wants.includes(isAbsent);
  const state = isAbsent ? 'is not in the request' : `is present (${list(values ?? [])})`;
  const rule = wants.length > 1 ? 'Null accepts both' : wants[0] ? 'Null "true" requires it to be absent' : 'Null "false" requires it to be present';
  return [passed, `${key} ${state}, and ${rule}`];
}

/** "If the key … is not present in the request context, the values do not match" — except
 *  that negated operators are then true, …IfExists is true, ForAllValues is (vacuously) true
 *  and ForAnyValue is false. */
function absent(op: ParsedOperator, key: string): [boolean, string] {
  const head = `${key} is not in the request, so ${op.name} is`;
  if (op.ifExists) return [true, `${head} true (…IfExists ignores a missing key)`];
  if (op.qualifier === 'ForAllValues') {
    return [true, `${head} true (ForAllValues over an empty set is vacuously true; add a Null check to require the key)`];
  }
  if (op.qualifier === 'ForAnyValue') return [false, `${head} false (ForAnyValue needs at least one value)`];
  if (op.negated) return [true, `${head} true (a negated operator is true when the key is absent)`];
  return [false, `${head} false (a missing key matches nothing)`];
}

function quote(v: string): string {
  return JSON.stringify(v);
}

function list(values: readonly string[]): string {
  return values.map(quote).join(', ');
}

function anyOf(expected: readonly string[]): string {
  return expected.length === 1 ? quote(expected[0]!) : `any of ${list(expected)}`;
}

/** The sentence for one request value, e.g. `k is "x", which does not match "y"`. */
function sentence(op: ParsedOperator, s: Spec, key: string, expected: readonly string[], v: Verdict): string {
  const head = `${key} is ${quote(v.value)}`;
  if (v.typeError) return `${head}, which cannot be compared with ${anyOf(expected)}: ${op.base} compares values of type ${s.kind}`;
  if (v.hits.length > 0) {
    const base = `${head}, which ${s.verb} ${quote(v.hits[0]!)}`;
    return s.negated ? `${base}, but ${op.base} requires that it match none of ${list(expected)}` : base;
  }
  return `${head}, which ${s.notVerb} ${anyOf(expected)}${s.negated ? '' : hint(op, s, expected, v.value)}`;
}

/** Explains the most common mistakes: wildcards under a literal operator, letter case. */
function hint(op: ParsedOperator, s: Spec, expected: readonly string[], value: string): string {
  const literal = op.base === 'StringEquals' || op.base === 'StringEqualsIgnoreCase';
  const wild = literal ? expected.map(wildcardIn).find((w) => w !== undefined) : undefined;
  if (wild !== undefined && expected.some((e) => globMatch(e, value, op.base !== 'StringEquals'))) {
    return `; ${op.base} compares literally: the value contains '${wild}', which only StringLike treats as a wildcard`;
  }
  if (wild !== undefined) return `; note that ${op.base} compares literally: '${wild}' is not a wildcard here`;
  const caseOnly = s.kind === 'string' && expected.some((e) => globMatch(e, value, true) || e.toLowerCase() === value.toLowerCase());
  if (caseOnly && !op.base.includes('IgnoreCase')) return '; condition values are case-sensitive and these differ only in letter case';
  return '';
}

function explain(
  op: ParsedOperator,
  s: Spec,
  key: string,
  expected: readonly string[],
  verdicts: readonly Verdict[],
  passed: boolean,
): string {
  const shown = verdicts.find((v) => v.ok === passed) ?? verdicts[0]!;
  const one = `${sentence(op, s, key, expected, shown)} (${op.name})`;
  if (verdicts.length === 1 && op.qualifier === undefined) return one;
  const all = `[${list(verdicts.map((v) => v.value))}]`;
  if (op.qualifier === 'ForAnyValue') {
    return passed ? `${one}; ForAnyValue needs only one of ${all}` : `no value of ${key} ${all} passes ${op.base} against ${anyOf(expected)} (${op.name})`;
  }
  if (op.qualifier === 'ForAllValues') {
    return passed ? `every value of ${key} ${all} passes ${op.base} against ${anyOf(expected)} (${op.name})` : `${one}; ForAllValues requires every value of ${all} to pass`;
  }
  return `${one}; ${key} has several values ${all}, and ${op.name} without ForAnyValue/ForAllValues ${op.negated ? 'requires all of them to pass' : 'needs one of them to match'}`;
}
