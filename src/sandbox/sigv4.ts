// AWS Signature Version 4 verification, as AWS does it ("Create a signed AWS API request",
// "Elements of an AWS API request signature", IAM User Guide): canonical request, string to
// sign, derived signing key, constant-time comparison. Both the Authorization-header form and
// the presigned query-string form are accepted. Faults use the words of the service family:
// Query services (STS, IAM) answer 403 InvalidClientTokenId / SignatureDoesNotMatch /
// ExpiredToken, JSON services (ECR) 400 UnrecognizedClientException / InvalidSignatureException /
// ExpiredTokenException.

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AwsFault, ExpiredCredentialsFault } from './protocol.ts';
import { ALGORITHM, canonicalRequest, computeSignature, parseQuery, sha256Hex } from './sigv4-canonical.ts';
import type { World } from './state.ts';
import { rootPrincipal, type Session } from './world.ts';

const UNSIGNED = 'UNSIGNED-PAYLOAD';
/** AWS refuses requests signed more than 15 minutes before or after its own clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const QUERY_SERVICES = new Set(['sts', 'iam']);

export interface VerifiedRequest {
  session: Session;
  service: string;
  region: string;
}

/** What the client claims: the parts of the Authorization header (or of the presigned query). */
interface SignatureClaim {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  securityToken: string | undefined;
  /** Presigned URLs only: validity in seconds from amzDate. */
  expires: number | undefined;
}

type FaultKind = 'unknownKey' | 'badSignature' | 'expired' | 'incomplete';

const FAULTS: Record<'query' | 'json', Record<FaultKind, [code: string, status: number]>> = {
  query: {
    unknownKey: ['InvalidClientTokenId', 403],
    badSignature: ['SignatureDoesNotMatch', 403],
    expired: ['ExpiredToken', 403],
    incomplete: ['IncompleteSignature', 400],
  },
  json: {
    unknownKey: ['UnrecognizedClientException', 400],
    badSignature: ['InvalidSignatureException', 400],
    expired: ['ExpiredTokenException', 400],
    incomplete: ['IncompleteSignatureException', 400],
  },
};

export const MESSAGES = {
  unknownKey: 'The security token included in the request is invalid.',
  badSignature: 'The request signature we calculated does not match the signature you provided. ' +
    'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  expired: 'The security token included in the request is expired',
  incomplete: 'The request signature is incomplete.',
} as const;

/**
 * Verifies the request's SigV4 signature against the credentials the sandbox issued (root keys
 * or STS sessions) and returns the caller. Throws AwsFault worded as AWS words it.
 */
export function verifySigV4(world: World, req: IncomingMessage, body: Buffer): VerifiedRequest {
  const family = typeof req.headers['x-amz-target'] === 'string' ? 'json' : 'query';
  const fail = (kind: FaultKind, message: string = MESSAGES[kind]): AwsFault => {
    const [code, status] = FAULTS[family][kind];
    return kind === 'expired' ? new ExpiredCredentialsFault(code, message, status) : new AwsFault(code, message, status);
  };
  const { rawPath, rawQuery } = splitUrl(req.url ?? '/');
  const query = parseQuery(rawQuery);
  const presigned = req.headers.authorization === undefined && query.some(([k]) => k === 'X-Amz-Signature');
  const claim = presigned ? claimFromQuery(query, fail) : claimFromHeaders(req, fail);
  checkScope(claim, family, fail);
  const session = lookupSession(world, claim, fail);
  checkTime(claim, fail);
  const payloadHash = payloadHashOf(req, body, fail);
  const canonical = canonicalRequest(req, rawPath, query, presigned, claim.signedHeaders, payloadHash);
  const expected = computeSignature(session.secretAccessKey, claim, canonical);
  if (!constantTimeEqual(expected, claim.signature.toLowerCase())) throw fail('badSignature');
  return { session, service: claim.service, region: claim.region };
}

