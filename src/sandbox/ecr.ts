// The sandbox's Amazon ECR API (JSON 1.1, target prefix AmazonEC2ContainerRegistry_V20150921.):
// repositories, registry login, account settings here; images in ecr-images.ts; the layer
// upload API in ecr-layers.ts. Every call is authorized as IAM would (`ecr:<Action>` on the
// repository ARN, `*` for account-wide actions) before anything is looked up.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { authorize } from './authorize.ts';
import {
  EcrFault, arnOf, caller, checkRepositoryName, invalidParameter, optArray, optBool, optObject, optString,
  paginate, registryOf, repositoryNotFound, reqString, stringList, targetRepository, type Input,
} from './ecr-common.ts';
import { IMAGE_ACTIONS } from './ecr-images.ts';
import { LAYER_ACTIONS } from './ecr-layers.ts';
import { AwsFault, epochSeconds, jsonReply, type AwsCall, type AwsHandler, type SandboxContext } from './protocol.ts';
import { repositoryArn, type Repository } from './world.ts';

export type EcrAction = (ctx: SandboxContext, call: AwsCall) => Promise<unknown>;

/**
 * ECR registry tokens last 12 hours, or less when the credentials behind them expire sooner.
 * Under --credential-seconds the STS sessions are short, so their tokens are too; the root
 * user's long-term keys (the sandbox admin's) keep 12-hour tokens, so test setup is unaffected.
 */
export const TOKEN_LIFETIME_MS = 12 * 3600 * 1000;

