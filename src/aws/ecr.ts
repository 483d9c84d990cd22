// ECR API calls of the seed's job: the registry login (GetAuthorizationToken) and
// "describe-repositories || create-repository", done so that concurrent jobs cannot race.

import type { ECRClient, ImageTagMutability, Repository } from '@aws-sdk/client-ecr';
import { HoistError } from '../errors.ts';
import { DEFAULT_RETRY, withRetry } from '../http/retry.ts';
import { Secret } from '../model/secret.ts';
import { ecrClient, ecrSdk, endpointHost, type AwsCredentials, type AwsTarget } from './clients.ts';
import { awsErrorName, isTransient, wrapAwsError } from './errors.ts';

/**
 * The SDK's own retries are off (clients.ts): each ECR call is retried here when the error is
 * transient (throttling, 5xx, 429, connection reset), as STS is. Every call below is safe to
 * repeat: reads, GetAuthorizationToken, and CreateRepository, whose repeat after a lost answer
 * ends in RepositoryAlreadyExistsException, which create() turns into success.
 */
function retried<T>(call: () => Promise<T>): Promise<T> {
  return withRetry(call, { ...DEFAULT_RETRY, retryable: isTransient });
}

export interface RegistryLogin {
  /** Host[:port] from proxyEndpoint, e.g. 831955480324.dkr.ecr.ap-south-1.amazonaws.com. */
  registry: string;
  proxyEndpoint: string;
  username: string;
  /** The ECR password: handed to docker on stdin, never printed. */
  password: Secret;
  expiresAt: Date;
}

export async function getRegistryLogin(target: AwsTarget, credentials: AwsCredentials): Promise<RegistryLogin> {
  const { GetAuthorizationTokenCommand } = await ecrSdk();
  const client = await ecrClient(target, credentials);
  try {
    const out = await retried(() => client.send(new GetAuthorizationTokenCommand({})));
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint) {
      throw new HoistError('ECR answered GetAuthorizationToken without a token', { code: 'ecr.bad-response', op: 'GetAuthorizationToken' });
    }
    const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    return {
      registry: new URL(data.proxyEndpoint).host,
      proxyEndpoint: data.proxyEndpoint,
      username: decoded.slice(0, sep),
      password: new Secret(decoded.slice(sep + 1)),
      expiresAt: data.expiresAt ?? new Date(Date.now() + 3600_000),
    };
  } catch (err) {
    if (err instanceof HoistError) throw err;
    throw wrapAwsError(err, 'GetAuthorizationToken', accessCode(err, 'ecr.login-failed'),
      'The role needs ecr:GetAuthorizationToken on Resource "*".', endpointHost(target, 'api.ecr'));
  } finally {
    client.destroy();
  }
}

export interface RepositorySettings {
  tagMutability?: ImageTagMutability;
  scanOnPush?: boolean;
  encryption?: { type: 'AES256' | 'KMS'; kmsKey?: string };
}

export interface EnsuredRepository {
  uri: string;
  arn: string;
  created: boolean;
  tagMutability: string;
}

export async function ensureRepository(
  target: AwsTarget, credentials: AwsCredentials, name: string,
  opts: { create: boolean; settings?: RepositorySettings },
): Promise<EnsuredRepository> {
  const client = await ecrClient(target, credentials);
  const at = endpointHost(target, 'api.ecr');
  try {
    const found = await describe(client, name, at);
    if (found) return summary(found, false);
    if (!opts.create) {
      throw new HoistError(`ECR repository "${name}" does not exist`, {
        code: 'ecr.repository-missing', op: 'DescribeRepositories',
        hint: 'Create it (aws ecr create-repository) or let hoist create it: drop --no-create-repository.',
      });
    }
    const made = await create(client, name, opts.settings ?? {}, at);
    return summary(made.repository, made.created);
  } finally {
    client.destroy();
  }
}

async function describe(client: ECRClient, name: string, at: string): Promise<Repository | undefined> {
  const { DescribeRepositoriesCommand } = await ecrSdk();
  try {
    const out = await retried(() => client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] })));
    return out.repositories?.[0];
  } catch (err) {
    if (awsErrorName(err) === 'RepositoryNotFoundException') return undefined;
    throw wrapAwsError(err, 'DescribeRepositories', accessCode(err, 'ecr.describe-failed'),
      'The role needs ecr:DescribeRepositories on the repository ARN.', at);
  }
}

async function create(
  client: ECRClient, name: string, s: RepositorySettings, at: string,
): Promise<{ repository: Repository; created: boolean }> {
  const { CreateRepositoryCommand } = await ecrSdk();
  try {
    const out = await retried(() => client.send(new CreateRepositoryCommand({
      repositoryName: name,
      ...(s.tagMutability ? { imageTagMutability: s.tagMutability } : {}),
      ...(s.scanOnPush !== undefined ? { imageScanningConfiguration: { scanOnPush: s.scanOnPush } } : {}),
      ...(s.encryption ? { encryptionConfiguration: { encryptionType: s.encryption.type, ...(s.encryption.kmsKey ? { kmsKey: s.encryption.kmsKey } : {}) } } : {}),
    })));
    return { repository: out.repository!, created: true };
  } catch (err) {
    // Another job created it between our describe and create: that is success.
    if (awsErrorName(err) === 'RepositoryAlreadyExistsException') {
      const again = await describe(client, name, at);
      if (again) return { repository: again, created: false };
    }
    throw wrapAwsError(err, 'CreateRepository', accessCode(err, 'ecr.create-failed'),
      `Create the repository "${name}" beforehand, or allow ecr:CreateRepository on its ARN in the role's permissions policy.`, at);
  }
}

function summary(r: Repository, created: boolean): EnsuredRepository {
  return { uri: r.repositoryUri ?? '', arn: r.repositoryArn ?? '', created, tagMutability: r.imageTagMutability ?? 'MUTABLE' };
}

function accessCode(err: unknown, fallback: string): string {
  return awsErrorName(err) === 'AccessDeniedException' ? 'ecr.access-denied' : fallback;
}

export interface TaggedImage {
  digest: string;
  manifest: string;
  mediaType: string;
}

/**
 * What a tag points at, read back with BatchGetImage (in the seed's permission list, unlike
 * DescribeImages): used to verify a push and to tell an immutable tag that already holds
 * our image from one that holds another.
 */
export async function imageForTag(
  target: AwsTarget, credentials: AwsCredentials, repository: string, tag: string,
): Promise<TaggedImage | undefined> {
  const { BatchGetImageCommand } = await ecrSdk();
  const client = await ecrClient(target, credentials);
  try {
    const out = await retried(() => client.send(new BatchGetImageCommand({
      repositoryName: repository,
      imageIds: [{ imageTag: tag }],
      acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
    })));
    const image = out.images?.[0];
    if (!image?.imageId?.imageDigest || !image.imageManifest) return undefined;
    return { digest: image.imageId.imageDigest, manifest: image.imageManifest, mediaType: image.imageManifestMediaType ?? '' };
  } catch (err) {
    throw wrapAwsError(err, 'BatchGetImage', accessCode(err, 'ecr.read-failed'),
      'The role needs ecr:BatchGetImage on the repository ARN to verify what it pushed.', endpointHost(target, 'api.ecr'));
  } finally {
    client.destroy();
  }
}

const MANIFEST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];
