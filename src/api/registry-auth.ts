// Registry credentials for copy and promote: explicit ones, or hoist's ECR mode — the job's
// OIDC identity exchanged for an ECR login exactly as `hoist login` does (STS
// AssumeRoleWithWebIdentity, then GetAuthorizationToken), held in memory only and renewed
// before it expires (live-session.ts).

import type { AwsConfig } from '../config/credentials.ts';
import { HoistError } from '../errors.ts';
import type { RegistryCredentials } from '../registry/auth.ts';
import { LiveSession } from './live-session.ts';

export interface EcrLogin {
  registry: string;
  credentials: RegistryCredentials;
  expiresAt: Date;
}

/** The credentials renew themselves (STS and ECR token) when a long copy outlives them. */
export async function ecrLogin(cfg: AwsConfig): Promise<EcrLogin> {
  const session = await LiveSession.open(cfg.aws, cfg.idToken);
  const login = await session.registryLogin();
  return { registry: login.registry, credentials: session.registryCredentials(login), expiresAt: login.expiresAt };
}

/** The ECR login only ever goes to the registry it was issued for. */
export function checkLoginHost(login: EcrLogin, host: string, what: string): void {
  if (login.registry === host) return;
  throw new HoistError(`the ECR login is for ${login.registry}, but ${what} is on ${host}`, {
    code: 'config.invalid', op: 'ECR login',
    hint: 'Name the image on the ECR registry of AWS_ACCOUNT_ID/AWS_REGION, or give credentials for that host with --creds-env.',
  });
}