/** The key of `world.state.ecrTokens`: hex SHA-256 of the password, so state holds no usable secret. */
export function ecrTokenKey(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

export function repositoryJson(ctx: SandboxContext, repo: Repository): Record<string, unknown> {
  return {
    repositoryArn: repo.arn,
    registryId: repo.registryId,
    repositoryName: repo.name,
    repositoryUri: `${ctx.registryHost}/${repo.name}`,
    createdAt: epochSeconds(repo.createdAt),
    imageTagMutability: repo.tagMutability,
    imageScanningConfiguration: { scanOnPush: repo.scanOnPush },
    encryptionConfiguration: { ...repo.encryption },
  };
}

// ---- repositories -------------------------------------------------------------------

function tagMutability(input: Input): 'MUTABLE' | 'IMMUTABLE' | undefined {
  const v = optString(input, 'imageTagMutability');
  if (v !== undefined && v !== 'MUTABLE' && v !== 'IMMUTABLE') {
    throw invalidParameter('imageTagMutability', 'Member must satisfy enum value set: [IMMUTABLE, MUTABLE]');
  }
  return v;
}

function encryption(ctx: SandboxContext, input: Input): Repository['encryption'] {
  const cfg = optObject(input, 'encryptionConfiguration');
  if (!cfg) return { encryptionType: 'AES256' };
  const type = reqString(cfg, 'encryptionType');
  const kmsKey = optString(cfg, 'kmsKey');
  if (type === 'AES256') {
    if (kmsKey !== undefined) throw invalidParameter('encryptionConfiguration', 'KMS key should not be specified for AES256 encryption type');
    return { encryptionType: 'AES256' };
  }
  if (type !== 'KMS') throw invalidParameter('encryptionConfiguration.encryptionType', 'Member must satisfy enum value set: [AES256, KMS]');
  // Without a key ECR uses the AWS managed key aws/ecr.
  const { region, accountId } = ctx.world.state;
  return { encryptionType: 'KMS', kmsKey: kmsKey ?? `arn:aws:kms:${region}:${accountId}:key/${randomUUID()}` };
}

function checkTags(input: Input): void {
  const tags = optArray(input, 'tags');
  if (!tags) return;
  if (tags.length > 50) throw new AwsFault('TooManyTagsException', 'The number of tags exceeds the limit of 50');
  for (const t of tags) {
    const tag = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
    const key = tag.Key;
    if (typeof key !== 'string' || key.length < 1 || key.length > 128 || /^aws:/i.test(key)) {
      throw new AwsFault('InvalidTagParameterException', 'Invalid parameter at \'tags\': tag keys must be 1-128 characters and must not start with aws:');
    }
    if (typeof tag.Value !== 'string' || tag.Value.length > 256) {
      throw new AwsFault('InvalidTagParameterException', 'Invalid parameter at \'tags\': tag values must be 0-256 characters');
    }
  }
}

const createRepository: EcrAction = async (ctx, call) => {
  const input = call.input ?? {};
  const name = reqString(input, 'repositoryName');
  checkRepositoryName(name);
  const registryId = registryOf(ctx, input);
  const state = ctx.world.state;
  authorize(ctx.world, caller(call), 'ecr:CreateRepository', arnOf(ctx, registryId, name));
  if (registryId !== state.accountId) {
    throw invalidParameter('registryId', 'Registry id must be the account of the caller');
  }
  if (state.repositories[name]) {
    throw new AwsFault('RepositoryAlreadyExistsException',
      `The repository with name '${name}' already exists in the registry with id '${registryId}'`);
  }
  const mutability = tagMutability(input) ?? 'MUTABLE';
  const scanOnPush = optBool(optObject(input, 'imageScanningConfiguration') ?? {}, 'scanOnPush') ?? false;
  const enc = encryption(ctx, input);
  checkTags(input);
  const repo: Repository = {
    name, arn: repositoryArn(state.region, state.accountId, name), registryId: state.accountId,
    createdAt: ctx.world.now(), tagMutability: mutability, scanOnPush, encryption: enc,
    images: {}, tags: {}, layers: {},
  };
  state.repositories[name] = repo;
  await ctx.world.commit();
  return { repository: repositoryJson(ctx, repo) };
};

const describeRepositories: EcrAction = async (ctx, call) => {
  const input = call.input ?? {};
  const registryId = registryOf(ctx, input);
  const principal = caller(call);
  const names = input.repositoryNames === undefined ? undefined : stringList(input, 'repositoryNames', 1, 100);
  if (names === undefined) {
    authorize(ctx.world, principal, 'ecr:DescribeRepositories', arnOf(ctx, registryId, '*'));
    const all = registryId === ctx.world.state.accountId ? Object.values(ctx.world.state.repositories) : [];
    const page = paginate(input, all, (r) => r.name, 100);
    return { repositories: page.items.map((r) => repositoryJson(ctx, r)), ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }
  if (input.nextToken !== undefined || input.maxResults !== undefined) {
    throw invalidParameter('repositoryNames', 'nextToken and maxResults cannot be used with repositoryNames');
  }
  for (const name of names) {
    checkRepositoryName(name, 'repositoryNames');
    authorize(ctx.world, principal, 'ecr:DescribeRepositories', arnOf(ctx, registryId, name));
  }
  const repos = [...new Set(names)].map((name) => {
    const repo = registryId === ctx.world.state.accountId ? ctx.world.state.repositories[name] : undefined;
    if (!repo) throw repositoryNotFound(name, registryId);
    return repo;
  });
  return { repositories: repos.map((r) => repositoryJson(ctx, r)) };
};

const deleteRepository: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'DeleteRepository');
  const force = optBool(call.input ?? {}, 'force') ?? false;
  if (!force && Object.keys(repo.images).length > 0) {
    throw new AwsFault('RepositoryNotEmptyException',
      `The repository with name '${repo.name}' in registry with id '${repo.registryId}' cannot be deleted because it still contains images`);
  }
  delete ctx.world.state.repositories[repo.name];
  await ctx.world.commit();
  return { repository: repositoryJson(ctx, repo) };
};

const putImageTagMutability: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'PutImageTagMutability');
  const mutability = tagMutability(call.input ?? {});
  if (!mutability) throw invalidParameter('imageTagMutability', 'Member must not be null');
  repo.tagMutability = mutability;
  await ctx.world.commit();
  return { registryId: repo.registryId, repositoryName: repo.name, imageTagMutability: repo.tagMutability };
};

const putImageScanningConfiguration: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'PutImageScanningConfiguration');
  const cfg = optObject(call.input ?? {}, 'imageScanningConfiguration');
  if (!cfg) throw invalidParameter('imageScanningConfiguration', 'Member must not be null');
  repo.scanOnPush = optBool(cfg, 'scanOnPush') ?? false;
  await ctx.world.commit();
  return { registryId: repo.registryId, repositoryName: repo.name, imageScanningConfiguration: { scanOnPush: repo.scanOnPush } };
};

// ---- login and account settings -------------------------------------------------------

