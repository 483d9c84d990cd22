// The default world is the seed's: account 831955480324 in ap-south-1, an IAM OIDC provider
// for gitlab.com with client ID sts.amazonaws.com, and the role gitlab-runner-ecr-role with
// the seed's trust policy and permissions list. No repository exists yet (the seed's job
// creates it).

import * as ids from './ids.ts';
import { generateSigningKey } from './oidc.ts';
import { oidcProviderArn, providerUrl, repositoryArn, roleArn, type Role, type WorldState } from './world.ts';

export const SEED = {
  accountId: '831955480324',
  region: 'ap-south-1',
  roleName: 'gitlab-runner-ecr-role',
  repository: 'order-microservice',
  issuer: 'https://gitlab.com',
  audience: 'sts.amazonaws.com',
  projectPath: 'mygroup/myrepo',
} as const;

export interface WorldSeed {
  accountId?: string;
  region?: string;
  issuer?: string;
}

/** Only the account and its root user (`hoist sandbox --empty`). */
export function emptyWorld(seed: WorldSeed = {}): WorldState {
  return {
    version: 1,
    accountId: seed.accountId ?? SEED.accountId,
    region: seed.region ?? SEED.region,
    issuerUrl: seed.issuer ?? SEED.issuer,
    signingKeys: [generateSigningKey()],
    rootUser: { accessKeyId: ids.accessKeyId(false), secretAccessKey: ids.secretAccessKey(), userId: ids.userId() },
    oidcProviders: {},
    roles: {},
    policies: {},
    sessions: {},
    ecrTokens: {},
    repositories: {},
    settings: { blobMounting: false },
  };
}

export function seedTrustPolicy(accountId: string, issuer: string, projectPath: string): string {
  const host = providerUrl(issuer);
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Principal: { Federated: oidcProviderArn(accountId, host) },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { [`${host}:aud`]: SEED.audience },
        StringLike: { [`${host}:sub`]: `project_path:${projectPath}:ref_type:branch:ref:*` },
      },
    }],
  }, null, 2);
}

/** The seed's "Permissions policy" list, scoped to the repository ARN. */
export function seedPermissionsPolicy(region: string, accountId: string, repository: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Sid: 'PushPull',
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload',
          'ecr:UploadLayerPart', 'ecr:PutImage', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer',
          'ecr:DescribeRepositories', 'ecr:CreateRepository',
        ],
        Resource: repositoryArn(region, accountId, repository),
      },
    ],
  }, null, 2);
}

export function seedWorld(seed: WorldSeed = {}): WorldState {
  const state = emptyWorld(seed);
  const now = Date.now();
  const host = providerUrl(state.issuerUrl);
  const providerArn = oidcProviderArn(state.accountId, host);
  state.oidcProviders[providerArn] = {
    arn: providerArn, url: host, clientIds: [SEED.audience], thumbprints: [], createdAt: now,
  };
  const role: Role = {
    name: SEED.roleName,
    path: '/',
    arn: roleArn(state.accountId, '/', SEED.roleName),
    roleId: ids.roleId(),
    assumeRolePolicy: seedTrustPolicy(state.accountId, state.issuerUrl, SEED.projectPath),
    maxSessionDuration: 3600,
    inlinePolicies: { 'ecr-push': seedPermissionsPolicy(state.region, state.accountId, SEED.repository) },
    attachedPolicyArns: [],
    createdAt: now,
  };
  state.roles[role.name] = role;
  return state;
}
