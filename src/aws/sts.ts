// The OIDC → STS exchange (seed step 1): AssumeRoleWithWebIdentity with the job's ID token.

import { HoistError } from '../errors.ts';
import { withRetry, DEFAULT_RETRY } from '../http/retry.ts';
import { anonymousSts, stsClient, stsSdk, type AwsCredentials, type AwsTarget } from './clients.ts';
import { awsErrorName, isTransient, wrapAwsError } from './errors.ts';

export interface WebIdentityRequest {
  roleArn: string;
  sessionName: string;
  token: string;
  durationSeconds?: number;
}

export interface AssumedRole {
  credentials: AwsCredentials & { expiration: Date };
  assumedRoleArn: string;
}

export async function assumeRoleWithWebIdentity(
  target: AwsTarget,
  req: WebIdentityRequest,
  retry: Partial<typeof DEFAULT_RETRY> & { sleep?: (ms: number) => Promise<void> } = {},
): Promise<AssumedRole> {
  const { AssumeRoleWithWebIdentityCommand } = await stsSdk();
  const client = await anonymousSts(target);
  const cmd = new AssumeRoleWithWebIdentityCommand({
    RoleArn: req.roleArn,
    RoleSessionName: req.sessionName,
    WebIdentityToken: req.token,
    ...(req.durationSeconds ? { DurationSeconds: req.durationSeconds } : {}),
  });
  try {
    const out = await withRetry(() => client.send(cmd), { ...DEFAULT_RETRY, ...retry, retryable: isTransient });
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new HoistError('STS answered without credentials', { code: 'sts.bad-response', op: 'AssumeRoleWithWebIdentity' });
    }
    return {
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration },
      assumedRoleArn: out.AssumedRoleUser?.Arn ?? '',
    };
  } catch (err) {
    if (err instanceof HoistError) throw err;
    throw wrapAwsError(err, 'AssumeRoleWithWebIdentity', stsCode(err));
  } finally {
    client.destroy();
  }
}

function stsCode(err: unknown): string {
  switch (awsErrorName(err)) {
    case 'AccessDenied': return 'sts.access-denied';
    case 'ExpiredTokenException': return 'sts.token-expired';
    case 'InvalidIdentityToken': return 'sts.invalid-token';
    case 'IDPRejectedClaim': return 'sts.claim-rejected';
    case 'ValidationError': return 'sts.invalid-request';
    default: return 'sts.failed';
  }
}

export interface CallerIdentity {
  account: string;
  arn: string;
  userId: string;
}

export async function getCallerIdentity(target: AwsTarget, credentials: AwsCredentials): Promise<CallerIdentity> {
  const { GetCallerIdentityCommand } = await stsSdk();
  const client = await stsClient(target, credentials);
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    return { account: out.Account ?? '', arn: out.Arn ?? '', userId: out.UserId ?? '' };
  } catch (err) {
    throw wrapAwsError(err, 'GetCallerIdentity', 'sts.failed');
  } finally {
    client.destroy();
  }
}

/** AWS's RoleSessionName rule: 2-64 characters of [\w+=,.@-] (STS API reference). */
export function sessionName(raw: string): string {
  const cleaned = raw.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return cleaned.length >= 2 ? cleaned : `hoist-${cleaned}`.slice(0, 64);
}
