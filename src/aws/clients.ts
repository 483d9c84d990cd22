// AWS SDK v3 clients built from explicit settings only. hoist never lets the SDK pick up
// credentials or endpoints from the ambient environment behind the user's back: what it
// uses is what configuration resolved and reported.

import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface AwsTarget {
  region: string;
  /** Overrides every service endpoint (AWS_ENDPOINT_URL), e.g. the sandbox. */
  endpoint?: string;
}

/** The host a service's calls go to, for error messages: the override, else AWS's regional endpoint. */
export function endpointHost(t: AwsTarget, service: 'api.ecr' | 'sts'): string {
  return t.endpoint ? new URL(t.endpoint).host : `${service}.${t.region}.amazonaws.com`;
}

/** SDK retries stay off: hoist classifies errors itself and retries only transient ones. */
const base = (t: AwsTarget) => ({ region: t.region, maxAttempts: 1, ...(t.endpoint ? { endpoint: t.endpoint } : {}) });

/** STS for the unsigned web-identity call: no credentials at all. */
export function anonymousSts(t: AwsTarget): STSClient {
  return new STSClient({
    ...base(t),
    credentials: async () => {
      throw new Error('AssumeRoleWithWebIdentity is unsigned; no credentials are needed');
    },
  });
}

export const stsClient = (t: AwsTarget, credentials: AwsCredentials): STSClient => new STSClient({ ...base(t), credentials });
export const ecrClient = (t: AwsTarget, credentials: AwsCredentials): ECRClient => new ECRClient({ ...base(t), credentials });
export const iamClient = (t: AwsTarget, credentials: AwsCredentials): IAMClient =>
  // IAM is global and signs for us-east-1 (IAM API reference, "Signing requests").
  new IAMClient({ ...base(t), region: t.endpoint ? t.region : 'us-east-1', credentials });
