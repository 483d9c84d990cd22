// `hoist credentials`: the STS half of the job on its own, for other tools. Credentials go
// to stdout only, in the format asked for; a web-identity token file lets the AWS CLI and
// SDKs refresh credentials by themselves for jobs longer than one session.

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readIdToken } from '../ci/id-token-read.ts';
import type { AwsConfig } from '../config/credentials.ts';
import type { AwsSession } from './session.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

export type CredentialFormat = 'env' | 'json' | 'profile';

export function renderCredentials(session: AwsSession, cfg: AwsConfig, format: CredentialFormat, profile = 'hoist'): string {
  const c = session.role.credentials;
  const values: [string, string][] = [
    ['AWS_ACCESS_KEY_ID', c.accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', c.secretAccessKey],
    ['AWS_SESSION_TOKEN', c.sessionToken ?? ''],
    ['AWS_REGION', cfg.aws.region],
    ['AWS_DEFAULT_REGION', cfg.aws.region],
  ];
  if (format === 'json') {
    // The shape of `aws configure export-credentials --format process` / credential_process.
    return JSON.stringify({
      Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken,
      Expiration: c.expiration?.toISOString(), Region: cfg.aws.region, AssumedRoleArn: session.role.assumedRoleArn,
    }, null, 2) + '\n';
  }
  if (format === 'profile') {
    return [`[${profile}]`, `aws_access_key_id = ${c.accessKeyId}`, `aws_secret_access_key = ${c.secretAccessKey}`,
      `aws_session_token = ${c.sessionToken ?? ''}`, `region = ${cfg.aws.region}`, ''].join('\n');
  }
  return values.map(([k, v]) => `export ${k}=${v}\n`).join('');
}

/**
 * Writes the ID token to `path` (0600, in a 0700 directory it creates) and returns the
 * variables that make the AWS CLI and SDKs assume the role themselves, refreshing as needed.
 * The write is atomic: no reader sees half a token.
 */
export async function writeWebIdentityFile(cfg: AwsConfig, path: string): Promise<Record<string, string>> {
  const token = await readIdToken(cfg.idToken);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, token.reveal(), { mode: 0o600 });
  return {
    AWS_ROLE_ARN: cfg.aws.roleArn.arn,
    AWS_WEB_IDENTITY_TOKEN_FILE: path,
    AWS_ROLE_SESSION_NAME: cfg.aws.sessionName,
    AWS_REGION: cfg.aws.region,
    AWS_DEFAULT_REGION: cfg.aws.region,
  };
}
