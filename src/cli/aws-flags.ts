// The AWS flags `credentials`, `login` and the credential helper share with `push`.

import type { AwsFlags } from '../config/credentials.ts';
import { str, type Parsed } from './args.ts';

export const AWS_OPTIONS = {
  region: { type: 'string' }, account: { type: 'string' }, 'role-arn': { type: 'string' },
  'endpoint-url': { type: 'string' }, registry: { type: 'string' }, 'id-token-var': { type: 'string' },
  'session-name': { type: 'string' }, duration: { type: 'string' }, config: { type: 'string' },
} as const;

export const AWS_HELP = `AWS settings (flags > environment > hoist.yaml), as for hoist push:
  --region R (AWS_REGION)  --account ID (AWS_ACCOUNT_ID)  --role-arn ARN (AWS_ROLE_ARN)
  --endpoint-url URL (AWS_ENDPOINT_URL)  --id-token-var NAME (default AWS_ID_TOKEN; else
  AWS_WEB_IDENTITY_TOKEN_FILE, else GitHub Actions)  --session-name S  --duration SECONDS
  --registry HOST  --config FILE (default ./hoist.yaml)
`;

export function awsFlags(p: Parsed): AwsFlags {
  const flags: AwsFlags = {
    region: str(p, 'region'), account: str(p, 'account'), roleArn: str(p, 'role-arn'), endpointUrl: str(p, 'endpoint-url'),
    registry: str(p, 'registry'), idTokenVar: str(p, 'id-token-var'), sessionName: str(p, 'session-name'), duration: str(p, 'duration'),
  };
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as AwsFlags;
}
