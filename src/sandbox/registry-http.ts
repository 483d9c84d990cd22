// What the registry's handlers share: one exchange per request (the caller, what was read and
// sent, for the request log), the distribution spec's error bodies, and route parsing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { REPOSITORY_NAME } from './ecr-common.ts';
import type { SandboxContext } from './protocol.ts';
import type { Principal, Repository } from './world.ts';

export interface Exchange {
  ctx: SandboxContext;
  req: IncomingMessage;
  res: ServerResponse;
  /** The request URL, resolved against the sandbox (query parameters live here). */
  url: URL;
  /** Set once the caller is authenticated. */
  principal?: Principal;
  /** Error code for the request log. */
  error?: string;
  /** Refused because the registry token (or the session behind it) had expired. */
  expired?: boolean;
  bytesIn: number;
  bytesOut: number;
}

/** A distribution-spec error: HTTP status, code, message, optional detail and extra headers. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' } as const;

export const errors = {
  blobUnknown: (digest: string) => new RegistryError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest }),
  uploadUnknown: (id: string) => new RegistryError(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id }),
  uploadInvalid: (message: string, status = 400, headers: Record<string, string> = {}) =>
    new RegistryError(status, 'BLOB_UPLOAD_INVALID', message, undefined, headers),
  digestInvalid: (message: string, detail?: unknown) => new RegistryError(400, 'DIGEST_INVALID', message, detail),
  manifestUnknown: (reference: string) => new RegistryError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference }),
  manifestInvalid: (message: string, status = 400) => new RegistryError(status, 'MANIFEST_INVALID', message),
  nameInvalid: (name: string) => new RegistryError(400, 'NAME_INVALID', `invalid repository name '${name}'`),
  nameUnknown: (name: string, registryId: string) => new RegistryError(
    404, 'NAME_UNKNOWN', `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
  ),
  unsupported: (message = 'The operation is unsupported.') => new RegistryError(405, 'UNSUPPORTED', message),
  denied: (message: string) => new RegistryError(403, 'DENIED', message),
};

/** Writes the status and headers (plus the API version header), then the body if any. */
export function send(ex: Exchange, status: number, headers: Record<string, string | number>, body?: Buffer): void {
  const isHead = ex.req.method === 'HEAD';
  ex.res.writeHead(status, { ...API_VERSION, ...headers });
  if (body && !isHead) ex.bytesOut += body.length;
  ex.res.end(isHead ? undefined : body);
}

export function sendJson(ex: Exchange, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  send(ex, status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }, body);
}

export function sendError(ex: Exchange, err: RegistryError): void {
  ex.error = err.code;
  const entry: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  sendJson(ex, err.status, { errors: [entry] }, err.headers);
}

// ---- routes -------------------------------------------------------------------------

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'tags'; name: string };

type NamedKind = Exclude<Route['kind'], 'base' | 'catalog'>;

// Greedy names: a repository name may itself contain `blobs/` or `manifests/`, so the route is
// the one whose suffix starts last (the longest name), as distribution's router resolves it.
const NAMED: Array<[NamedKind, RegExp]> = [
  ['uploads', /^\/v2\/(.+)\/blobs\/uploads\/?()$/],
  ['upload', /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/],
  ['blob', /^\/v2\/(.+)\/blobs\/([^/]+)$/],
  ['manifest', /^\/v2\/(.+)\/manifests\/([^/]+)$/],
  ['tags', /^\/v2\/(.+)\/tags\/list$/],
];

/** ECR's rule: 2–256 characters of lowercase path components; nothing encoded, no `..`. */
export function validRepositoryName(name: string): boolean {
  return name.length >= 2 && name.length <= 256 && REPOSITORY_NAME.test(name);
}

function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** The route a raw path (no query) names; undefined for paths the registry does not serve. */
export function parseRoute(path: string): Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  let best: { kind: NamedKind; name: string; last: string } | undefined;
  for (const [kind, re] of NAMED) {
    const m = re.exec(path);
    if (m && (!best || m[1]!.length > best.name.length)) best = { kind, name: m[1]!, last: m[2] ?? '' };
  }
  if (!best) return undefined;
  if (!validRepositoryName(best.name)) throw errors.nameInvalid(best.name);
  const { kind, name } = best;
  const last = decodeSegment(best.last) ?? '';
  switch (kind) {
    case 'uploads': return { kind, name };
    case 'upload': return { kind, name, id: last };
    case 'blob': return { kind, name, digest: last };
    case 'manifest': return { kind, name, reference: last };
    case 'tags': return { kind, name };
  }
}

/** The account's repository, or ECR's NAME_UNKNOWN. */
export function findRepository(ex: Exchange, name: string): Repository {
  const state = ex.ctx.world.state;
  const repo = Object.hasOwn(state.repositories, name) ? state.repositories[name] : undefined;
  if (!repo) throw errors.nameUnknown(name, state.accountId);
  return repo;
}

/** `0-<last byte>` as distribution's Range header reports an upload's progress (`0-0` when empty). */
export function progressRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

/** Page parameters `n` and `last` with ECR's bounds (n ≤ 1000, default 100). */
export function pageParams(url: URL): { n: number; last: string | undefined } {
  const raw = url.searchParams.get('n');
  const last = url.searchParams.get('last') ?? undefined;
  if (raw === null || raw === '') return { n: 100, last };
  const n = Number(raw);
  const constraint = !Number.isInteger(n) ? 'Member must be an integer'
    : n > 1000 ? 'Member must have value less than or equal to 1000'
    : n < 1 ? 'Member must have value greater than or equal to 1' : undefined;
  if (constraint) {
    throw new RegistryError(400, 'UNSUPPORTED', `Invalid parameter at 'maxResults' failed to satisfy constraint: '${constraint}'`);
  }
  return { n, last };
}

/** One page of sorted `items` after `last`, with the `Link: <…>; rel="next"` header when more remain. */
export function page(items: string[], path: string, n: number, last: string | undefined): { items: string[]; headers: Record<string, string> } {
  const sorted = [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rest = last === undefined ? sorted : sorted.filter((i) => i > last);
  const slice = rest.slice(0, n);
  if (rest.length <= n) return { items: slice, headers: {} };
  const next = `${path}?last=${encodeURIComponent(slice[slice.length - 1]!)}&n=${n}`;
  return { items: slice, headers: { link: `<${next}>; rel="next"` } };
}
