// The facts `hoist doctor` reads from AWS, each as a value or the reason it could not be read
// (AccessDenied is common: the job's own role usually may not read IAM). Read-only calls only,
// plus the harmless ECR probes a role can make without changing anything.

import type { IAMClient } from '@aws-sdk/client-iam';
import { ecrClient, ecrSdk, iamSdk, type AwsCredentials, type AwsTarget } from '../aws/clients.ts';
import { awsErrorName } from '../aws/errors.ts';
import { CREATE_ACTION, LOGIN_ACTION, PUSH_ACTIONS, type ActionVerdicts, type OidcProviderFact, type PolicyFile } from '../doctor/index.ts';

/** A fact, or why it is unknown (`AccessDenied: …`). */
export type Fact<T> = { ok: true; value: T } | { ok: false; error: string; name: string };

export async function fact<T>(fn: () => Promise<T>): Promise<Fact<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const e = err as { message?: string };
    return { ok: false, name: awsErrorName(err), error: `${awsErrorName(err)}: ${e?.message ?? String(err)}` };
  }
}

export async function listProviders(iam: IAMClient): Promise<OidcProviderFact[]> {
  const { GetOpenIDConnectProviderCommand, ListOpenIDConnectProvidersCommand } = await iamSdk();
  const list = await iam.send(new ListOpenIDConnectProvidersCommand({}));
  const out: OidcProviderFact[] = [];
  for (const { Arn } of list.OpenIDConnectProviderList ?? []) {
    if (!Arn) continue;
    const p = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: Arn }));
    out.push({ arn: Arn, url: (p.Url ?? Arn.replace(/^.*oidc-provider\//, '')).replace(/^https?:\/\//, ''), clientIds: p.ClientIDList ?? [] });
  }
  return out;
}

export interface RoleFact {
  arn: string;
  trustPolicy: string;
}

/** undefined when the role does not exist (NoSuchEntity). */
export async function getRole(iam: IAMClient, name: string): Promise<RoleFact | undefined> {
  const { GetRoleCommand } = await iamSdk();
  try {
    const out = await iam.send(new GetRoleCommand({ RoleName: name }));
    return { arn: out.Role?.Arn ?? '', trustPolicy: policyText(out.Role?.AssumeRolePolicyDocument ?? '') };
  } catch (err) {
    if (awsErrorName(err) === 'NoSuchEntityException' || awsErrorName(err) === 'NoSuchEntity') return undefined;
    throw err;
  }
}

/** IAM returns policy documents URL-encoded (RFC 3986). */
function policyText(raw: string): string {
  const t = raw.trim();
  return t.startsWith('{') ? t : decodeURIComponent(t);
}

/** The role's inline and attached (default version) policy documents. */
export async function rolePolicies(iam: IAMClient, role: string): Promise<PolicyFile[]> {
  const { GetPolicyCommand, GetPolicyVersionCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } = await iamSdk();
  const files: PolicyFile[] = [];
  const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: role }));
  for (const name of inline.PolicyNames ?? []) {
    const p = await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: name }));
    files.push({ text: policyText(p.PolicyDocument ?? ''), source: `role ${role} inline policy ${name}` });
  }
  const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }));
  for (const { PolicyArn } of attached.AttachedPolicies ?? []) {
    if (!PolicyArn) continue;
    const meta = await iam.send(new GetPolicyCommand({ PolicyArn }));
    const v = await iam.send(new GetPolicyVersionCommand({ PolicyArn, VersionId: meta.Policy?.DefaultVersionId ?? 'v1' }));
    files.push({ text: policyText(v.PolicyVersion?.Document ?? ''), source: `policy ${PolicyArn}` });
  }
  return files;
}

/** The IAM policy simulator for the role: GetAuthorizationToken on "*", the rest on the repository ARN. */
export async function simulate(iam: IAMClient, roleArn: string, repositoryArn: string): Promise<ActionVerdicts> {
  const { SimulatePrincipalPolicyCommand } = await iamSdk();
  const verdicts: ActionVerdicts = {};
  const run = async (actions: string[], resources?: string[]) => {
    const out = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: actions, ...(resources ? { ResourceArns: resources } : {}) }));
    for (const r of out.EvaluationResults ?? []) {
      if (!r.EvalActionName) continue;
      const allowed = r.EvalDecision === 'allowed';
      verdicts[r.EvalActionName] = allowed ? { allowed } : { allowed, why: `the policy simulator says ${r.EvalDecision}` };
    }
  };
  await run([LOGIN_ACTION]);
  await run([...PUSH_ACTIONS, CREATE_ACTION], [repositoryArn]);
  return verdicts;
}

/**
 * What the assumed role can show about itself without changing anything: the ECR login and
 * DescribeRepositories. The write actions (uploads, PutImage, CreateRepository) stay unknown.
 */
export async function probe(target: AwsTarget, creds: AwsCredentials, repository: string): Promise<ActionVerdicts> {
  const { DescribeRepositoriesCommand, GetAuthorizationTokenCommand } = await ecrSdk();
  const ecr = await ecrClient(target, creds);
  const verdict = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return { allowed: true };
    } catch (err) {
      const name = awsErrorName(err);
      if (/AccessDenied/i.test(name)) return { allowed: false, why: `probe answered ${name}` };
      return { allowed: name === 'RepositoryNotFoundException' ? true : undefined, why: `probe answered ${name}` };
    }
  };
  try {
    return {
      [LOGIN_ACTION]: await verdict(() => ecr.send(new GetAuthorizationTokenCommand({}))),
      'ecr:DescribeRepositories': await verdict(() => ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repository] }))),
    };
  } finally {
    ecr.destroy();
  }
}

/** undefined when the repository does not exist. */
export async function describeRepository(target: AwsTarget, creds: AwsCredentials, name: string): Promise<{ uri: string } | undefined> {
  const { DescribeRepositoriesCommand } = await ecrSdk();
  const ecr = await ecrClient(target, creds);
  try {
    const out = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    return { uri: out.repositories?.[0]?.repositoryUri ?? name };
  } catch (err) {
    if (awsErrorName(err) === 'RepositoryNotFoundException') return undefined;
    throw err;
  } finally {
    ecr.destroy();
  }
}
