// The AWS half every verb shares: read the ID token, exchange it with STS (explaining a
// refusal in terms of the token and the trust policy), and get the ECR registry login.

import { getRegistryLogin, type RegistryLogin } from '../aws/ecr.ts';
import { awsErrorName } from '../aws/errors.ts';
import { diagnoseSts } from '../aws/sts-diagnose.ts';
import { assumeRoleWithWebIdentity, type AssumedRole } from '../aws/sts.ts';
import type { AwsTarget } from '../aws/clients.ts';
import { readIdToken } from '../ci/id-token-read.ts';
import type { AwsSettings } from '../config/aws.ts';
import { HoistError, isHoistError } from '../errors.ts';
import type { IdTokenSource } from '../model/id-token.ts';
import { decodeJwt, numericClaim } from '../model/jwt.ts';
import type { Secret } from '../model/secret.ts';

export interface AwsSession {
  target: AwsTarget;
  role: AssumedRole;
  /** Claims of the token that was exchanged: safe to show, unlike the token. */
  claims: Record<string, unknown>;
}

export interface SessionDeps {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function awsTarget(aws: AwsSettings): AwsTarget {
  return { region: aws.region, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}) };
}

export async function openSession(aws: AwsSettings, source: IdTokenSource, deps: SessionDeps = {}): Promise<AwsSession> {
  const token = await readIdToken(source);
  const claims = tokenClaims(token, source);
  checkNotExpired(claims, aws, (deps.now ?? Date.now)());
  const target = awsTarget(aws);
  try {
    const role = await assumeRoleWithWebIdentity(target, {
      roleArn: aws.roleArn.arn, sessionName: aws.sessionName, token: token.reveal(),
      ...(aws.durationSeconds ? { durationSeconds: aws.durationSeconds } : {}),
    }, deps.sleep ? { sleep: deps.sleep } : {});
    return { target, role, claims };
  } catch (err) {
    throw explainStsFailure(err, claims, aws.roleArn.arn);
  }
}

/**
 * A new session for a job already under way, when the first nears its expiry: the ID token is
 * read again from its source (a token file or GitHub's endpoint may hold a newer one; a CI
 * variable holds the same) and exchanged again. A token that has expired since the job began
 * fails with what to change — not with the advice for a job that started with a stale token.
 */
export async function renewSession(aws: AwsSettings, source: IdTokenSource, deps: SessionDeps = {}): Promise<AwsSession> {
  try {
    return await openSession(aws, source, deps);
  } catch (err) {
    if (!isHoistError(err, 'sts.token-expired')) throw err;
    const at = typeof err.context.exp === 'string' ? ` (at ${err.context.exp})` : '';
    throw new HoistError(`the CI job's ID token (${tokenSourceName(source)}) expired while the job was running${at}: ` +
      'hoist needed it to renew the job\'s AWS credentials, which expire before the job ends', {
      code: 'sts.token-expired-mid-job', op: 'renew AWS credentials', context: err.context, cause: err,
      hint: 'The job outlived its ID token. Ask STS for credentials that last the whole job (--duration, e.g. 2h, up to the ' +
        'role\'s MaxSessionDuration) so no renewal is needed; or give the job a longer-lived ID token (GitLab ID tokens last ' +
        'as long as the job\'s timeout: raise `timeout:`); or split the work into shorter jobs.',
    });
  }
}

function tokenSourceName(source: IdTokenSource): string {
  return source.kind === 'github-actions' ? 'the GitHub Actions ID token' : source.variable;
}

function tokenClaims(token: Secret, source: IdTokenSource): Record<string, unknown> {
  try {
    return decodeJwt(token.reveal(), tokenSourceName(source)).claims;
  } catch (err) {
    if (!isHoistError(err)) throw err;
    throw new HoistError(err.message, { code: 'token.malformed', hint: err.hint, op: 'read ID token' });
  }
}

/** An expired token is certain to fail at STS: say so before any network call. */
function checkNotExpired(claims: Record<string, unknown>, aws: AwsSettings, nowMs: number): void {
  const exp = numericClaim(claims, 'exp');
  if (exp === undefined || exp * 1000 > nowMs) return;
  const d = diagnoseSts('ExpiredTokenException', 'Token expired', claims, aws.roleArn.arn);
  throw new HoistError(d.message, { code: 'sts.token-expired', op: 'AssumeRoleWithWebIdentity', hint: d.hint, context: d.saw });
}

function explainStsFailure(err: unknown, claims: Record<string, unknown>, roleArn: string): unknown {
  if (!isHoistError(err) || !err.code.startsWith('sts.') || err.code === 'sts.bad-response') return err;
  const cause = err.cause as { message?: string } | undefined;
  const d = diagnoseSts(awsErrorName(cause), cause?.message ?? err.message, claims, roleArn);
  return new HoistError(d.message, {
    code: err.code, op: 'AssumeRoleWithWebIdentity', hint: d.hint, retryable: err.retryable,
    context: { ...err.context, ...d.saw }, cause: err,
  });
}

export async function registryLogin(session: AwsSession): Promise<RegistryLogin> {
  return getRegistryLogin(session.target, session.role.credentials);
}
