// AWS SDK v3 clients built from explicit settings only. hoist never lets the SDK pick up
// credentials or endpoints from the ambient environment behind the user's back: what it
// uses is what configuration resolved and reported.

import type { ECRClient } from '@aws-sdk/client-ecr';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { STSClient } from '@aws-sdk/client-sts';

/**
 * The SDK clients load on first use. They are 1.6 MB of the 2.5 MB bundle: loaded eagerly they
 * cost every command ~70 ms of start (the warm push's budget is 150 ms, issue 4) and ~6 MB of
 * heap, and a heap that size made V8 run a full mark-compact every ~30 ms while a
 * `docker save` streamed through (122 against 36 per 1.45 GB, ~1.5 CPU-s; measured with
 * --trace-gc). A registry-only copy never needs them.
 */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= load());
}
/** A CommonJS package's exports: named under Node's loader, only `default` in esbuild's split chunks. */
function cjs<T extends object>(m: T): T {
  return (m as { default?: T }).default ?? m;
}
export const ecrSdk = once(() => import('@aws-sdk/client-ecr').then(cjs));
export const iamSdk = once(() => import('@aws-sdk/client-iam').then(cjs));
export const stsSdk = once(() => import('@aws-sdk/client-sts').then(cjs));

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
export async function anonymousSts(t: AwsTarget): Promise<STSClient> {
  const { STSClient } = await stsSdk();
  return new STSClient({
    ...base(t),
    credentials: async () => {
      throw new Error('AssumeRoleWithWebIdentity is unsigned; no credentials are needed');
    },
  });
}

export async function stsClient(t: AwsTarget, credentials: AwsCredentials): Promise<STSClient> {
  const { STSClient } = await stsSdk();
  return new STSClient({ ...base(t), credentials });
}

export async function ecrClient(t: AwsTarget, credentials: AwsCredentials): Promise<ECRClient> {
  const { ECRClient } = await ecrSdk();
  return new ECRClient({ ...base(t), credentials });
}

export async function iamClient(t: AwsTarget, credentials: AwsCredentials): Promise<IAMClient> {
  const { IAMClient } = await iamSdk();
  // IAM is global and signs for us-east-1 (IAM API reference, "Signing requests").
  return new IAMClient({ ...base(t), region: t.endpoint ? t.region : 'us-east-1', credentials });
}
