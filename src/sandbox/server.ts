// One HTTP port for everything (issue 2 contract): AWS APIs at `/` dispatched by
// X-Amz-Target (JSON 1.1) or the Query `Action`, the registry at `/v2/`, the OIDC issuer's
// discovery document and JWKS, and a control endpoint that mints ID tokens.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../errors.ts';
import * as ids from './ids.ts';
import { discoveryDocument, gitlabClaims, jwks, signJwt, type TokenRequest } from './oidc.ts';
import {
  AwsFault, ExpiredCredentialsFault, jsonFault, queryFault, type AwsCall, type AwsHandler, type AwsReply, type RequestLogEntry,
  type SandboxContext, type Service,
} from './protocol.ts';
import { handleEcr } from './ecr.ts';
import { handleIam } from './iam.ts';
import { handleRegistry } from './registry.ts';
import { handleSts } from './sts.ts';
import { verifySigV4 } from './sigv4.ts';
import type { World } from './state.ts';
import { tokenBuckets } from './throttle.ts';

/** UploadLayerPart carries up to 20,971,520 bytes base64-encoded in JSON (ECR API reference); everything else is far smaller. */
const MAX_API_BODY = 28 * 1024 * 1024;
const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';
/** STS actions AWS accepts without a signature. */
const UNSIGNED_STS = new Set(['AssumeRoleWithWebIdentity', 'AssumeRoleWithSAML']);

const HANDLERS: Record<Service, AwsHandler> = { sts: handleSts, iam: handleIam, ecr: handleEcr };

export interface SandboxServerOptions {
  world: World;
  host?: string;
  port?: number;
  log?: (entry: RequestLogEntry) => void;
  /** Enforce ECR's rate quotas (PutImage 10/s): ThrottlingException / 429 TOOMANYREQUESTS beyond them. */
  throttle?: boolean;
  /** Cap STS session lifetimes (and so their ECR tokens) at this many seconds, to test expiry mid-job. */
  credentialSeconds?: number;
}

export interface RunningSandbox {
  url: string;
  host: string;
  port: number;
  registryHost: string;
  context: SandboxContext;
  close(): Promise<void>;
}

export async function startSandboxServer(opts: SandboxServerOptions): Promise<RunningSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const ctx: SandboxContext = {
    world: opts.world, publicUrl: '', registryHost: '', log: opts.log ?? (() => {}),
    ...(opts.throttle ? { throttle: tokenBuckets() } : {}),
    ...(opts.credentialSeconds !== undefined ? { credentialSeconds: opts.credentialSeconds } : {}),
  };
  const server = createServer((req, res) => {
    route(ctx, req, res).catch((err: unknown) => internalError(ctx, res, err));
  });
  // Registry uploads of large layers can take a while on slow CI runners.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 4566, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  ctx.publicUrl = `http://${hostPort}`;
  ctx.registryHost = hostPort;
  return { url: ctx.publicUrl, host, port, registryHost: hostPort, context: ctx, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function route(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/v2' || path.startsWith('/v2/')) return handleRegistry(ctx, req, res);
  if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
    return sendJson(ctx, req, res, discoveryDocument(ctx.world.state.issuerUrl, ctx.publicUrl));
  }
  if (req.method === 'GET' && path === '/oauth/discovery/keys') {
    return sendJson(ctx, req, res, jwks(ctx.world.state.signingKeys));
  }
  if (req.method === 'POST' && path === '/_sandbox/token') return mintToken(ctx, req, res);
  // Query-protocol calls may also come as GET with parameters in the URL (presigned
  // GetCallerIdentity, as EKS-style tools send it).
  if ((req.method === 'POST' || req.method === 'GET') && path === '/') return handleAws(ctx, req, res);
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

function sendJson(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, value: unknown): void {
  const started = Date.now();
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  ctx.log({ time: new Date().toISOString(), kind: 'oidc', method: req.method, path: req.url, status: 200, ms: Date.now() - started });
}

async function mintToken(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  let request: TokenRequest;
  try {
    request = parseJsonObject(await readBody(req, 64 * 1024)) as TokenRequest;
  } catch (err) {
    if (!(err instanceof AwsFault)) throw err;
    res.writeHead(err.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.code, message: err.message }));
    ctx.log({ time: new Date().toISOString(), kind: 'control', method: 'POST', path: '/_sandbox/token', status: err.status, error: err.code, ms: Date.now() - started });
    return;
  }
  const state = ctx.world.state;
  const claims = gitlabClaims(state.issuerUrl, request, Math.floor(ctx.world.now() / 1000));
  const token = signJwt(state.signingKeys[0]!, claims);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
  ctx.log({ time: new Date().toISOString(), kind: 'control', method: 'POST', path: '/_sandbox/token', status: 200, ms: Date.now() - started });
}

