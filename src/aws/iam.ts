// The IAM calls `hoist bootstrap` needs, with AWS's "not found" turned into undefined and
// every other failure into a HoistError naming the call and the permission it needs.

import { iamClient, iamSdk, type AwsCredentials, type AwsTarget } from './clients.ts';
import { awsErrorName, wrapAwsError } from './errors.ts';

export interface OidcProviderInfo {
  arn: string;
  /** As IAM stores it: without `https://`. */
  url: string;
  clientIds: string[];
}

export interface RoleInfo {
  arn: string;
  /** The trust policy document, decoded (IAM returns it URL-encoded). */
  trustPolicy: string;
}

export interface Iam {
  getOidcProvider(arn: string): Promise<OidcProviderInfo | undefined>;
  createOidcProvider(url: string, clientIds: string[]): Promise<string>;
  addClientId(arn: string, clientId: string): Promise<void>;
  getRole(name: string): Promise<RoleInfo | undefined>;
  createRole(name: string, trustPolicy: string, description: string): Promise<RoleInfo>;
  updateTrustPolicy(name: string, trustPolicy: string): Promise<void>;
  getRolePolicy(role: string, policy: string): Promise<string | undefined>;
  putRolePolicy(role: string, policy: string, document: string): Promise<void>;
  close(): void;
}

const decode = (doc: string | undefined) => decodeURIComponent(doc ?? '');

async function call<T>(op: string, hint: string, fn: () => Promise<T>, notFound?: () => T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (notFound && awsErrorName(err) === 'NoSuchEntityException') return notFound();
    const denied = awsErrorName(err) === 'AccessDenied' || awsErrorName(err) === 'AccessDeniedException';
    throw wrapAwsError(err, op, denied ? 'iam.access-denied' : 'iam.failed', hint);
  }
}

const needs = (action: string) => `The credentials need iam:${action} (hoist bootstrap runs with an administrator's credentials).`;

export async function openIam(target: AwsTarget, credentials: AwsCredentials): Promise<Iam> {
  const {
    AddClientIDToOpenIDConnectProviderCommand, CreateOpenIDConnectProviderCommand, CreateRoleCommand,
    GetOpenIDConnectProviderCommand, GetRoleCommand, GetRolePolicyCommand, PutRolePolicyCommand,
    UpdateAssumeRolePolicyCommand,
  } = await iamSdk();
  const c = await iamClient(target, credentials);
  return {
    getOidcProvider: (arn) => call('GetOpenIDConnectProvider', needs('GetOpenIDConnectProvider'), async () => {
      const out = await c.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
      return { arn, url: out.Url ?? '', clientIds: out.ClientIDList ?? [] };
    }, () => undefined),
    createOidcProvider: (url, clientIds) => call('CreateOpenIDConnectProvider', needs('CreateOpenIDConnectProvider'), async () => {
      const out = await c.send(new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: clientIds }));
      return out.OpenIDConnectProviderArn ?? '';
    }),
    addClientId: (arn, clientId) => call('AddClientIDToOpenIDConnectProvider', needs('AddClientIDToOpenIDConnectProvider'), async () => {
      await c.send(new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: clientId }));
    }),
    getRole: (name) => call('GetRole', needs('GetRole'), async () => {
      const out = await c.send(new GetRoleCommand({ RoleName: name }));
      return { arn: out.Role?.Arn ?? '', trustPolicy: decode(out.Role?.AssumeRolePolicyDocument) };
    }, () => undefined),
    createRole: (name, trustPolicy, description) => call('CreateRole', needs('CreateRole'), async () => {
      const out = await c.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trustPolicy, Description: description }));
      return { arn: out.Role?.Arn ?? '', trustPolicy };
    }),
    updateTrustPolicy: (name, trustPolicy) => call('UpdateAssumeRolePolicy', needs('UpdateAssumeRolePolicy'), async () => {
      await c.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: trustPolicy }));
    }),
    getRolePolicy: (role, policy) => call('GetRolePolicy', needs('GetRolePolicy'), async () => {
      const out = await c.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }));
      return decode(out.PolicyDocument);
    }, () => undefined),
    putRolePolicy: (role, policy, document) => call('PutRolePolicy', needs('PutRolePolicy'), async () => {
      await c.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: policy, PolicyDocument: document }));
    }),
    close: () => c.destroy(),
  };
}
