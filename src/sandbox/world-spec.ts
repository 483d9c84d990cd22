// `hoist sandbox --world FILE`: a world described as JSON, validated with every problem
// named by its JSON path, then turned into WorldState on top of an empty account.

import { HoistError, assertNoProblems, type Problem } from '../errors.ts';
import { emptyWorld } from './defaults.ts';
import * as ids from './ids.ts';
import { oidcProviderArn, providerUrl, repositoryArn, roleArn, type WorldState } from './world.ts';

export interface WorldSpec {
  accountId?: string;
  region?: string;
  issuer?: string;
  oidcProviders?: { url: string; clientIds?: string[] }[];
  roles?: {
    name: string;
    trustPolicy: unknown;
    maxSessionDuration?: number;
    inlinePolicies?: Record<string, unknown>;
  }[];
  repositories?: { name: string; tagMutability?: 'MUTABLE' | 'IMMUTABLE'; scanOnPush?: boolean }[];
  settings?: { blobMounting?: boolean };
}

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

export function parseWorldSpec(json: string, source: string): WorldSpec {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new HoistError(`${source}: not valid JSON (${(err as Error).message})`, {
      code: 'config.invalid', hint: 'Fix the JSON syntax of the world file.',
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HoistError(`${source}: a world file is a JSON object`, { code: 'config.invalid' });
  }
  const spec = value as WorldSpec;
  assertNoProblems(specProblems(spec, source), `world file ${source}`);
  return spec;
}

function specProblems(spec: WorldSpec, source: string): Problem[] {
  const problems: Problem[] = [];
  const at = (path: string) => `${source}: ${path}`;
  if (spec.accountId !== undefined && !ACCOUNT.test(spec.accountId)) {
    problems.push({ source: at('accountId'), message: `"${spec.accountId}" is not a 12-digit AWS account ID` });
  }
  if (spec.region !== undefined && !REGION.test(spec.region)) {
    problems.push({ source: at('region'), message: `"${spec.region}" is not an AWS region name like ap-south-1` });
  }
  spec.oidcProviders?.forEach((p, i) => {
    if (typeof p.url !== 'string' || !p.url.startsWith('https://')) {
      problems.push({ source: at(`oidcProviders[${i}].url`), message: 'must be an https:// issuer URL' });
    }
  });
  spec.roles?.forEach((r, i) => {
    if (typeof r.name !== 'string' || !/^[\w+=,.@-]{1,64}$/.test(r.name)) {
      problems.push({ source: at(`roles[${i}].name`), message: 'must be 1-64 characters of [A-Za-z0-9+=,.@_-]' });
    }
    if (typeof r.trustPolicy !== 'object' || r.trustPolicy === null) {
      problems.push({ source: at(`roles[${i}].trustPolicy`), message: 'must be a policy document object' });
    }
  });
  spec.repositories?.forEach((r, i) => {
    if (typeof r.name !== 'string' || r.name.length < 2) {
      problems.push({ source: at(`repositories[${i}].name`), message: 'must be an ECR repository name' });
    }
  });
  return problems;
}

export function worldFromSpec(spec: WorldSpec): WorldState {
  const state = emptyWorld({ accountId: spec.accountId, region: spec.region, issuer: spec.issuer });
  const now = Date.now();
  for (const p of spec.oidcProviders ?? []) {
    const url = providerUrl(p.url);
    const arn = oidcProviderArn(state.accountId, url);
    state.oidcProviders[arn] = { arn, url, clientIds: p.clientIds ?? ['sts.amazonaws.com'], thumbprints: [], createdAt: now };
  }
  for (const r of spec.roles ?? []) {
    state.roles[r.name] = {
      name: r.name, path: '/', arn: roleArn(state.accountId, '/', r.name), roleId: ids.roleId(),
      assumeRolePolicy: JSON.stringify(r.trustPolicy),
      maxSessionDuration: r.maxSessionDuration ?? 3600,
      inlinePolicies: Object.fromEntries(Object.entries(r.inlinePolicies ?? {}).map(([k, v]) => [k, JSON.stringify(v)])),
      attachedPolicyArns: [], createdAt: now,
    };
  }
  for (const r of spec.repositories ?? []) {
    state.repositories[r.name] = {
      name: r.name, arn: repositoryArn(state.region, state.accountId, r.name), registryId: state.accountId,
      createdAt: now, tagMutability: r.tagMutability ?? 'MUTABLE', scanOnPush: r.scanOnPush ?? false,
      encryption: { encryptionType: 'AES256' }, images: {}, tags: {}, layers: {},
    };
  }
  state.settings.blobMounting = spec.settings?.blobMounting ?? false;
  return state;
}