// ---- the claim --------------------------------------------------------------------------

type Fail = (kind: FaultKind, message?: string) => AwsFault;

function claimFromHeaders(req: IncomingMessage, fail: Fail): SignatureClaim {
  const auth = String(req.headers.authorization ?? '');
  const space = auth.indexOf(' ');
  const algorithm = space < 0 ? auth : auth.slice(0, space);
  if (algorithm !== ALGORITHM) throw fail('incomplete', `Unsupported AWS 'algorithm': '${algorithm}'`);
  const parts = new Map<string, string>();
  for (const item of auth.slice(space + 1).split(',')) {
    const eq = item.indexOf('=');
    if (eq > 0) parts.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((k) => !parts.get(k));
  if (missing.length > 0) {
    throw fail('incomplete', missing.map((k) => `Authorization header requires '${k}' parameter.`).join(' '));
  }
  return {
    ...parseCredential(parts.get('Credential')!, fail),
    signedHeaders: parts.get('SignedHeaders')!.split(';'),
    signature: parts.get('Signature')!,
    amzDate: requestDate(req, fail),
    securityToken: headerValue(req, 'x-amz-security-token'),
    expires: undefined,
  };
}

function claimFromQuery(query: [string, string][], fail: Fail): SignatureClaim {
  const get = (k: string): string | undefined => query.find(([name]) => name === k)?.[1];
  if (get('X-Amz-Algorithm') !== ALGORITHM) {
    throw fail('incomplete', `Unsupported AWS 'algorithm': '${get('X-Amz-Algorithm') ?? ''}'`);
  }
  const missing = ['X-Amz-Credential', 'X-Amz-SignedHeaders', 'X-Amz-Date'].filter((k) => !get(k));
  if (missing.length > 0) {
    throw fail('incomplete', missing.map((k) => `AWS query-string parameters must include '${k}'.`).join(' '));
  }
  const expires = Number(get('X-Amz-Expires') ?? '900');
  if (!Number.isInteger(expires) || expires < 1 || expires > 604800) {
    throw fail('incomplete', 'X-Amz-Expires must be an integer between 1 and 604800 seconds');
  }
  return {
    ...parseCredential(get('X-Amz-Credential')!, fail),
    signedHeaders: get('X-Amz-SignedHeaders')!.split(';'),
    signature: get('X-Amz-Signature') ?? '',
    amzDate: basicDate(get('X-Amz-Date')!, fail),
    securityToken: get('X-Amz-Security-Token'),
    expires,
  };
}

/** `AKID/20240101/ap-south-1/sts/aws4_request`. */
function parseCredential(credential: string, fail: Fail): Pick<SignatureClaim, 'accessKeyId' | 'date' | 'region' | 'service' | 'terminator'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw fail('incomplete', `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  return { accessKeyId, date, region, service, terminator };
}

/** X-Amz-Date (ISO 8601 basic) or, failing that, the HTTP Date header. */
function requestDate(req: IncomingMessage, fail: Fail): string {
  const amz = headerValue(req, 'x-amz-date');
  if (amz !== undefined) return basicDate(amz, fail);
  const http = headerValue(req, 'date');
  const ms = http === undefined ? NaN : Date.parse(http);
  if (Number.isNaN(ms)) {
    throw fail('incomplete', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  return toBasic(ms);
}

function basicDate(value: string, fail: Fail): string {
  if (!/^\d{8}T\d{6}Z$/.test(value)) throw fail('incomplete', `Invalid X-Amz-Date '${value}': expected YYYYMMDD'T'HHMMSS'Z'`);
  return value;
}

// ---- scope, credentials, clock ------------------------------------------------------

function checkScope(claim: SignatureClaim, family: 'query' | 'json', fail: Fail): void {
  if (!claim.signedHeaders.includes('host')) {
    throw fail('incomplete', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (claim.terminator !== 'aws4_request') {
    throw fail('badSignature', `Credential should be scoped with a valid terminator: 'aws4_request', not '${claim.terminator}'.`);
  }
  if (family === 'json' ? claim.service !== 'ecr' : !QUERY_SERVICES.has(claim.service)) {
    throw fail('badSignature', `Credential should be scoped to correct service: '${family === 'json' ? 'ecr' : 'sts'}'. `);
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(claim.region)) {
    throw fail('badSignature', `Credential should be scoped to a valid region, not '${claim.region}'. `);
  }
  if (claim.amzDate.slice(0, 8) !== claim.date) {
    throw fail('badSignature', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ` +
      `'${claim.date}' != '${claim.amzDate.slice(0, 8)}', from '${claim.amzDate}'.`);
  }
}

