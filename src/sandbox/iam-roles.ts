// IAM roles and their inline policies (IAM API reference: CreateRole, GetRole, DeleteRole,
// UpdateAssumeRolePolicy, UpdateRole, ListRoles, PutRolePolicy, GetRolePolicy,
// ListRolePolicies, DeleteRolePolicy). Role names are unique case-insensitively.

import {
  allow, alreadyExists, deleteConflict, encodeDocument, limitExceeded, noSuchEntity, parseDocument, policySize,
  validateTrustPolicy, NAME_PATTERN, NAME_PATTERN_TEXT, PATH_PATTERN, PATH_PATTERN_TEXT, QUOTAS, type IamAction,
} from './iam-common.ts';
import * as ids from './ids.ts';
import { isoTime, type AwsCall, type XmlValue } from './protocol.ts';
import { paginate, Validator } from './query-params.ts';
import type { World } from './state.ts';
import { roleArn, type Role, type WorldState } from './world.ts';

export function findRole(state: WorldState, name: string): Role | undefined {
  const lower = name.toLowerCase();
  return Object.values(state.roles).find((r) => r.name.toLowerCase() === lower);
}

/** The role named by `RoleName`, after authorizing `iam:<action>` on its ARN. */
export function roleParam(world: World, call: AwsCall, action: string, v = new Validator(call.params)): Role {
  const name = v.required('RoleName');
  v.text(name, 'roleName', 1, 64, NAME_PATTERN, NAME_PATTERN_TEXT);
  v.done();
  const role = findRole(world.state, name);
  allow(world, call, action, role?.arn ?? roleArn(world.state.accountId, '/', name));
  if (!role) throw noSuchEntity(`The role with name ${name} cannot be found.`);
  return role;
}

/** The Role structure of GetRole/CreateRole/ListRoles; the trust policy URL-encoded. */
export function roleXml(role: Role): XmlValue {
  return {
    Path: role.path,
    RoleName: role.name,
    RoleId: role.roleId,
    Arn: role.arn,
    CreateDate: isoTime(role.createdAt),
    AssumeRolePolicyDocument: encodeDocument(role.assumeRolePolicy),
    Description: role.description,
    MaxSessionDuration: role.maxSessionDuration,
  };
}

const createRole: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const name = v.required('RoleName');
  v.text(name, 'roleName', 1, 64, NAME_PATTERN, NAME_PATTERN_TEXT);
  const path = v.optional('Path') ?? '/';
  v.text(path, 'path', 1, 512, PATH_PATTERN, PATH_PATTERN_TEXT);
  const doc = v.required('AssumeRolePolicyDocument');
  v.text(doc, 'assumeRolePolicyDocument', 1, 131072);
  const description = v.optional('Description');
  v.text(description, 'description', 0, 1000);
  const maxSession = v.integer('MaxSessionDuration', 'maxSessionDuration', 3600, 43200);
  v.done();
  const state = world.state;
  const arn = roleArn(state.accountId, path, name);
  allow(world, call, 'CreateRole', arn);
  if (findRole(state, name)) throw alreadyExists(`Role with name ${name} already exists.`);
  validateTrustPolicy(state, doc, name);
  const role: Role = {
    name, path, arn, roleId: ids.roleId(), assumeRolePolicy: doc, maxSessionDuration: maxSession ?? 3600,
    ...(description !== undefined ? { description } : {}),
    inlinePolicies: {}, attachedPolicyArns: [], createdAt: world.now(),
  };
  state.roles[name] = role;
  await world.commit();
  return { Role: roleXml(role) };
};

const getRole: IamAction = async (world, call) => ({ Role: roleXml(roleParam(world, call, 'GetRole')) });

/** "You must first remove [inline policies and] … detach managed policies" (DeleteRole). */
const deleteRole: IamAction = async (world, call) => {
  const role = roleParam(world, call, 'DeleteRole');
  if (Object.keys(role.inlinePolicies).length > 0) throw deleteConflict('Cannot delete entity, must delete policies first.');
  if (role.attachedPolicyArns.length > 0) throw deleteConflict('Cannot delete entity, must detach all policies first.');
  delete world.state.roles[role.name];
  await world.commit();
  return undefined;
};