const getAuthorizationToken: EcrAction = async (ctx, call) => {
  const principal = caller(call);
  authorize(ctx.world, principal, 'ecr:GetAuthorizationToken', '*');
  const session = call.caller!;
  const now = ctx.world.now();
  const expiresAt = Math.min(now + TOKEN_LIFETIME_MS, session.expiresAt ?? Infinity);
  const password = randomBytes(96).toString('base64');
  const tokens = ctx.world.state.ecrTokens;
  for (const [key, t] of Object.entries(tokens)) if (t.expiresAt <= now) delete tokens[key];
  tokens[ecrTokenKey(password)] = { principal, accessKeyId: session.accessKeyId, expiresAt };
  await ctx.world.commit();
  return {
    authorizationData: [{
      authorizationToken: Buffer.from(`AWS:${password}`, 'utf8').toString('base64'),
      expiresAt: epochSeconds(expiresAt),
      proxyEndpoint: `http://${ctx.registryHost}`,
    }],
  };
};

/** Account settings ECR knows; only BLOB_MOUNTING is stored, the others answer their defaults. */
const SETTINGS: Record<string, { values: string[]; fixed?: string }> = {
  BLOB_MOUNTING: { values: ['ENABLED', 'DISABLED'] },
  BASIC_SCAN_TYPE_VERSION: { values: ['AWS_NATIVE'], fixed: 'AWS_NATIVE' },
  REGISTRY_POLICY_SCOPE: { values: ['V2'], fixed: 'V2' },
};

function settingName(input: Input): string {
  const name = reqString(input, 'name');
  if (!SETTINGS[name]) throw new AwsFault('ValidationException', `Account setting name '${name}' is not valid; valid names: ${Object.keys(SETTINGS).join(', ')}`);
  return name;
}

function settingValue(ctx: SandboxContext, name: string): string {
  if (name === 'BLOB_MOUNTING') return ctx.world.state.settings.blobMounting ? 'ENABLED' : 'DISABLED';
  return SETTINGS[name]!.fixed!;
}

const getAccountSetting: EcrAction = async (ctx, call) => {
  authorize(ctx.world, caller(call), 'ecr:GetAccountSetting', '*');
  const name = settingName(call.input ?? {});
  return { name, value: settingValue(ctx, name) };
};

const putAccountSetting: EcrAction = async (ctx, call) => {
  authorize(ctx.world, caller(call), 'ecr:PutAccountSetting', '*');
  const input = call.input ?? {};
  const name = settingName(input);
  const value = reqString(input, 'value');
  if (!SETTINGS[name]!.values.includes(value)) {
    throw new AwsFault('ValidationException', `Value '${value}' is not valid for account setting ${name}; valid values: ${SETTINGS[name]!.values.join(', ')}`);
  }
  if (name === 'BLOB_MOUNTING') {
    ctx.world.state.settings.blobMounting = value === 'ENABLED';
    await ctx.world.commit();
  }
  return { name, value: settingValue(ctx, name) };
};

// ---- dispatch -------------------------------------------------------------------------

const ACTIONS: Record<string, EcrAction> = {
  CreateRepository: createRepository,
  DescribeRepositories: describeRepositories,
  DeleteRepository: deleteRepository,
  PutImageTagMutability: putImageTagMutability,
  PutImageScanningConfiguration: putImageScanningConfiguration,
  GetAuthorizationToken: getAuthorizationToken,
  GetAccountSetting: getAccountSetting,
  PutAccountSetting: putAccountSetting,
  ...IMAGE_ACTIONS,
  ...LAYER_ACTIONS,
};

export const handleEcr: AwsHandler = async (ctx, call) => {
  const action = Object.hasOwn(ACTIONS, call.action) ? ACTIONS[call.action] : undefined;
  if (!action) throw new AwsFault('UnknownOperationException', `Unknown operation ${call.action}`);
  try {
    return jsonReply(await action(ctx, call));
  } catch (err) {
    // Faults with extra members render here; plain AwsFaults go to the server's jsonFault.
    if (err instanceof EcrFault && Object.keys(err.fields).length) {
      return {
        status: err.status,
        contentType: 'application/x-amz-json-1.1',
        body: JSON.stringify({ __type: err.code, message: err.message, ...err.fields }),
      };
    }
    throw err;
  }
};
