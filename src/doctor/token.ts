// Checklist item 1b: the ID token. Decoded locally (never printed): present, a JWT, not the
// removed CI_JOB_JWT / CI_JOB_JWT_V2, unexpired, with the audience the IAM OIDC provider lists.

import { isHoistError, type Problem } from '../errors.ts';
import { audiences, decodeJwt, numericClaim } from '../model/jwt.ts';
import { type Check, fail, pass, STS_AUDIENCE, warn } from './check.ts';

export interface TokenInput {
  /** The raw token: decoded here and never shown. */
  token?: string;
  /** Claims given directly (`--token-claims`), when there is no token. */
  claims?: Record<string, unknown>;
  /** Where the token came from, e.g. `AWS_ID_TOKEN (environment)`. */
  source: string;
  /** Configuration problems about the token source (unset variable, CI_JOB_JWT_V2, …). */
  problems: readonly Problem[];
  /** Client IDs of the IAM OIDC provider when known, else STS's default audience. */
  audiences?: readonly string[];
  audienceSource?: string;
  nowMs: number;
}

export interface TokenVerdict {
  check: Check;
  claims?: Record<string, unknown>;
  /** The `aud` STS would match against the provider's client IDs. */
  audience?: string;
}

const SHOWN = ['iss', 'sub', 'project_path', 'project_id', 'namespace_id', 'ref_type', 'ref', 'ref_protected'];

/** Claims safe to print, as `key=value`. */
export function claimEvidence(claims: Record<string, unknown>): string[] {
  const out = SHOWN.filter((k) => claims[k] !== undefined && claims[k] !== '').map((k) => `${k}=${String(claims[k])}`);
  out.splice(1, 0, `aud=${audiences(claims).join(',') || '(none)'}`);
  const exp = numericClaim(claims, 'exp');
  if (exp !== undefined) out.push(`exp=${new Date(exp * 1000).toISOString()}`);
  return out;
}

const ID_TOKENS = (aud: string) => `declare the token in the job:\n  id_tokens:\n    AWS_ID_TOKEN:\n      aud: ${aud}`;

export function checkToken(input: TokenInput): TokenVerdict {
  const expected = input.audiences && input.audiences.length > 0 ? input.audiences : [STS_AUDIENCE];
  if (input.problems.length > 0) return { check: fromProblems(input.problems, expected[0]!) };
  const decoded = decode(input);
  if ('check' in decoded) return decoded;
  const claims = decoded.claims;
  const evidence = [`token from ${input.source}`, ...claimEvidence(claims)];
  const problem = validity(claims, input.nowMs) ?? audienceProblem(claims, expected, input.audienceSource);
  const audience = audiences(claims).find((a) => expected.includes(a)) ?? audiences(claims)[0];
  if (problem) return { check: fail('token', [...evidence, problem.why], problem.fix), claims, ...(audience ? { audience } : {}) };
  const exp = numericClaim(claims, 'exp');
  const left = exp === undefined ? undefined : Math.round(exp - input.nowMs / 1000);
  const check = left !== undefined && left < 120
    ? warn('token', [...evidence, `expires in ${left} s`], 'Exchange the token early in the job; GitLab ID tokens live as long as the job timeout (5 minutes without one).')
    : pass('token', evidence);
  return { check, claims, ...(audience ? { audience } : {}) };
}

function fromProblems(problems: readonly Problem[], aud: string): Check {
  const evidence = problems.map((p) => `${p.source}: ${p.message}`);
  const legacy = problems.some((p) => /CI_JOB_JWT/.test(`${p.source} ${p.message}`));
  const fix = problems.map((p) => p.hint).find((h) => h !== undefined) ?? `Let GitLab issue the token: ${ID_TOKENS(aud)}`;
  return fail('token', legacy ? [...evidence, 'CI_JOB_JWT and CI_JOB_JWT_V2 were removed in GitLab 17.0 (deprecated in 15.9)'] : evidence, fix);
}

function decode(input: TokenInput): TokenVerdict | { claims: Record<string, unknown> } {
  if (input.claims !== undefined) return { claims: input.claims };
  if (input.token === undefined || input.token.trim() === '') {
    return { check: fail('token', [`no ID token in ${input.source}`], `Let GitLab issue the token: ${ID_TOKENS(STS_AUDIENCE)}`) };
  }
  try {
    return { claims: decodeJwt(input.token, input.source).claims };
  } catch (err) {
    if (!isHoistError(err)) throw err;
    return { check: fail('token', [err.message], err.hint ?? `Pass the ID token GitLab issues through id_tokens: (${ID_TOKENS(STS_AUDIENCE)})`) };
  }
}

interface TokenProblem {
  why: string;
  fix: string;
}

function validity(claims: Record<string, unknown>, nowMs: number): TokenProblem | undefined {
  const now = nowMs / 1000;
  if (typeof claims.iss !== 'string' || claims.iss === '') {
    return { why: 'the token has no iss claim, so STS cannot find an identity provider for it', fix: 'Use the ID token GitLab issues through id_tokens:.' };
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') return { why: 'the token has no sub claim', fix: 'Use the ID token GitLab issues through id_tokens:.' };
  const exp = numericClaim(claims, 'exp');
  if (exp === undefined) return { why: 'the token has no exp claim; STS rejects it', fix: 'Use the ID token GitLab issues through id_tokens:.' };
  if (exp <= now) {
    return {
      why: `the token expired at ${new Date(exp * 1000).toISOString()} (${Math.round(now - exp)} s ago); STS answers ExpiredTokenException`,
      fix: 'Re-run the job and exchange the token early in it: GitLab ID tokens expire with the job timeout (5 minutes when none is set).',
    };
  }
  const nbf = numericClaim(claims, 'nbf');
  if (nbf !== undefined && nbf > now + 300) {
    return { why: `the token is not valid before ${new Date(nbf * 1000).toISOString()}`, fix: 'Check the runner clock (NTP): the token is from the future.' };
  }
  return undefined;
}

function audienceProblem(claims: Record<string, unknown>, expected: readonly string[], from = 'STS default'): TokenProblem | undefined {
  const auds = audiences(claims);
  if (auds.length === 0) {
    return { why: 'the token has no aud claim (CI_JOB_JWT-style tokens have none)', fix: `Use an ID token with an audience: ${ID_TOKENS(expected[0]!)}` };
  }
  if (auds.some((a) => expected.includes(a))) return undefined;
  return {
    why: `audience mismatch: the token's aud is ${auds.map((a) => JSON.stringify(a)).join(', ')}, but ${from} expects ${expected.map((a) => JSON.stringify(a)).join(' or ')}; STS answers "Incorrect token audience"`,
    fix: `Request the token with the audience the provider lists: ${ID_TOKENS(expected[0]!)}\n(or add "${auds[0]}" to the provider's client IDs: aws iam add-client-id-to-open-id-connect-provider).`,
  };
}
