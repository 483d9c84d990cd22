// The sandbox's ECR registry: OCI distribution v1.1 at `/v2/` with Amazon ECR's behaviour
// (DESIGN §3, registry-performance.md §A3) — Basic auth with `AWS:<token>`, IAM on every
// repository, NAME_UNKNOWN for repositories that were not created, PATCH answered 201, mounts
// only when BLOB_MOUNTING is enabled, TAG_INVALID on immutable tags. Every request is logged
// (method, path without query, principal, status, error code, whether it was refused for an
// expired token, bytes, ms — never headers).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../errors.ts';
import type { SandboxContext } from './protocol.ts';
import { ExpiredTokenError, authenticate, mayOnRepository } from './registry-auth.ts';
import { deleteBlob, getBlob } from './registry-blobs.ts';
import {
  RegistryError, page, pageParams, parseRoute, sendError, sendJson, type Exchange, type Route,
} from './registry-http.ts';
import { deleteManifestRoute, getManifest, listTags, putManifestRoute } from './registry-manifests.ts';
import { cancelUpload, patchUpload, putUpload, startUpload, uploadStatus } from './registry-uploads.ts';

type Handler<R extends Route> = (ex: Exchange, route: R) => Promise<void>;
type Table = { [K in Route['kind']]: Record<string, Handler<Extract<Route, { kind: K }>>> };

const ROUTES: Table = {
  base: { GET: async (ex) => sendJson(ex, 200, {}), HEAD: async (ex) => sendJson(ex, 200, {}) },
  catalog: { GET: (ex) => catalog(ex) },
  uploads: { POST: (ex, r) => startUpload(ex, r.name) },
  upload: {
    GET: (ex, r) => uploadStatus(ex, r.name, r.id),
    PATCH: (ex, r) => patchUpload(ex, r.name, r.id),
    PUT: (ex, r) => putUpload(ex, r.name, r.id),
    DELETE: (ex, r) => cancelUpload(ex, r.name, r.id),
  },
  blob: {
    GET: (ex, r) => getBlob(ex, r.name, r.digest),
    HEAD: (ex, r) => getBlob(ex, r.name, r.digest),
    DELETE: (ex, r) => deleteBlob(ex, r.name),
  },
  manifest: {
    GET: (ex, r) => getManifest(ex, r.name, r.reference),
    HEAD: (ex, r) => getManifest(ex, r.name, r.reference),
    PUT: (ex, r) => putManifestRoute(ex, r.name, r.reference),
    DELETE: (ex, r) => deleteManifestRoute(ex, r.name, r.reference),
  },
  tags: { GET: (ex, r) => listTags(ex, r.name) },
};

/** Repositories the caller may describe, paged like tags/list. */
async function catalog(ex: Exchange): Promise<void> {
  const names = Object.keys(ex.ctx.world.state.repositories).filter((n) => mayOnRepository(ex, 'ecr:DescribeRepositories', n));
  const { n, last } = pageParams(ex.url);
  const p = page(names, '/v2/_catalog', n, last);
  sendJson(ex, 200, { repositories: p.items }, p.headers);
}

async function dispatch(ex: Exchange, path: string): Promise<void> {
  const route = parseRoute(path);
  if (!route) throw new RegistryError(404, 'UNSUPPORTED', 'unknown registry endpoint');
  const methods = ROUTES[route.kind] as Record<string, Handler<Route>>;
  const handler = Object.hasOwn(methods, ex.req.method ?? '') ? methods[ex.req.method!] : undefined;
  // A manifest PUT is ECR's PutImage, and shares its rate quota with the API action.
  if (route.kind === 'manifest' && ex.req.method === 'PUT' && ex.ctx.throttle && !ex.ctx.throttle.take('PutImage')) {
    throw new RegistryError(429, 'TOOMANYREQUESTS', 'Rate exceeded');
  }
  if (!handler) {
    throw new RegistryError(405, 'UNSUPPORTED', 'The operation is unsupported.', undefined, { allow: Object.keys(methods).join(', ') });
  }
  await handler(ex, route);
}

/** The client went away mid-request: nothing can be answered. */
function clientGone(ex: Exchange, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return ex.res.destroyed || (ex.req.destroyed && !ex.req.complete) ||
    code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE';
}

function fail(ex: Exchange, err: unknown): void {
  if (err instanceof ExpiredTokenError) ex.expired = true;
  if (err instanceof RegistryError && !ex.res.headersSent) return sendError(ex, err);
  if (clientGone(ex, err)) {
    ex.error = 'ClientClosedRequest';
    ex.res.destroy();
    return;
  }
  // A sandbox bug: answered as the spec's UNKNOWN, logged with its message (never a body or header).
  if (ex.res.headersSent) ex.res.destroy();
  else sendError(ex, new RegistryError(500, 'UNKNOWN', 'an internal error occurred'));
  ex.error = `UNKNOWN: ${errorMessage(err)}`;
}

export async function handleRegistry(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  // The raw path is routed (URL parsing would resolve `..` and `%2e` before the name check).
  const path = q < 0 ? raw : raw.slice(0, q);
  const url = new URL(`http://registry.invalid/${q < 0 ? '' : raw.slice(q)}`);
  const ex: Exchange = { ctx, req, res, url, bytesIn: 0, bytesOut: 0 };
  try {
    ex.principal = authenticate(ctx, req);
    await dispatch(ex, path);
  } catch (err) {
    fail(ex, err);
  } finally {
    const status = ex.error === 'ClientClosedRequest' ? 499 : res.statusCode;
    try {
      ctx.log({
        time: new Date().toISOString(), kind: 'registry', method: req.method, path, principal: ex.principal?.arn, status,
        ...(ex.error ? { error: ex.error } : {}), ...(ex.expired ? { expired: true as const } : {}), bytesIn: ex.bytesIn, bytesOut: ex.bytesOut, ms: Date.now() - started,
      });
    } catch {
      // A failing log sink must not take the registry down.
    }
  }
}
