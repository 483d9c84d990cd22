// Query-protocol parameters (STS, IAM) and AWS's input validation errors: "1 validation error
// detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must …"
// (the AWS Query API "Common Errors": ValidationError, 400).

import { AwsFault } from './protocol.ts';

/** Collects constraint violations and throws them together, as AWS's front end does. */
export class Validator {
  private readonly violations: string[] = [];

  constructor(private readonly params: URLSearchParams) {}

  /** A required string; records "Member must not be null" when absent. */
  required(name: string, field = lowerFirst(name)): string {
    const v = this.params.get(name);
    if (v === null) this.violations.push(`Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return v ?? '';
  }

  optional(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  /** Length bounds and an optional pattern (matched against the whole value). */
  text(value: string | undefined, field: string, min: number, max: number, pattern?: RegExp, patternText?: string): void {
    if (value === undefined) return;
    if (value.length < min) this.fail(value, field, `Member must have length greater than or equal to ${min}`);
    if (value.length > max) this.fail(value, field, `Member must have length less than or equal to ${max}`);
    if (pattern && !new RegExp(`^(?:${pattern.source})$`, pattern.flags).test(value)) {
      this.fail(value, field, `Member must satisfy regular expression pattern: ${patternText ?? pattern.source}`);
    }
  }

  /** Length bounds for a secret (a web identity token): the value is never echoed back. */
  sensitiveText(value: string | undefined, field: string, min: number, max: number): void {
    if (value === undefined) return;
    const shown = '*** Sensitive Data Redacted ***';
    if (value.length < min) this.fail(shown, field, `Member must have length greater than or equal to ${min}`);
    if (value.length > max) this.fail(shown, field, `Member must have length less than or equal to ${max}`);
  }

  /** An optional integer within bounds; undefined when absent. */
  integer(name: string, field: string, min: number, max: number): number | undefined {
    const raw = this.params.get(name);
    if (raw === null) return undefined;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
      this.fail(raw, field, 'Member must be an integer');
      return undefined;
    }
    if (n < min) this.fail(raw, field, `Member must have value greater than or equal to ${min}`);
    if (n > max) this.fail(raw, field, `Member must have value less than or equal to ${max}`);
    return n;
  }

  fail(value: string, field: string, constraint: string): void {
    this.violations.push(`Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`);
  }

  /** Throws ValidationError listing every violation, if there is any. */
  done(): void {
    const n = this.violations.length;
    if (n === 0) return;
    throw validationError(`${n} validation error${n === 1 ? '' : 's'} detected: ${this.violations.join('; ')}`);
  }
}

export function validationError(message: string): AwsFault {
  return new AwsFault('ValidationError', message, 400);
}

/** `Prefix.member.1`, `Prefix.member.2`, … in index order. */
export function memberList(params: URLSearchParams, prefix: string): string[] {
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.member\\.(\\d+)$`);
  const items: [number, string][] = [];
  for (const [k, v] of params) {
    const m = re.exec(k);
    if (m) items.push([Number(m[1]), v]);
  }
  return items.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `ContextEntries.member.N.ContextKeyName` style lists of structures. */
export function memberStructs(params: URLSearchParams, prefix: string): Record<string, string>[] {
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.member\\.(\\d+)\\.(.+)$`);
  const items = new Map<number, Record<string, string>>();
  for (const [k, v] of params) {
    const m = re.exec(k);
    if (!m) continue;
    const entry = items.get(Number(m[1])) ?? {};
    entry[m[2]!] = v;
    items.set(Number(m[1]), entry);
  }
  return [...items.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** A boolean parameter as the Query protocol sends it ("true"/"false"). */
export function boolParam(params: URLSearchParams, name: string): boolean | undefined {
  const v = params.get(name);
  return v === null ? undefined : v.toLowerCase() === 'true';
}

/**
 * Marker/MaxItems pagination ("Using pagination parameters", IAM API reference): the marker
 * is opaque to clients; here it is the base64 of the next offset.
 */
export function paginate<T>(items: T[], params: URLSearchParams): { page: T[]; IsTruncated: boolean; Marker?: string } {
  const marker = params.get('Marker');
  const start = marker ? Number(Buffer.from(marker, 'base64').toString('utf8')) || 0 : 0;
  const maxRaw = Number(params.get('MaxItems') ?? '100');
  const max = Number.isInteger(maxRaw) && maxRaw >= 1 ? Math.min(maxRaw, 1000) : 100;
  const page = items.slice(start, start + max);
  const more = start + max < items.length;
  return { page, IsTruncated: more, ...(more ? { Marker: Buffer.from(String(start + max)).toString('base64') } : {}) };
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
