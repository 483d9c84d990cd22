// IAM customer managed policies, their attachment to roles, and SimulatePrincipalPolicy
// (IAM API reference: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, CreatePolicyVersion,
// GetPolicyVersion, ListPolicyVersions, DeletePolicyVersion, AttachRolePolicy,
// DetachRolePolicy, ListAttachedRolePolicies, SimulatePrincipalPolicy).

import { evaluate, type PolicyDocument } from '../policy/index.ts';
import {
  allow, alreadyExists, deleteConflict, encodeDocument, limitExceeded, noSuchEntity, parseDocument, policySize,
  NAME_PATTERN, NAME_PATTERN_TEXT, PATH_PATTERN, PATH_PATTERN_TEXT, QUOTAS, type IamAction,
} from './iam-common.ts';
import { findRole, roleParam } from './iam-roles.ts';
import * as ids from './ids.ts';
import { isoTime, type AwsCall, type XmlValue } from './protocol.ts';
import { boolParam, memberList, memberStructs, paginate, Validator } from './query-params.ts';
import type { World } from './state.ts';
import type { ManagedPolicy, PolicyVersion, Role, WorldState } from './world.ts';

function attachmentCount(state: WorldState, arn: string): number {
  return Object.values(state.roles).filter((r) => r.attachedPolicyArns.includes(arn)).length;
}

/** The Policy structure; ListPolicies leaves out Description (IAM API reference, "Policy"). */
function policyXml(state: WorldState, p: ManagedPolicy, withDescription = true): XmlValue {
  const versions = Object.values(p.versions);
  return {
    PolicyName: p.name,
    PolicyId: p.policyId,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersionId,
    AttachmentCount: attachmentCount(state, p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: withDescription ? p.description : undefined,
    CreateDate: isoTime(p.createdAt),
    UpdateDate: isoTime(Math.max(p.createdAt, ...versions.map((v) => v.createdAt))),
  };
}

function versionXml(p: ManagedPolicy, v: PolicyVersion, withDocument: boolean): XmlValue {
  return {
    Document: withDocument ? encodeDocument(v.document) : undefined,
    VersionId: v.versionId,
    IsDefaultVersion: v.versionId === p.defaultVersionId,
    CreateDate: isoTime(v.createdAt),
  };
}

/** The policy named by `PolicyArn`, after authorizing `iam:<action>` on it. */
function policyParam(world: World, call: AwsCall, action: string, v = new Validator(call.params)): ManagedPolicy {
  const arn = v.required('PolicyArn');
  v.text(arn, 'policyArn', 20, 2048);
  v.done();
  allow(world, call, action, arn);
  const policy = world.state.policies[arn];
  if (!policy) throw noSuchEntity(`Policy ${arn} was not found.`);
  return policy;
}

function checkManagedSize(doc: string): void {
  if (policySize(doc) > QUOTAS.managedPolicySize) {
    throw limitExceeded(`Cannot exceed quota for PolicySize: ${QUOTAS.managedPolicySize}`);
  }
}

const createPolicy: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const name = v.required('PolicyName');
  v.text(name, 'policyName', 1, 128, NAME_PATTERN, NAME_PATTERN_TEXT);
  const path = v.optional('Path') ?? '/';
  v.text(path, 'path', 1, 512, PATH_PATTERN, PATH_PATTERN_TEXT);
  const doc = v.required('PolicyDocument');
  v.text(doc, 'policyDocument', 1, 131072);
  const description = v.optional('Description');
  v.text(description, 'description', 0, 1000);
  v.done();
  const state = world.state;
  const arn = `arn:aws:iam::${state.accountId}:policy${path}${name}`;
  allow(world, call, 'CreatePolicy', arn);
  if (Object.values(state.policies).some((p) => p.name.toLowerCase() === name.toLowerCase() && p.path === path)) {
    throw alreadyExists(`A policy called ${name} already exists. Duplicate names are not allowed.`);
  }
  checkManagedSize(doc);
  parseDocument(doc, arn, 'identity');
  const now = world.now();
  const policy: ManagedPolicy = {
    arn, name, path, policyId: ids.policyId(), defaultVersionId: 'v1',
    ...(description !== undefined ? { description } : {}),
    versions: { v1: { versionId: 'v1', document: doc, createdAt: now } },
    createdAt: now,
  };
  state.policies[arn] = policy;
  await world.commit();
  return { Policy: policyXml(state, policy) };
};

const getPolicy: IamAction = async (world, call) => ({ Policy: policyXml(world.state, policyParam(world, call, 'GetPolicy')) });

