// Value matchers shared by condition operators and by Action/Resource matching.
// Pure functions: each takes the policy's value first and the request's value second,
// and answers `undefined` when a value is not of the type the operator compares.

import { BlockList, isIP } from 'node:net';

/**
 * IAM wildcard match: `*` matches any run of characters (including none, and including
 * `/` and `:`), `?` matches exactly one character ("IAM JSON policy elements: Condition
 * operators", StringLike; "IAM JSON policy elements: Action/Resource"). Linear-time
 * backtracking on the last `*`, so hostile patterns cannot blow up.
 */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = Array.from(ignoreCase ? pattern.toLowerCase() : pattern);
  const v = Array.from(ignoreCase ? value.toLowerCase() : value);
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    const c = p[pi];
    if (c === '*') {
      star = pi++;
      mark = vi;
    } else if (c !== undefined && (c === '?' || c === v[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

/** The first IAM wildcard character in a string, if any. */
export function wildcardIn(value: string): '*' | '?' | undefined {
  if (value.includes('*')) return '*';
  return value.includes('?') ? '?' : undefined;
}

/** Splits an ARN into its six colon-delimited components; the resource keeps its own colons. */
export function splitArn(value: string): string[] | undefined {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/**
 * ArnEquals / ArnLike: "Each of the six colon-delimited components of the ARN is checked
 * separately and each can include multi-character match wildcards (*) or single-character
 * match wildcards (?)" — the two operators behave identically. Case-sensitive.
 */
export function arnMatch(pattern: string, value: string): boolean | undefined {
  const want = splitArn(pattern);
  const have = splitArn(value);
  if (want === undefined || have === undefined) return undefined;
  return want.every((part, i) => globMatch(part, have[i] ?? ''));
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Numeric condition operators compare numbers written as strings (or JSON numbers). */
export function parseNumber(value: string): number | undefined {
  const text = value.trim();
  return NUMBER.test(text) ? Number(text) : undefined;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const EPOCH = /^-?\d+(\.\d+)?$/;

/**
 * Date condition operators accept "the W3C implementations of the ISO 8601 date formats"
 * or epoch (UNIX) time in seconds. A date-time without an offset is read as UTC.
 * Returns milliseconds since the epoch.
 */
export function parseDate(value: string): number | undefined {
  const text = value.trim();
  if (EPOCH.test(text)) return Number(text) * 1000;
  if (!ISO_DATE.test(text)) return undefined;
  const zoned = /T/i.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(text.slice(11)) ? `${text}Z` : text;
  const ms = Date.parse(zoned.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** Bool compares "true"/"false"; letter case of the words is not significant. */
export function parseBool(value: string): boolean | undefined {
  const text = value.trim().toLowerCase();
  if (text === 'true') return true;
  return text === 'false' ? false : undefined;
}

/**
 * IpAddress: the policy value is an address or a CIDR block (RFC 4632); a bare address
 * means a single host. IPv4 and IPv6 are both supported.
 */
export function ipMatch(cidr: string, address: string): boolean | undefined {
  const [net = '', bits, extra] = cidr.trim().split('/');
  const family = isIP(net);
  const addressFamily = isIP(address.trim());
  if (family === 0 || addressFamily === 0 || extra !== undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || bits === '') return undefined;
  if (family !== addressFamily) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return list.check(address.trim(), type);
}
