import { renderCredentials, writeWebIdentityFile, type CredentialFormat } from '../../api/credentials.ts';
import { openSession } from '../../api/session.ts';
import { resolveAwsConfig } from '../../config/credentials.ts';
import { parse, str } from '../args.ts';
import { AWS_HELP, AWS_OPTIONS, awsFlags } from '../aws-flags.ts';
import type { Command } from '../io.ts';
import { usageError } from '../render.ts';
import { configFile } from './push.ts';
import { shellQuote } from './sandbox.ts';

const HELP = `Usage: hoist credentials [--format env|json|profile] [--profile NAME] [--token-file PATH] [flags]

The STS half of the job alone: exchange the CI job's OIDC ID token for short-lived
credentials of AWS_ROLE_ARN and hand them to other tools. Credentials go to stdout only.

  --format env        export AWS_ACCESS_KEY_ID=… lines to eval (default)
  --format json       credential_process JSON (Version, AccessKeyId, …, Expiration)
  --format profile    an INI profile block for ~/.aws/credentials (--profile NAME, default hoist)
  --token-file PATH   write the ID token to PATH (mode 0600) instead and print
                      AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_SESSION_NAME, so the
                      AWS CLI and SDKs assume the role and refresh by themselves. The role is
                      assumed once first, so a refusal is reported now, not later.

${AWS_HELP}`;

const FORMATS = ['env', 'json', 'profile'] as const;

export const credentialsCommand: Command = {
  name: 'credentials',
  summary: 'exchange the job\'s OIDC token for AWS credentials (env, json, profile or token file)',
  help: HELP,
  async run(argv, io) {
    const p = parse('credentials', argv, { ...AWS_OPTIONS, format: { type: 'string' }, profile: { type: 'string' }, 'token-file': { type: 'string' } });
    if (p.values.help) return io.stdout(HELP), 0;
    const format = str(p, 'format') ?? 'env';
    if (!(FORMATS as readonly string[]).includes(format)) throw usageError(`credentials: --format must be env, json or profile, not "${format}"`);
    const cfg = resolveAwsConfig({ env: io.env, flags: awsFlags(p), file: await configFile(p) }, 'hoist credentials');
    const session = await openSession(cfg.aws, cfg.idToken);
    const tokenFile = str(p, 'token-file');
    if (tokenFile) {
      const vars = await writeWebIdentityFile(cfg, tokenFile);
      io.stdout(Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''));
    } else {
      io.stdout(renderCredentials(session, cfg, format as CredentialFormat, str(p, 'profile')));
    }
    io.stderr(`hoist credentials: assumed ${session.role.assumedRoleArn} until ${session.role.credentials.expiration.toISOString()}\n`);
    return 0;
  },
};
