// The sandbox's OIDC issuer: RS256 keys, discovery document, JWKS, and tokens with
// GitLab's ID-token claim set (GitLab docs, "OpenID Connect (OIDC) Authentication Using
// ID Tokens": sub = project_path:{group}/{project}:ref_type:{type}:ref:{ref}).

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { decodeJwt, type Jwt } from '../model/jwt.ts';
import type { SigningKey } from './world.ts';

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kid = randomUUID().replace(/-/g, '').slice(0, 22);
  return {
    kid,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    publicJwk: { kty: 'RSA', n: jwk.n!, e: jwk.e!, kid, use: 'sig', alg: 'RS256' },
  };
}

export function discoveryDocument(issuer: string, publicUrl: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${publicUrl}/oauth/discovery/keys`,
    authorization_endpoint: `${publicUrl}/oauth/authorize`,
    token_endpoint: `${publicUrl}/oauth/token`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public', 'pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'namespace_id', 'namespace_path',
      'project_id', 'project_path', 'ref', 'ref_type', 'ref_protected', 'pipeline_id', 'pipeline_source',
      'job_id', 'user_login', 'user_id', 'user_email'],
  };
}

export function jwks(keys: readonly SigningKey[]): { keys: Record<string, string>[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}

export function signJwt(key: SigningKey, claims: Record<string, unknown>): string {
  const header = { alg: 'RS256', typ: 'JWT', kid: key.kid };
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = sign('sha256', Buffer.from(input), createPrivateKey(key.privateKeyPem));
  return `${input}.${sig.toString('base64url')}`;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export type SignatureCheck = { ok: true; jwt: Jwt } | { ok: false; reason: string };

/** Verifies an RS256 signature against a JWKS. `alg: none` and HS* are refused. */
export function verifyJwtSignature(token: string, keys: readonly Record<string, string>[]): SignatureCheck {
  let jwt: Jwt;
  try {
    jwt = decodeJwt(token);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (jwt.header.alg !== 'RS256') return { ok: false, reason: `unsupported alg ${String(jwt.header.alg)}` };
  const candidates = keys.filter((k) => jwt.header.kid === undefined || k.kid === jwt.header.kid);
  for (const jwk of candidates) {
    const pub = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    if (verify('sha256', Buffer.from(jwt.signingInput), pub, jwt.signature)) return { ok: true, jwt };
  }
  return { ok: false, reason: 'signature' };
}

export interface TokenRequest {
  projectPath?: string;
  ref?: string;
  refType?: 'branch' | 'tag';
  aud?: string;
  expiresIn?: number;
  sub?: string;
  claims?: Record<string, unknown>;
}

/** A claim set shaped like GitLab's, with stable IDs derived from the project path. */
export function gitlabClaims(issuer: string, req: TokenRequest, nowSec: number): Record<string, unknown> {
  const projectPath = req.projectPath ?? 'mygroup/myrepo';
  const ref = req.ref ?? 'master';
  const refType = req.refType ?? 'branch';
  const namespacePath = projectPath.split('/').slice(0, -1).join('/');
  const ttl = req.expiresIn ?? 300;
  const base: Record<string, unknown> = {
    namespace_id: String(stableId(namespacePath)),
    namespace_path: namespacePath,
    project_id: String(stableId(projectPath)),
    project_path: projectPath,
    user_id: '42',
    user_login: 'hoist-sandbox',
    user_email: 'hoist-sandbox@example.com',
    user_access_level: 'maintainer',
    pipeline_id: String(1000 + (nowSec % 100000)),
    pipeline_source: 'push',
    job_id: String(5000 + (nowSec % 100000)),
    ref,
    ref_type: refType,
    ref_path: `refs/${refType === 'tag' ? 'tags' : 'heads'}/${ref}`,
    ref_protected: 'true',
    runner_id: 1,
    runner_environment: 'self-hosted',
    sha: '0'.repeat(40),
    project_visibility: 'private',
    ci_config_ref_uri: `gitlab.com/${projectPath}//.gitlab-ci.yml@refs/heads/${ref}`,
    jti: randomUUID(),
    iss: issuer,
    iat: nowSec,
    nbf: nowSec - 5,
    exp: nowSec + ttl,
    sub: req.sub ?? `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    aud: req.aud ?? 'sts.amazonaws.com',
  };
  return { ...base, ...req.claims };
}

function stableId(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) % 90_000_000;
  return 10_000_000 + h;
}