const updateAssumeRolePolicy: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const doc = v.required('PolicyDocument');
  v.text(doc, 'policyDocument', 1, 131072);
  const role = roleParam(world, call, 'UpdateAssumeRolePolicy', v);
  validateTrustPolicy(world.state, doc, role.name);
  role.assumeRolePolicy = doc;
  await world.commit();
  return undefined;
};

const updateRole: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const description = v.optional('Description');
  v.text(description, 'description', 0, 1000);
  const maxSession = v.integer('MaxSessionDuration', 'maxSessionDuration', 3600, 43200);
  const role = roleParam(world, call, 'UpdateRole', v);
  if (description !== undefined) role.description = description;
  if (maxSession !== undefined) role.maxSessionDuration = maxSession;
  await world.commit();
  return {};
};

const listRoles: IamAction = async (world, call) => {
  allow(world, call, 'ListRoles', '*');
  const prefix = call.params.get('PathPrefix') ?? '/';
  const roles = Object.values(world.state.roles)
    .filter((r) => r.path.startsWith(prefix))
    .sort((a, b) => a.name.localeCompare(b.name));
  const { page, ...more } = paginate(roles, call.params);
  return { Roles: page.map(roleXml), ...more };
};

// ---- inline policies ----------------------------------------------------------------------

function policyNameParam(v: Validator): string {
  const name = v.required('PolicyName');
  v.text(name, 'policyName', 1, 128, NAME_PATTERN, NAME_PATTERN_TEXT);
  return name;
}

const putRolePolicy: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const policyName = policyNameParam(v);
  const doc = v.required('PolicyDocument');
  v.text(doc, 'policyDocument', 1, 131072);
  const role = roleParam(world, call, 'PutRolePolicy', v);
  parseDocument(doc, `inline policy ${policyName}`, 'identity');
  const others = Object.entries(role.inlinePolicies).filter(([n]) => n !== policyName);
  const total = others.reduce((sum, [, d]) => sum + policySize(d), policySize(doc));
  if (total > QUOTAS.inlinePoliciesPerRole) {
    throw limitExceeded(`Maximum policy size of ${QUOTAS.inlinePoliciesPerRole} bytes exceeded for role ${role.name}`);
  }
  role.inlinePolicies[policyName] = doc;
  await world.commit();
  return undefined;
};

function inlinePolicy(role: Role, name: string): [string, string] {
  const entry = Object.entries(role.inlinePolicies).find(([n]) => n.toLowerCase() === name.toLowerCase());
  if (!entry) throw noSuchEntity(`The role policy with name ${name} cannot be found.`);
  return entry;
}

const getRolePolicy: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const policyName = policyNameParam(v);
  const role = roleParam(world, call, 'GetRolePolicy', v);
  const [name, doc] = inlinePolicy(role, policyName);
  return { RoleName: role.name, PolicyName: name, PolicyDocument: encodeDocument(doc) };
};

const listRolePolicies: IamAction = async (world, call) => {
  const role = roleParam(world, call, 'ListRolePolicies');
  const { page, ...more } = paginate(Object.keys(role.inlinePolicies).sort(), call.params);
  return { PolicyNames: page, ...more };
};

const deleteRolePolicy: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const policyName = policyNameParam(v);
  const role = roleParam(world, call, 'DeleteRolePolicy', v);
  const [name] = inlinePolicy(role, policyName);
  delete role.inlinePolicies[name];
  await world.commit();
  return undefined;
};

export const ROLE_ACTIONS: Record<string, IamAction> = {
  CreateRole: createRole,
  GetRole: getRole,
  DeleteRole: deleteRole,
  UpdateAssumeRolePolicy: updateAssumeRolePolicy,
  UpdateRole: updateRole,
  ListRoles: listRoles,
  PutRolePolicy: putRolePolicy,
  GetRolePolicy: getRolePolicy,
  ListRolePolicies: listRolePolicies,
  DeleteRolePolicy: deleteRolePolicy,
};