const listPolicies: IamAction = async (world, call) => {
  allow(world, call, 'ListPolicies', '*');
  const state = world.state;
  const scope = call.params.get('Scope') ?? 'All';
  const prefix = call.params.get('PathPrefix') ?? '/';
  const onlyAttached = boolParam(call.params, 'OnlyAttached') ?? false;
  // Only customer managed (Local) policies exist in the sandbox; AWS managed ones are not modelled.
  const policies = Object.values(state.policies)
    .filter((p) => scope !== 'AWS' && p.path.startsWith(prefix))
    .filter((p) => !onlyAttached || attachmentCount(state, p.arn) > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
  const { page, ...more } = paginate(policies, call.params);
  return { Policies: page.map((p) => policyXml(state, p, false)), ...more };
};

const deletePolicy: IamAction = async (world, call) => {
  const policy = policyParam(world, call, 'DeletePolicy');
  if (attachmentCount(world.state, policy.arn) > 0) throw deleteConflict('Cannot delete a policy attached to entities.');
  if (Object.keys(policy.versions).length > 1) {
    throw deleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. " +
      'The default version is deleted with the policy.');
  }
  delete world.state.policies[policy.arn];
  await world.commit();
  return undefined;
};

const createPolicyVersion: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const doc = v.required('PolicyDocument');
  v.text(doc, 'policyDocument', 1, 131072);
  const policy = policyParam(world, call, 'CreatePolicyVersion', v);
  if (Object.keys(policy.versions).length >= QUOTAS.policyVersions) {
    throw limitExceeded(`A managed policy can have up to ${QUOTAS.policyVersions} versions. ` +
      'Before you create a new version, you must delete an existing version.');
  }
  checkManagedSize(doc);
  parseDocument(doc, policy.arn, 'identity');
  const next = Math.max(0, ...Object.keys(policy.versions).map((id) => Number(id.slice(1)))) + 1;
  const version: PolicyVersion = { versionId: `v${next}`, document: doc, createdAt: world.now() };
  policy.versions[version.versionId] = version;
  if (boolParam(call.params, 'SetAsDefault')) policy.defaultVersionId = version.versionId;
  await world.commit();
  return { PolicyVersion: versionXml(policy, version, false) };
};

function versionParam(world: World, call: AwsCall, action: string): [ManagedPolicy, PolicyVersion] {
  const v = new Validator(call.params);
  const versionId = v.required('VersionId');
  v.text(versionId, 'versionId', 1, 128, /v[1-9][0-9]*(\.[A-Za-z0-9-]*)?/, 'v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?');
  const policy = policyParam(world, call, action, v);
  const version = policy.versions[versionId];
  if (!version) throw noSuchEntity(`Policy ${policy.arn} version ${versionId} does not exist or is not attachable.`);
  return [policy, version];
}

const getPolicyVersion: IamAction = async (world, call) => {
  const [policy, version] = versionParam(world, call, 'GetPolicyVersion');
  return { PolicyVersion: versionXml(policy, version, true) };
};

const listPolicyVersions: IamAction = async (world, call) => {
  const policy = policyParam(world, call, 'ListPolicyVersions');
  const versions = Object.values(policy.versions).sort((a, b) => b.createdAt - a.createdAt);
  const { page, ...more } = paginate(versions, call.params);
  return { Versions: page.map((v) => versionXml(policy, v, false)), ...more };
};

const deletePolicyVersion: IamAction = async (world, call) => {
  const [policy, version] = versionParam(world, call, 'DeletePolicyVersion');
  if (version.versionId === policy.defaultVersionId) {
    throw deleteConflict('Cannot delete the default version of a policy.');
  }
  delete policy.versions[version.versionId];
  await world.commit();
  return undefined;
};

// ---- attachments ------------------------------------------------------------------------

/** The role and the policy of Attach/DetachRolePolicy, authorized on the role. */
function attachmentParams(world: World, call: AwsCall, action: string): [Role, string] {
  const v = new Validator(call.params);
  const arn = v.required('PolicyArn');
  v.text(arn, 'policyArn', 20, 2048);
  return [roleParam(world, call, action, v), arn];
}

const attachRolePolicy: IamAction = async (world, call) => {
  const [role, arn] = attachmentParams(world, call, 'AttachRolePolicy');
  if (!world.state.policies[arn]) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
  if (role.attachedPolicyArns.includes(arn)) return undefined;
  if (role.attachedPolicyArns.length >= QUOTAS.attachedPoliciesPerRole) {
    throw limitExceeded(`Cannot exceed quota for PoliciesPerRole: ${QUOTAS.attachedPoliciesPerRole}`);
  }
  role.attachedPolicyArns.push(arn);
  await world.commit();
  return undefined;
};

const detachRolePolicy: IamAction = async (world, call) => {
  const [role, arn] = attachmentParams(world, call, 'DetachRolePolicy');
  if (!role.attachedPolicyArns.includes(arn)) throw noSuchEntity(`Policy ${arn} was not found.`);
  role.attachedPolicyArns = role.attachedPolicyArns.filter((a) => a !== arn);
  await world.commit();
  return undefined;
};