/** Past the limit the rest of a body is read and discarded up to this much, so the client gets the 413. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * The request body, at most `limit` bytes. A larger body is drained (not kept) and refused with
 * 413 RequestEntityTooLarge once it ends, so the client reads the answer instead of a reset; only
 * a body beyond DISCARD_LIMIT more gets the connection cut.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new AwsFault('RequestEntityTooLarge', `Request body exceeds ${limit} bytes`, 413);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
      else if (size > limit + DISCARD_LIMIT) {
        reject(tooLarge());
        req.destroy();
      }
    });
    req.on('end', () => (size > limit ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** JSON 1.1 and control bodies: malformed JSON, or JSON that is not an object, is the client's fault. */
function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AwsFault('SerializationException', 'Unable to parse the request body as JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AwsFault('SerializationException', 'The request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

interface ParsedCall {
  service: Service;
  action: string;
  params: URLSearchParams;
  input: Record<string, unknown> | undefined;
}

function parseCall(req: IncomingMessage, body: Buffer, signedService: string | undefined): ParsedCall {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    if (!target.startsWith(ECR_TARGET)) throw new AwsFault('UnknownOperationException', `Unknown target ${target}`);
    const input = parseJsonObject(body);
    return { service: 'ecr', action: target.slice(ECR_TARGET.length), params: new URLSearchParams(), input };
  }
  const params = new URLSearchParams(body.toString('utf8'));
  for (const [k, v] of new URL(req.url ?? '/', 'http://x').searchParams) if (!k.startsWith('X-Amz-')) params.append(k, v);
  const action = params.get('Action') ?? '';
  const service = signedService === 'iam' ? 'iam' : signedService === 'sts' || UNSIGNED_STS.has(action) ? 'sts' : undefined;
  if (!service) throw new AwsFault('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
  return { service, action, params, input: undefined };
}

async function handleAws(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const requestId = ids.requestId();
  let service: Service = typeof req.headers['x-amz-target'] === 'string' ? 'ecr' : 'sts';
  let action: string | undefined;
  let principal: string | undefined;
  let reply: AwsReply;
  let bytesIn = 0;
  let expired = false;
  let body: Buffer | undefined;
  try {
    body = await readBody(req, MAX_API_BODY);
    bytesIn = body.length;
    const signed = req.headers.authorization !== undefined || new URL(req.url ?? '/', 'http://x').searchParams.has('X-Amz-Signature');
    const auth = signed ? verifySigV4(ctx.world, req, body) : undefined;
    const parsed = parseCall(req, body, auth?.service);
    ({ service, action } = parsed);
    if (!auth && !(service === 'sts' && UNSIGNED_STS.has(parsed.action))) {
      throw new AwsFault('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
    }
    principal = auth?.session.principal.arn;
    if (service === 'ecr' && ctx.throttle && !ctx.throttle.take(parsed.action)) throw new AwsFault('ThrottlingException', 'Rate exceeded', 400);
    const call: AwsCall = { ...parsed, caller: auth?.session, requestId };
    reply = await HANDLERS[service](ctx, call);
  } catch (err) {
    const fault = err instanceof AwsFault ? err : internalFault(ctx, err);
    expired = err instanceof ExpiredCredentialsFault;
    // Refused before the call was parsed (a bad or expired signature): the log still names it.
    action ??= body === undefined ? undefined : namedAction(req, body);
    reply = service === 'ecr' ? jsonFault(fault) : queryFault(service, fault, requestId);
  }
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'x-amzn-requestid': requestId,
    'content-length': Buffer.byteLength(reply.body),
  }).end(reply.body);
  const error = reply.status >= 400 ? errorCode(reply) : undefined;
  ctx.log({
    time: new Date().toISOString(), requestId, kind: 'aws', service, action, principal, status: reply.status,
    ...(error ? { error } : {}), ...(expired ? { expired: true as const } : {}), bytesIn, bytesOut: Buffer.byteLength(reply.body), ms: Date.now() - started,
  });
}

/** The action a request names (X-Amz-Target, or the Query `Action`), unverified: for the log only. */
function namedAction(req: IncomingMessage, body: Buffer): string | undefined {
  const target = req.headers['x-amz-target'];
  const action = typeof target === 'string'
    ? (target.startsWith(ECR_TARGET) ? target.slice(ECR_TARGET.length) : undefined)
    : new URLSearchParams(body.toString('utf8')).get('Action') ?? new URL(req.url ?? '/', 'http://x').searchParams.get('Action');
  return action && /^\w{1,64}$/.test(action) ? action : undefined;
}

function errorCode(reply: AwsReply): string | undefined {
  const m = /<Code>([^<]+)<\/Code>/.exec(reply.body) ?? /"__type":"([^"]+)"/.exec(reply.body);
  return m?.[1];
}

/** A bug in the sandbox: logged with its message (never a request body), answered as AWS does. */
function internalFault(ctx: SandboxContext, err: unknown): AwsFault {
  ctx.log({ time: new Date().toISOString(), kind: 'control', status: 500, error: `InternalFailure: ${errorMessage(err)}`, ms: 0 });
  return new AwsFault('InternalFailure', 'An internal error occurred', 500, 'Receiver');
}

function internalError(ctx: SandboxContext, res: ServerResponse, err: unknown): void {
  internalFault(ctx, err);
  if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
  res.end('internal error\n');
}
