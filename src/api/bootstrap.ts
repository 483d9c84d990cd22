// `hoist bootstrap`: the seed's Prerequisites 1–3 through the AWS APIs, idempotently — the
// OIDC provider (with the audience as a client ID), the role and its trust policy, the
// inline least-privilege policy, the ECR repository. Documents come from the same generators
// as `hoist init`, so both always agree. A dry run reads and plans, and changes nothing.

import type { AwsCredentials, AwsTarget } from '../aws/clients.ts';
import { ensureRepository } from '../aws/ecr.ts';
import { openIam, type Iam } from '../aws/iam.ts';
import { getCallerIdentity } from '../aws/sts.ts';
import { HoistError, isHoistError } from '../errors.ts';
import {
  parseInitSpec, permissionsPolicy, policyText, providerArnOf, samePolicy, trustPolicy, type InitInput, type InitSpec,
} from '../generate/index.ts';

export type ChangeAction = 'create' | 'update' | 'unchanged';

export interface ResourceChange {
  kind: 'oidc-provider' | 'role' | 'role-policy' | 'repository';
  id: string;
  action: ChangeAction;
  /** What differs, for an update. */
  detail?: string;
}

export interface BootstrapOutcome {
  dryRun: boolean;
  roleArn: string;
  changes: ResourceChange[];
}

export interface BootstrapRequest {
  input: InitInput;
  target: AwsTarget;
  credentials: AwsCredentials;
  dryRun?: boolean;
}

interface Ctx {
  spec: InitSpec;
  iam: Iam;
  apply: boolean;
}

export async function bootstrap(req: BootstrapRequest): Promise<BootstrapOutcome> {
  const spec = parseInitSpec(req.input);
  await checkAccount(req, spec);
  const iam = await openIam(req.target, req.credentials);
  const ctx: Ctx = { spec, iam, apply: req.dryRun !== true };
  try {
    const changes = [await provider(ctx)];
    const role = await roleChange(ctx);
    changes.push(role.change, await rolePolicy(ctx, role.exists), await repository(req, spec, ctx.apply));
    return { dryRun: !ctx.apply, roleArn: role.arn, changes };
  } finally {
    iam.close();
  }
}

/** Refuse to create anything in an account other than the one asked for. */
async function checkAccount(req: BootstrapRequest, spec: InitSpec): Promise<void> {
  const who = await getCallerIdentity(req.target, req.credentials);
  if (who.account !== spec.account) {
    throw new HoistError(`the credentials belong to account ${who.account} (${who.arn}), not ${spec.account}`, {
      code: 'bootstrap.wrong-account', op: 'GetCallerIdentity',
      hint: `Use an administrator's credentials for account ${spec.account}, or pass --account ${who.account}.`,
    });
  }
}

async function provider(ctx: Ctx): Promise<ResourceChange> {
  const { spec, iam } = ctx;
  const arn = providerArnOf(spec);
  const found = await iam.getOidcProvider(arn);
  if (!found) {
    if (ctx.apply) await iam.createOidcProvider(spec.issuer, [spec.audience]);
    return { kind: 'oidc-provider', id: arn, action: 'create', detail: `client ID ${spec.audience}` };
  }
  if (found.clientIds.includes(spec.audience)) return { kind: 'oidc-provider', id: arn, action: 'unchanged' };
  if (ctx.apply) await iam.addClientId(arn, spec.audience);
  return { kind: 'oidc-provider', id: arn, action: 'update', detail: `add client ID ${spec.audience}` };
}

async function roleChange(ctx: Ctx): Promise<{ change: ResourceChange; exists: boolean; arn: string }> {
  const { spec, iam } = ctx;
  const doc = policyText(trustPolicy(spec));
  const found = await iam.getRole(spec.roleName);
  const planned = `arn:${spec.partition}:iam::${spec.account}:role/${spec.roleName}`;
  if (!found) {
    const arn = ctx.apply ? (await iam.createRole(spec.roleName, doc, `GitLab CI of ${spec.projectPath} pushes to ECR ${spec.repository} (hoist)`)).arn : planned;
    return { change: { kind: 'role', id: arn, action: 'create' }, exists: ctx.apply, arn };
  }
  if (samePolicy(found.trustPolicy, doc)) return { change: { kind: 'role', id: found.arn, action: 'unchanged' }, exists: true, arn: found.arn };
  if (ctx.apply) await iam.updateTrustPolicy(spec.roleName, doc);
  return { change: { kind: 'role', id: found.arn, action: 'update', detail: 'trust policy differs' }, exists: true, arn: found.arn };
}

async function rolePolicy(ctx: Ctx, roleExists: boolean): Promise<ResourceChange> {
  const { spec, iam } = ctx;
  const id = `${spec.roleName}/${spec.policyName}`;
  const doc = policyText(permissionsPolicy(spec));
  const found = roleExists ? await iam.getRolePolicy(spec.roleName, spec.policyName) : undefined;
  if (found !== undefined && samePolicy(found, doc)) return { kind: 'role-policy', id, action: 'unchanged' };
  if (ctx.apply) await iam.putRolePolicy(spec.roleName, spec.policyName, doc);
  return found === undefined
    ? { kind: 'role-policy', id, action: 'create' }
    : { kind: 'role-policy', id, action: 'update', detail: 'permissions policy differs' };
}

async function repository(req: BootstrapRequest, spec: InitSpec, apply: boolean): Promise<ResourceChange> {
  const id = `${spec.repository} (${spec.region})`;
  try {
    const r = await ensureRepository(req.target, req.credentials, spec.repository, { create: apply });
    return { kind: 'repository', id: r.uri || id, action: r.created ? 'create' : 'unchanged' };
  } catch (err) {
    if (!apply && isHoistError(err, 'ecr.repository-missing')) return { kind: 'repository', id, action: 'create' };
    throw err;
  }
}
