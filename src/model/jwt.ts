// JSON Web Token decoding without verification: hoist reads its own ID token's claims to
// explain what AWS saw (issuer, audience, subject), and never prints the token itself.

import { HoistError } from '../errors.ts';

export interface Jwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `header.payload`, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;

export function decodeJwt(token: string, source = 'token'): Jwt {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) {
    throw malformed(source, 'it is not three base64url segments separated by dots');
  }
  const [h, p, s] = parts as [string, string, string];
  return {
    header: decodeSegment(h, source, 'header'),
    claims: decodeSegment(p, source, 'payload'),
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

function decodeSegment(seg: string, source: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
  } catch {
    throw malformed(source, `its ${what} is not base64url-encoded JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(source, `its ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function malformed(source: string, why: string): HoistError {
  return new HoistError(`${source} is not a JWT: ${why}`, {
    code: 'token.malformed',
    hint: 'Pass the ID token GitLab issues through `id_tokens:` (a string starting with "eyJ").',
  });
}

/** `aud` may be a string or a list (RFC 7519 §4.1.3). */
export function audiences(claims: Record<string, unknown>): string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

export function numericClaim(claims: Record<string, unknown>, name: string): number | undefined {
  const v = claims[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
