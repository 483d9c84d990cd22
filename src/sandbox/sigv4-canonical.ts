// SigV4's canonical form ("Create a canonical request for Signature Version 4",
// "Create a string to sign", "Calculate the signature", IAM User Guide): the pieces both the
// sandbox's verifier and tests use to compute a signature the way AWS does.

import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const ALGORITHM = 'AWS4-HMAC-SHA256';

export function canonicalRequest(
  req: Pick<IncomingMessage, 'method' | 'rawHeaders'>,
  rawPath: string,
  query: [string, string][],
  presigned: boolean,
  signedHeaders: string[],
  payloadHash: string,
): string {
  return [
    req.method ?? 'GET',
    canonicalUri(rawPath),
    canonicalQuery(presigned ? query.filter(([k]) => k !== 'X-Amz-Signature') : query),
    canonicalHeaders(req.rawHeaders, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

/**
 * Non-S3 services: remove empty and dot segments, then URI-encode each segment of the path
 * as sent (which was already encoded once), i.e. encode twice.
 */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(uriEncode(seg));
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.join('/')}${trailing}`;
}

/** Names and values URI-encoded (RFC 3986 unreserved left alone), sorted by name then value. */
export function canonicalQuery(query: [string, string][]): string {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** `name:value\n` for each signed header: lowercase names, trimmed values with runs of spaces collapsed, repeats joined by commas. */
export function canonicalHeaders(rawHeaders: string[], signedHeaders: string[]): string {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    values.set(name, [...(values.get(name) ?? []), rawHeaders[i + 1]!.trim().replace(/\s+/g, ' ')]);
  }
  return signedHeaders.map((h) => `${h}:${(values.get(h) ?? []).join(',')}\n`).join('');
}

/** The scope's parts and the request time (ISO 8601 basic) the signature covers. */
export interface SigningScope {
  date: string;
  region: string;
  service: string;
  terminator: string;
  amzDate: string;
}

/** Hex HMAC of the string to sign with the key derived from the secret through date, region, service and terminator. */
export function computeSignature(secret: string, scope: SigningScope, canonical: string): string {
  const scopeText = `${scope.date}/${scope.region}/${scope.service}/${scope.terminator}`;
  const stringToSign = [ALGORITHM, scope.amzDate, scopeText, sha256Hex(canonical)].join('\n');
  let key: Buffer = hmac(`AWS4${secret}`, scope.date);
  for (const part of [scope.region, scope.service, scope.terminator]) key = hmac(key, part);
  return hmac(key, stringToSign).toString('hex');
}

/** Decoded name/value pairs in request order; `+` is taken literally, as AWS does. */
export function parseQuery(rawQuery: string): [string, string][] {
  return rawQuery.split('&').filter((p) => p !== '').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [safeDecode(pair), ''] : [safeDecode(pair.slice(0, eq)), safeDecode(pair.slice(eq + 1))];
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
