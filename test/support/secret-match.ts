// Pure part of the secret scan (issue 6): which secrets a sandbox issued, and where in a text
// any of them appears. No I/O here, so test/secret-scan.test.ts can prove it finds what it must.
//
// Cost: the scan must stay cheap with thousands of secrets and megabytes of text, so it never
// runs one substring search per secret. Every secret is indexed by each W-character window of
// its random part (a session token's fixed prefix, a JWT's header and claims, a PEM's armour
// are not secret); any run of 2W-1 or more of those characters in a text covers one window
// that starts at a multiple of W, so one Map lookup per W characters of text finds it. That
// finds the whole secret and also a fragment of it (a truncated key in an error message).

import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { verifyJwtSignature } from '../../src/sandbox/oidc.ts';
import type { WorldState } from '../../src/sandbox/world.ts';

export interface Secret {
  value: string;
  /** What it is, for the report: "ID token", "session token", ... never the value. */
  kind: string;
}

/** Everything one scan looks for. */
export interface Harvest {
  secrets: Secret[];
  /** Hex SHA-256 of ECR passwords: the sandbox stores only these (world.ts ecrTokens). */
  ecrPasswordHashes: string[];
  /** Public keys of the sandboxes' issuers: any JWT they signed is an ID token. */
  jwks: Record<string, string>[];
}

export interface Leak {
  where: string;
  kind: string;
  /** First 4 characters and a SHA-256 prefix: enough to tell secrets apart, useless to an attacker. */
  fingerprint: string;
}

/** Shorter strings are too likely to occur by chance (and no issued secret is this short). */
export const MIN_SECRET_LENGTH = 8;
const W = 16;
const ECR_PASSWORD_LENGTH = 128; // base64 of 96 random bytes (src/sandbox/ecr.ts)
const BASE64_RUN = /[A-Za-z0-9+/]{128,}={0,2}/g;
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;
/** Sliding a 128-character window over longer base64 runs costs one hash per character: bounded. */
const MAX_SLIDING_RUN = 4096;

export const sha256hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export function fingerprint(secret: string): string {
  return `${secret.slice(0, 4)}…#${sha256hex(secret).slice(0, 10)}`;
}

export function emptyHarvest(): Harvest {
  return { secrets: [], ecrPasswordHashes: [], jwks: [] };
}

/** The secrets a sandbox's state holds: root and STS keys, session tokens, issuer keys, ECR password hashes. */
export function harvestWorld(state: WorldState): Harvest {
  const secrets: Secret[] = [{ value: state.rootUser.secretAccessKey, kind: 'root secret access key' }];
  for (const s of Object.values(state.sessions ?? {})) {
    secrets.push({ value: s.secretAccessKey, kind: 'STS secret access key' });
    if (s.sessionToken) secrets.push({ value: s.sessionToken, kind: 'STS session token' });
  }
  for (const k of state.signingKeys ?? []) secrets.push({ value: k.privateKeyPem, kind: 'issuer private key' });
  return {
    secrets,
    ecrPasswordHashes: Object.keys(state.ecrTokens ?? {}),
    jwks: (state.signingKeys ?? []).map((k) => k.publicJwk),
  };
}

/** Strings that might be an ECR password: bare, or inside base64("AWS:<password>") (docker's auth, Basic headers). */
export function ecrPasswordCandidates(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(BASE64_RUN)) {
    const run = m[0];
    if (run.startsWith('QVdTO')) { // base64 of "AWS:" then anything
      const decoded = Buffer.from(run, 'base64').toString('latin1');
      if (decoded.startsWith('AWS:')) out.push(decoded.slice(4, 4 + ECR_PASSWORD_LENGTH));
    }
    const bare = run.replace(/=+$/, '');
    if (bare.length > MAX_SLIDING_RUN) continue;
    for (let i = 0; i + ECR_PASSWORD_LENGTH <= bare.length; i++) out.push(bare.slice(i, i + ECR_PASSWORD_LENGTH));
  }
  return out;
}

/** A secret as it may also appear: URL-encoded (presigned URLs, query strings). */
function variants(s: Secret): Secret[] {
  const url = encodeURIComponent(s.value);
  return url === s.value ? [s] : [s, { value: url, kind: `${s.kind} (URL-encoded)` }];
}

interface WindowHit {
  secret: Secret;
  offset: number;
}

/**
 * Fragments shorter than this are not reported (20 base64 characters are 120 random bits). A
 * fragment of 2W-1 = 31 characters or more is always found; 20 to 30 when a window aligns.
 */
