// Registry flags `copy` and `promote` share: credentials (from an environment variable or
// stdin — a password in argv is readable by any user in /proc), plain-HTTP hosts, a CA file,
// and hoist's ECR mode (AWS_ROLE_ARN + the job's ID token → an ECR login, like `hoist login`).

import { readFile } from 'node:fs/promises';
import { checkLoginHost, ecrLogin } from '../api/registry-auth.ts';
import { resolveAwsConfig } from '../config/credentials.ts';
import { Secret } from '../model/secret.ts';
import type { RegistryCredentials } from '../registry/auth.ts';
import { list, type Parsed, str } from './args.ts';
import { awsFlags } from './aws-flags.ts';
import { configFile } from './commands/push.ts';
import type { Io } from './io.ts';
import { usageError } from './render.ts';

export const REGISTRY_OPTIONS = {
  'insecure-registry': { type: 'string', multiple: true }, 'ca-file': { type: 'string' },
  json: { type: 'boolean' }, quiet: { type: 'boolean' },
} as const;

/** `USER:PASS` from the variable named by --X-env, from --X (discouraged), or undefined. */
export function credentialsFrom(p: Parsed, io: Io, flag: string): RegistryCredentials | undefined {
  const variable = str(p, `${flag}-env`);
  const raw = variable !== undefined ? io.env[variable] : str(p, flag);
  if (variable !== undefined && (raw === undefined || raw === '')) throw usageError(`--${flag}-env: ${variable} is not set`, `Export ${variable}=USER:PASSWORD.`);
  if (raw === undefined) return undefined;
  const colon = raw.indexOf(':');
  if (colon <= 0) throw usageError(`--${flag}${variable ? `-env ${variable}` : ''}: expected USER:PASSWORD`);
  return { username: raw.slice(0, colon), password: new Secret(raw.slice(colon + 1)) };
}

/** --username U --password-stdin: the password is the first line on stdin. */
export async function stdinCredentials(p: Parsed, io: Io): Promise<RegistryCredentials | undefined> {
  if (!p.values['password-stdin']) return undefined;
  const username = str(p, 'username');
  if (!username) throw usageError('--password-stdin needs --username');
  const password = ((await io.stdin?.()) ?? '').split('\n')[0]!.replace(/\r$/, '');
  if (!password) throw usageError('--password-stdin: nothing on stdin');
  return { username, password: new Secret(password) };
}

export function wantsEcr(p: Parsed, io: Io): boolean {
  return p.values.ecr === true || str(p, 'role-arn') !== undefined || (io.env.AWS_ROLE_ARN ?? '') !== '';
}

/** ECR mode: log in with the job's identity; the login is used only for its own registry host. */
export async function ecrCredentialsFor(p: Parsed, io: Io, host: string, what: string): Promise<RegistryCredentials> {
  const file = await configFile(p);
  const cfg = resolveAwsConfig({ env: io.env, flags: awsFlags(p), ...(file ? { file } : {}) }, `hoist ${what}`);
  const login = await ecrLogin(cfg);
  checkLoginHost(login, host, what);
  return login.credentials;
}

export async function transportOptions(p: Parsed): Promise<{ insecureRegistries: string[]; ca?: string }> {
  const caFile = str(p, 'ca-file');
  return { insecureRegistries: list(p, 'insecure-registry'), ...(caFile ? { ca: await readFile(caFile, 'utf8') } : {}) };
}

export const REGISTRY_HELP = `Registry connection:
  --insecure-registry HOST  plain HTTP for HOST (repeatable; loopback hosts always are, like Docker)
  --ca-file PEM             trust this CA for TLS registries
`;

export const ECR_HELP = `ECR mode (when no credentials are given and AWS_ROLE_ARN or --role-arn is set, or --ecr):
  hoist exchanges the job's OIDC ID token for an ECR login itself, as \`hoist login\` does,
  and uses it only for the ECR registry it was issued for.
  --region R (AWS_REGION)  --account ID (AWS_ACCOUNT_ID)  --role-arn ARN (AWS_ROLE_ARN)
  --endpoint-url URL (AWS_ENDPOINT_URL)  --id-token-var NAME (default AWS_ID_TOKEN)
  --session-name S  --duration SECONDS  --registry HOST
`;
