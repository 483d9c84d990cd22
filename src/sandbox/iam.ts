// AWS IAM, Query protocol (IAM API reference, version 2010-05-08): OpenID Connect providers
// here; roles and inline policies in iam-roles.ts; managed policies, attachments and the
// policy simulator in iam-policies.ts. Every call is authorized against the caller's policies.

import { allow, alreadyExists, invalidInput, noSuchEntity, type IamAction } from './iam-common.ts';
import { POLICY_ACTIONS } from './iam-policies.ts';
import { ROLE_ACTIONS } from './iam-roles.ts';
import { AwsFault, isoTime, queryReply, type AwsCall, type AwsHandler } from './protocol.ts';
import { memberList, Validator } from './query-params.ts';
import type { World } from './state.ts';
import { oidcProviderArn, providerUrl, type OidcProvider } from './world.ts';

/** CreateOpenIDConnectProvider: at most 100 client IDs and 5 thumbprints (40 hex digits each). */
const MAX_CLIENT_IDS = 100;
const MAX_THUMBPRINTS = 5;

function providerParam(world: World, call: AwsCall, action: string, v = new Validator(call.params)): OidcProvider {
  const arn = v.required('OpenIDConnectProviderArn', 'openIDConnectProviderArn');
  v.text(arn, 'openIDConnectProviderArn', 20, 2048);
  v.done();
  allow(world, call, action, arn);
  const provider = world.state.oidcProviders[arn];
  if (!provider) throw noSuchEntity(`OpenIDConnect Provider not found for arn ${arn}`);
  return provider;
}

function clientIdParam(v: Validator): string {
  const id = v.required('ClientID', 'clientID');
  v.text(id, 'clientID', 1, 255);
  return id;
}

const createOpenIDConnectProvider: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const url = v.required('Url', 'url');
  v.text(url, 'url', 1, 255);
  const clientIds = memberList(call.params, 'ClientIDList');
  clientIds.forEach((id, i) => v.text(id, `clientIDList.${i + 1}.member`, 1, 255));
  const thumbprints = memberList(call.params, 'ThumbprintList');
  thumbprints.forEach((t, i) => v.text(t, `thumbprintList.${i + 1}.member`, 40, 40));
  v.done();
  if (!/^https:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(url)) throw invalidInput('Invalid Url: it must begin with https:// and have no query or fragment.');
  if (clientIds.length > MAX_CLIENT_IDS) throw new AwsFault('LimitExceeded', `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${MAX_CLIENT_IDS}`, 409);
  if (thumbprints.length > MAX_THUMBPRINTS) throw new AwsFault('LimitExceeded', `Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: ${MAX_THUMBPRINTS}`, 409);
  if (thumbprints.some((t) => !/^[0-9a-fA-F]{40}$/.test(t))) throw invalidInput('Thumbprint must be 40 hexadecimal characters.');
  const state = world.state;
  const arn = oidcProviderArn(state.accountId, providerUrl(url));
  allow(world, call, 'CreateOpenIDConnectProvider', arn);
  if (state.oidcProviders[arn]) throw alreadyExists(`Provider with url ${url} already exists.`);
  state.oidcProviders[arn] = {
    arn, url: providerUrl(url), clientIds: [...new Set(clientIds)], thumbprints,
    createdAt: world.now(),
  };
  await world.commit();
  return { OpenIDConnectProviderArn: arn };
};

/** GetOpenIDConnectProvider returns the URL as IAM stores it, without `https://`. */
const getOpenIDConnectProvider: IamAction = async (world, call) => {
  const p = providerParam(world, call, 'GetOpenIDConnectProvider');
  return { Url: p.url, ClientIDList: p.clientIds, ThumbprintList: p.thumbprints, CreateDate: isoTime(p.createdAt) };
};

const listOpenIDConnectProviders: IamAction = async (world, call) => {
  allow(world, call, 'ListOpenIDConnectProviders', '*');
  const arns = Object.keys(world.state.oidcProviders).sort();
  return { OpenIDConnectProviderList: arns.map((Arn) => ({ Arn })) };
};

/** Deleting a provider does not check the roles that trust it (they just stop working). */
const deleteOpenIDConnectProvider: IamAction = async (world, call) => {
  const p = providerParam(world, call, 'DeleteOpenIDConnectProvider');
  delete world.state.oidcProviders[p.arn];
  await world.commit();
  return undefined;
};

/** Idempotent: adding a client ID that is already there is not an error. */
const addClientID: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const id = clientIdParam(v);
  const p = providerParam(world, call, 'AddClientIDToOpenIDConnectProvider', v);
  if (!p.clientIds.includes(id)) {
    if (p.clientIds.length >= MAX_CLIENT_IDS) throw new AwsFault('LimitExceeded', `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${MAX_CLIENT_IDS}`, 409);
    p.clientIds.push(id);
    await world.commit();
  }
  return undefined;
};

/** "This operation is idempotent; it does not fail … if you try to remove a client ID that does not exist." */
const removeClientID: IamAction = async (world, call) => {
  const v = new Validator(call.params);
  const id = clientIdParam(v);
  const p = providerParam(world, call, 'RemoveClientIDFromOpenIDConnectProvider', v);
  if (p.clientIds.includes(id)) {
    p.clientIds = p.clientIds.filter((c) => c !== id);
    await world.commit();
  }
  return undefined;
};

const ACTIONS: Record<string, IamAction> = {
  CreateOpenIDConnectProvider: createOpenIDConnectProvider,
  GetOpenIDConnectProvider: getOpenIDConnectProvider,
  ListOpenIDConnectProviders: listOpenIDConnectProviders,
  DeleteOpenIDConnectProvider: deleteOpenIDConnectProvider,
  AddClientIDToOpenIDConnectProvider: addClientID,
  RemoveClientIDFromOpenIDConnectProvider: removeClientID,
  ...ROLE_ACTIONS,
  ...POLICY_ACTIONS,
};

export const handleIam: AwsHandler = async (ctx, call) => {
  const action = ACTIONS[call.action];
  if (!action) throw new AwsFault('InvalidAction', `Could not find operation ${call.action} for version 2010-05-08`, 400);
  return queryReply('iam', call.action, await action(ctx.world, call), call.requestId);
};