export const MIN_FRAGMENT = 20;
const SESSION_TOKEN_PREFIX = 'IQoJb3JpZ2luX2VjE'; // ids.sessionToken(): fixed, then random

function nthNewline(value: string, n: number): number {
  let at = -1;
  for (let i = 0; i < n; i++) at = value.indexOf('\n', at + 1);
  return at;
}

/** [start, end) of the part of a secret that is random material. */
export function randomSpan(value: string): [number, number] {
  if (value.startsWith(SESSION_TOKEN_PREFIX)) return [SESSION_TOKEN_PREFIX.length, value.length];
  // A PEM body opens with DER structure every key of its type shares (PKCS#8 RSA-2048: sequence
  // lengths, version, the rsaEncryption OID): an openssl test key matched the issuer key's first
  // line. Two whole 64-character lines are skipped; the rest is the key's random material.
  if (value.startsWith('-----BEGIN')) return [nthNewline(value, 3) + 1, Math.max(0, value.lastIndexOf('\n-----END'))];
  if (/^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(value)) return [value.lastIndexOf('.') + 1, value.length];
  return [0, value.length];
}

function windowIndex(secrets: readonly Secret[]): { windows: Map<string, WindowHit[]>; short: Secret[] } {
  const windows = new Map<string, WindowHit[]>();
  const short: Secret[] = [];
  for (const secret of secrets) {
    const [from, to] = randomSpan(secret.value);
    if (to - from < 2 * W - 1) {
      short.push(secret);
      continue;
    }
    for (let offset = from; offset + W <= to; offset++) {
      const key = secret.value.slice(offset, offset + W);
      const list = windows.get(key);
      if (list) list.push({ secret, offset });
      else windows.set(key, [{ secret, offset }]);
    }
  }
  return { windows, short };
}

/** Length of the run of `secret` around the window match at text[p] = secret[offset]. */
function matchedRun(text: string, p: number, secret: string, offset: number): { start: number; length: number } {
  let left = 0;
  while (offset - left > 0 && p - left > 0 && text[p - left - 1] === secret[offset - left - 1]) left++;
  let right = W;
  while (offset + right < secret.length && p + right < text.length && text[p + right] === secret[offset + right]) right++;
  return { start: offset - left, length: left + right };
}

/** A secret found in a text: `secret` is the whole value (for the fingerprint), `text` what the text holds of it. */
export interface Found {
  kind: string;
  secret: string;
  text: string;
}

/** Per secret, the best find: the whole of it (in any form) over the longest fragment. */
class Finds {
  private readonly byOrigin = new Map<string, Found & { whole: boolean }>();
  add(origin: string, f: Found, whole: boolean): void {
    const prev = this.byOrigin.get(origin);
    if (prev && (prev.whole || (!whole && prev.text.length >= f.text.length))) return;
    this.byOrigin.set(origin, { ...f, whole });
  }
  has(origin: string): boolean {
    return this.byOrigin.get(origin)?.whole === true;
  }
  list(): Found[] {
    return [...this.byOrigin.values()].map(({ kind, secret, text }) => ({ kind, secret, text }));
  }
}

/** A function that lists the secrets in a text: indexed ones (whole or fragments), ECR passwords by hash, JWTs by signature. */
export function secretMatcher(h: Harvest): (text: string) => Found[] {
  const unique = new Map<string, Secret & { origin: string }>();
  for (const s of h.secrets) {
    if (s.value.length < MIN_SECRET_LENGTH) continue;
    for (const v of variants(s)) unique.set(v.value, { ...v, origin: s.value });
  }
  const { windows, short } = windowIndex([...unique.values()]);
  const originOf = (value: string) => unique.get(value)?.origin ?? value;
  const ecr = new Set(h.ecrPasswordHashes);
  const signed = new Map<string, boolean>();
  const isSigned = (jwt: string): boolean => {
    let ok = signed.get(jwt);
    if (ok === undefined) signed.set(jwt, (ok = verifyJwtSignature(jwt, h.jwks).ok));
    return ok;
  };
  return (text) => {
    const finds = new Finds();
    for (let p = 0; p + W <= text.length; p += W) {
      for (const { secret, offset } of windows.get(text.slice(p, p + W)) ?? []) {
        const origin = originOf(secret.value);
        if (finds.has(origin)) continue;
        const run = matchedRun(text, p, secret.value, offset);
        const whole = run.length === secret.value.length;
        if (!whole && run.length < MIN_FRAGMENT) continue;
        const kind = whole ? secret.kind : `${secret.kind} (${run.length} of its ${secret.value.length} characters)`;
        finds.add(origin, { kind, secret: origin, text: secret.value.slice(run.start, run.start + run.length) }, whole);
      }
    }
    for (const s of short) if (text.includes(s.value)) finds.add(originOf(s.value), { kind: s.kind, secret: originOf(s.value), text: s.value }, true);
    if (ecr.size > 0) {
      for (const c of ecrPasswordCandidates(text)) if (ecr.has(sha256hex(c))) finds.add(c, { kind: 'ECR password', secret: c, text: c }, true);
    }
    if (h.jwks.length > 0) {
      for (const [jwt] of text.matchAll(JWT)) {
        if (!finds.has(jwt) && isSigned(jwt)) finds.add(jwt, { kind: 'ID token (signed by a sandbox issuer)', secret: jwt, text: jwt }, true);
      }
    }
    return finds.list();
  };
}

