// The sandbox's state: one AWS account as plain JSON-serialisable data, so it can live in
// memory or be persisted atomically to `--dir` (DESIGN §3). Blobs live in the BlobStore.

export type Principal =
  | { kind: 'root'; accountId: string; arn: string; userId: string }
  | {
      kind: 'assumed-role';
      accountId: string;
      /** arn:aws:sts::<acct>:assumed-role/<role>/<session> — what GetCallerIdentity returns. */
      arn: string;
      roleName: string;
      roleArn: string;
      roleId: string;
      sessionName: string;
    };

/** Credentials the sandbox issued; SigV4 requests are verified against these. */
export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present for temporary credentials (STS). */
  sessionToken?: string;
  /** Epoch ms; absent = never expires (root keys). */
  expiresAt?: number;
  principal: Principal;
}

export interface OidcProvider {
  arn: string;
  /** Issuer URL without scheme, as IAM stores it: `gitlab.com`. */
  url: string;
  clientIds: string[];
  thumbprints: string[];
  createdAt: number;
}

export interface Role {
  name: string;
  path: string;
  arn: string;
  roleId: string;
  /** The trust policy document, as the JSON text the user gave. */
  assumeRolePolicy: string;
  /** Seconds, 3600..43200. */
  maxSessionDuration: number;
  description?: string;
  /** Inline policies: name → JSON text. */
  inlinePolicies: Record<string, string>;
  attachedPolicyArns: string[];
  createdAt: number;
}

export interface PolicyVersion {
  versionId: string;
  document: string;
  createdAt: number;
}

export interface ManagedPolicy {
  arn: string;
  name: string;
  path: string;
  policyId: string;
  description?: string;
  defaultVersionId: string;
  versions: Record<string, PolicyVersion>;
  createdAt: number;
}

export interface ImageRecord {
  digest: string;
  mediaType: string;
  /** Manifest size in bytes; the manifest bytes are a blob in the BlobStore. */
  manifestSize: number;
  /** Sum of the layer sizes, as ECR reports imageSizeInBytes. */
  imageSize: number;
  pushedAt: number;
  /** Child digests for an index, layer + config digests for a manifest. */
  references: string[];
}

export interface Repository {
  name: string;
  arn: string;
  registryId: string;
  createdAt: number;
  tagMutability: 'MUTABLE' | 'IMMUTABLE';
  scanOnPush: boolean;
  encryption: { encryptionType: 'AES256' | 'KMS'; kmsKey?: string };
  /** Manifests by digest. */
  images: Record<string, ImageRecord>;
  /** Tag → manifest digest. */
  tags: Record<string, string>;
  /** Blobs linked to this repository (uploaded or mounted here): digest → size. */
  layers: Record<string, number>;
}

export interface EcrToken {
  /** The principal that called GetAuthorizationToken; registry calls act as it. */
  principal: Principal;
  /** The credentials it came from: if they are revoked, so is the token. */
  accessKeyId: string;
  expiresAt: number;
}

export interface SigningKey {
  kid: string;
  /** PKCS#8 PEM; the sandbox's own issuer key (not a user secret, but never logged). */
  privateKeyPem: string;
  publicJwk: Record<string, string>;
}

export interface WorldState {
  version: 1;
  accountId: string;
  region: string;
  /** The issuer the sandbox's OIDC endpoint presents, e.g. https://gitlab.com. */
  issuerUrl: string;
  signingKeys: SigningKey[];
  rootUser: { accessKeyId: string; secretAccessKey: string; userId: string };
  oidcProviders: Record<string, OidcProvider>;
  roles: Record<string, Role>;
  policies: Record<string, ManagedPolicy>;
  sessions: Record<string, Session>;
  /** Keyed by the SHA-256 of the password, so the state file holds no usable secret. */
  ecrTokens: Record<string, EcrToken>;
  repositories: Record<string, Repository>;
  settings: {
    /** ECR's BLOB_MOUNTING account setting: off by default, as on ECR. */
    blobMounting: boolean;
  };
}

export function rootPrincipal(state: Pick<WorldState, 'accountId' | 'rootUser'>): Principal {
  return {
    kind: 'root',
    accountId: state.accountId,
    arn: `arn:aws:iam::${state.accountId}:root`,
    userId: state.rootUser.userId,
  };
}

export function repositoryArn(region: string, accountId: string, name: string): string {
  return `arn:aws:ecr:${region}:${accountId}:repository/${name}`;
}

export function roleArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:role${path}${name}`;
}

export function oidcProviderArn(accountId: string, url: string): string {
  return `arn:aws:iam::${accountId}:oidc-provider/${url}`;
}

/** IAM stores an issuer without its scheme and trailing slash. */
export function providerUrl(issuer: string): string {
  return issuer.replace(/^https:\/\//, '').replace(/\/+$/, '');
}