/**
 * The root user's long-term keys, or a session STS issued. Temporary keys need their session
 * token; long-term keys must not present one.
 */
function lookupSession(world: World, claim: SignatureClaim, fail: Fail): Session {
  const state = world.state;
  const session: Session | undefined = claim.accessKeyId === state.rootUser.accessKeyId
    ? { accessKeyId: state.rootUser.accessKeyId, secretAccessKey: state.rootUser.secretAccessKey, principal: rootPrincipal(state) }
    : state.sessions[claim.accessKeyId];
  if (!session) throw fail('unknownKey');
  const tokenOk = session.sessionToken === undefined
    ? claim.securityToken === undefined
    : claim.securityToken !== undefined && constantTimeEqual(claim.securityToken, session.sessionToken);
  if (!tokenOk) throw fail('unknownKey');
  if (session.expiresAt !== undefined && world.now() >= session.expiresAt) throw fail('expired');
  return session;
}

/**
 * The signing time must be within 15 minutes of the server's clock. The wall clock is used,
 * not `world.now()`: clients sign with the wall clock, and the SDKs correct their skew from
 * the HTTP Date header, which Node also takes from the wall clock. Tests that move the world
 * clock (to expire sessions) therefore still get through the skew check.
 */
function checkTime(claim: SignatureClaim, fail: Fail): void {
  const signedAt = fromBasic(claim.amzDate);
  const now = Date.now();
  if (claim.expires !== undefined) {
    if (now > signedAt + claim.expires * 1000) {
      throw fail('badSignature', `Signature expired: ${claim.amzDate} is now earlier than ${toBasic(now - claim.expires * 1000)} ` +
        `(${toBasic(now)} - ${claim.expires} sec.)`);
    }
  } else if (signedAt < now - MAX_SKEW_MS) {
    throw fail('badSignature', `Signature expired: ${claim.amzDate} is now earlier than ${toBasic(now - MAX_SKEW_MS)} ` +
      `(${toBasic(now)} - 15 min.)`);
  }
  if (signedAt > now + MAX_SKEW_MS) {
    throw fail('badSignature', `Signature not yet current: ${claim.amzDate} is still later than ${toBasic(now + MAX_SKEW_MS)} ` +
      `(${toBasic(now)} + 15 min.)`);
  }
}

/**
 * `x-amz-content-sha256` when the client sent it (UNSIGNED-PAYLOAD, or a hash that must be the
 * body's), else the SHA-256 of the body.
 */
function payloadHashOf(req: IncomingMessage, body: Buffer, fail: Fail): string {
  const bodyHash = sha256Hex(body);
  const declared = headerValue(req, 'x-amz-content-sha256');
  if (declared === undefined) return bodyHash;
  if (declared === UNSIGNED) return declared;
  if (/^[0-9a-f]{64}$/.test(declared)) {
    if (declared !== bodyHash) throw fail('badSignature', 'The provided x-amz-content-sha256 header does not match what was computed.');
    return declared;
  }
  throw fail('incomplete', `Unsupported x-amz-content-sha256 value '${declared}'`);
}

// ---- small helpers ---------------------------------------------------------------------

function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function fromBasic(basic: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(basic)!;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function toBasic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
}