/** Every secret of `h` found in each scanned text, as leaks (fingerprints, never values). */
export function findLeaks(h: Harvest, texts: Iterable<{ where: string; text: string }>): Leak[] {
  const match = secretMatcher(h);
  const leaks: Leak[] = [];
  for (const { where, text } of texts) for (const f of match(text)) leaks.push({ where, kind: f.kind, fingerprint: fingerprint(f.secret) });
  return leaks;
}

/** `text` with every known secret replaced by its fingerprint (for labels made of argv). */
export function redact(text: string, h: Harvest): string {
  let out = text;
  for (const f of secretMatcher(h)(text)) out = out.split(f.text).join(`<${f.kind} ${fingerprint(f.secret)}>`);
  return out;
}

// ---- commands whose stdout is a secret by design ------------------------------------

/** Commands whose stdout is a secret by design (their stderr is still scanned). */
export const BY_DESIGN_STDOUT: { argv: string[]; unless?: string; reason: string }[] = [
  { argv: ['sandbox', 'token'], reason: 'hoist sandbox token prints an ID token' },
  { argv: ['credentials'], unless: '--token-file', reason: 'hoist credentials prints STS credentials' },
  { argv: ['login', '--print-password'], reason: 'hoist login --print-password prints the ECR password' },
  { argv: ['get'], reason: 'a docker credential helper answers `get` with the password' },
  { argv: ['credential-helper', 'get'], reason: 'hoist credential-helper get answers with the ECR password' },
  { argv: ['ecr', 'get-login-password'], reason: 'aws ecr get-login-password prints the ECR password' },
  { argv: ['ecr', 'get-authorization-token'], reason: 'aws ecr get-authorization-token prints the ECR token' },
  { argv: ['sts', 'assume-role-with-web-identity'], reason: 'aws sts assume-role-with-web-identity prints STS credentials' },
  { argv: ['sts', 'assume-role'], reason: 'aws sts assume-role prints STS credentials' },
  { argv: ['sts', 'get-session-token'], reason: 'aws sts get-session-token prints STS credentials' },
  { argv: ['configure', 'export-credentials'], reason: 'aws configure export-credentials prints credentials' },
];

/** Why this command's stdout may hold a secret, or undefined. `argv` words must be adjacent, in order. */
export function byDesignStdout(cmd: string, args: readonly string[]): string | undefined {
  const words = isHoist(cmd, args) ? args.slice(1) : isCredentialHelper(cmd, args) ? args.slice(args[0]?.endsWith('.js') ? 1 : 0) : args;
  for (const rule of BY_DESIGN_STDOUT) {
    if (rule.argv[0] === 'get' && !isCredentialHelper(cmd, args)) continue;
    if (rule.unless && words.includes(rule.unless)) continue;
    if (containsRun(words, rule.argv)) return rule.reason;
  }
  return undefined;
}

const isHoist = (cmd: string, args: readonly string[]) => cmd === process.execPath && basename(args[0] ?? '') === 'hoist.js';
const isCredentialHelper = (cmd: string, args: readonly string[]) =>
  /docker-credential-/.test(basename(cmd)) || /docker-credential-[\w.-]+$/.test(args[0] ?? '');

function containsRun(words: readonly string[], run: readonly string[]): boolean {
  for (let i = 0; i + run.length <= words.length; i++) if (run.every((w, j) => words[i + j] === w)) return true;
  return false;
}

/** A short label for a command (node dist/hoist.js push → hoist push). */
export function commandLabel(cmd: string, args: readonly string[]): string {
  const words = isHoist(cmd, args) ? ['hoist', ...args.slice(1)] : [basename(cmd), ...args];
  const text = words.join(' ');
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
