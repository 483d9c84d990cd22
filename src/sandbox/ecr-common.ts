// What the ECR API handlers share: typed input readers with ECR's InvalidParameterException
// messages, repository lookup with ECR's RepositoryNotFoundException, authorization on the
// repository ARN, and nextToken pagination.

import { authorize } from './authorize.ts';
import { AwsFault, type AwsCall, type SandboxContext } from './protocol.ts';
import { repositoryArn, type Principal, type Repository } from './world.ts';

/** An ECR fault whose JSON body carries members besides `message` (e.g. InvalidLayerPartException). */
export class EcrFault extends AwsFault {
  constructor(code: string, message: string, readonly fields: Record<string, unknown> = {}) {
    super(code, message, 400);
  }
}

export const invalidParameter = (member: string, constraint: string): AwsFault =>
  new AwsFault('InvalidParameterException', `Invalid parameter at '${member}' failed to satisfy constraint: '${constraint}'`);

/** ECR's repository name rule (CreateRepository API Reference). */
export const REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const REPOSITORY_NAME_SOURCE = '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*';

export type Input = Record<string, unknown>;

export function optString(input: Input, member: string): string | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParameter(member, 'Member must be a string');
  return v;
}

export function reqString(input: Input, member: string): string {
  const v = optString(input, member);
  if (v === undefined) throw invalidParameter(member, 'Member must not be null');
  return v;
}

export function optBool(input: Input, member: string): boolean | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParameter(member, 'Member must be a boolean');
  return v;
}

export function optNumber(input: Input, member: string): number | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidParameter(member, 'Member must be a number');
  return v;
}

export function optObject(input: Input, member: string): Input | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParameter(member, 'Member must be a structure');
  return v as Input;
}

export function optArray(input: Input, member: string, min = 0, max = Infinity): unknown[] | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalidParameter(member, 'Member must be a list');
  if (v.length < min) throw invalidParameter(member, `Member must have length greater than or equal to ${min}`);
  if (v.length > max) throw invalidParameter(member, `Member must have length less than or equal to ${max}`);
  return v;
}

export function reqArray(input: Input, member: string, min: number, max: number): unknown[] {
  const v = optArray(input, member, min, max);
  if (v === undefined) throw invalidParameter(member, 'Member must not be null');
  return v;
}

export function stringList(input: Input, member: string, min: number, max: number): string[] {
  const v = reqArray(input, member, min, max);
  if (!v.every((s) => typeof s === 'string')) throw invalidParameter(member, 'Member must be a list of strings');
  return v as string[];
}

export function checkRepositoryName(name: string, member = 'repositoryName'): void {
  if (name.length < 2) throw invalidParameter(member, 'must have length greater than or equal to 2');
  if (name.length > 256) throw invalidParameter(member, 'must have length less than or equal to 256');
  if (!REPOSITORY_NAME.test(name)) throw invalidParameter(member, `must satisfy regular expression '${REPOSITORY_NAME_SOURCE}'`);
}

export function caller(call: AwsCall): Principal {
  if (!call.caller) throw new AwsFault('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
  return call.caller.principal;
}

/** The registry the call names (registryId) or the account's. */
export function registryOf(ctx: SandboxContext, input: Input): string {
  const id = optString(input, 'registryId');
  if (id !== undefined && !/^[0-9]{12}$/.test(id)) throw invalidParameter('registryId', "must satisfy regular expression '[0-9]{12}'");
  return id ?? ctx.world.state.accountId;
}

export function arnOf(ctx: SandboxContext, registryId: string, name: string): string {
  return repositoryArn(ctx.world.state.region, registryId, name);
}

export const repositoryNotFound = (name: string, registryId: string): AwsFault => new AwsFault(
  'RepositoryNotFoundException',
  `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
);

/**
 * The repository a call names, after validating the name and authorizing `ecr:<action>` on
 * its ARN (IAM decides before ECR looks the repository up, so a denied caller learns nothing).
 */
export function targetRepository(ctx: SandboxContext, call: AwsCall, action: string): Repository {
  const input = call.input ?? {};
  const name = reqString(input, 'repositoryName');
  checkRepositoryName(name);
  const registryId = registryOf(ctx, input);
  authorize(ctx.world, caller(call), `ecr:${action}`, arnOf(ctx, registryId, name));
  const repo = registryId === ctx.world.state.accountId ? ctx.world.state.repositories[name] : undefined;
  if (!repo) throw repositoryNotFound(name, registryId);
  return repo;
}

// ---- pagination ---------------------------------------------------------------------

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/**
 * A page of `items` (sorted by `key`), resuming after the key a previous nextToken names, so
 * items added or removed between pages neither repeat nor vanish.
 */
export function paginate<T>(input: Input, items: T[], key: (item: T) => string, defaultMax: number, limit = 1000): Page<T> {
  const max = optNumber(input, 'maxResults');
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > limit)) {
    throw invalidParameter('maxResults', `Member must be between 1 and ${limit}`);
  }
  const token = optString(input, 'nextToken');
  const after = token === undefined ? undefined : decodeToken(token);
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((i) => key(i) > after);
  const size = max ?? defaultMax;
  const page = rest.slice(0, size);
  return rest.length > size ? { items: page, nextToken: encodeToken(key(page[page.length - 1]!)) } : { items: page };
}

function encodeToken(key: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: key }), 'utf8').toString('base64');
}

function decodeToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { v?: number; after?: unknown };
    if (parsed.v === 1 && typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through
  }
  throw invalidParameter('nextToken', 'Invalid pagination token');
}