const listAttachedRolePolicies: IamAction = async (world, call) => {
  const role = roleParam(world, call, 'ListAttachedRolePolicies');
  const attached = role.attachedPolicyArns.flatMap((arn) => {
    const p = world.state.policies[arn];
    return p ? [{ PolicyName: p.name, PolicyArn: p.arn }] : [];
  });
  const { page, ...more } = paginate(attached, call.params);
  return { AttachedPolicies: page, ...more };
};

// ---- SimulatePrincipalPolicy --------------------------------------------------------------

const DECISIONS = { 'allow': 'allowed', 'explicit-deny': 'explicitDeny', 'implicit-deny': 'implicitDeny' } as const;

/**
 * Evaluates the role's identity policies (inline and attached) for each action × resource, as
 * the IAM policy simulator does for a role (`PolicySourceArn` = role ARN). Resources default
 * to `*`; ContextEntries supply condition keys.
 */
const simulatePrincipalPolicy: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const source = v.required('PolicySourceArn');
  v.text(source, 'policySourceArn', 20, 2048);
  const actions = memberList(call.params, 'ActionNames');
  if (actions.length === 0) v.fail('null', 'actionNames', 'Member must not be null');
  v.done();
  allow(world, call, 'SimulatePrincipalPolicy', source);
  const role = /^arn:aws:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(source)?.[1];
  const found = role === undefined ? undefined : findRole(world.state, role);
  if (!found || found.arn !== source) throw noSuchEntity(`Entity ${source} does not exist.`);
  const { docs, sources } = simulationPolicies(world.state, found);
  const resources = memberList(call.params, 'ResourceArns');
  const keys = { 'aws:PrincipalArn': found.arn, ...contextKeys(call.params) };
  const results = actions.flatMap((action) => (resources.length > 0 ? resources : ['*']).map((resource) => {
    const ev = evaluate(docs, { action, resource, keys });
    const matched = ev.statements.filter((s) => s.applies && (ev.decision === 'explicit-deny' ? s.effect === 'Deny' : s.effect === 'Allow'));
    return {
      EvalActionName: action,
      EvalResourceName: resource,
      EvalDecision: DECISIONS[ev.decision],
      MatchedStatements: matched.map((s) => sources.get(s.policy)).filter((x) => x !== undefined),
      MissingContextValues: [],
    };
  }));
  return { EvaluationResults: results, IsTruncated: false };
};

/** Inline policies (SourcePolicyType `role`) and attached customer managed ones (`user-managed`). */
function simulationPolicies(state: WorldState, role: Role): { docs: PolicyDocument[]; sources: Map<string, XmlValue> } {
  const docs: PolicyDocument[] = [];
  const sources = new Map<string, XmlValue>();
  for (const [name, doc] of Object.entries(role.inlinePolicies)) {
    docs.push(parseDocument(doc, `inline:${name}`, 'identity'));
    sources.set(`inline:${name}`, { SourcePolicyId: name, SourcePolicyType: 'role' });
  }
  for (const arn of role.attachedPolicyArns) {
    const p = state.policies[arn];
    if (!p) continue;
    docs.push(parseDocument(p.versions[p.defaultVersionId]!.document, arn, 'identity'));
    sources.set(arn, { SourcePolicyId: p.name, SourcePolicyType: 'user-managed' });
  }
  return { docs, sources };
}

/** `ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M, ContextKeyType}`. */
function contextKeys(params: URLSearchParams): Record<string, string | string[]> {
  const keys: Record<string, string | string[]> = {};
  for (const entry of memberStructs(params, 'ContextEntries')) {
    const name = entry['ContextKeyName'];
    if (!name) continue;
    const values = Object.entries(entry)
      .filter(([k]) => /^ContextKeyValues\.member\.\d+$/.test(k))
      .sort(([a], [b]) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
      .map(([, val]) => val);
    keys[name] = (entry['ContextKeyType'] ?? '').endsWith('List') ? values : values[0] ?? '';
  }
  return keys;
}

export const POLICY_ACTIONS: Record<string, IamAction> = {
  CreatePolicy: createPolicy,
  GetPolicy: getPolicy,
  ListPolicies: listPolicies,
  DeletePolicy: deletePolicy,
  CreatePolicyVersion: createPolicyVersion,
  GetPolicyVersion: getPolicyVersion,
  ListPolicyVersions: listPolicyVersions,
  DeletePolicyVersion: deletePolicyVersion,
  AttachRolePolicy: attachRolePolicy,
  DetachRolePolicy: detachRolePolicy,
  ListAttachedRolePolicies: listAttachedRolePolicies,
  SimulatePrincipalPolicy: simulatePrincipalPolicy,
};
