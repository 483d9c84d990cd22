// HTTP/1.1 on node:http(s) with keep-alive agents: one TCP flow per upload in flight
// (registry-performance.md §D1: separate flows, no HTTP/2 head-of-line blocking), streamed
// bodies with an explicit Content-Length when it is known (monolithic PUT, §D4), a stall
// timeout instead of a total one (§D5), and a custom CA for private registries.

import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { HoistError } from '../errors.ts';

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | Readable;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  header(name: string): string | undefined;
}

export interface HttpOptions {
  /** PEM CA bundle trusted for TLS registries (--ca-file). */
  ca?: string | Buffer;
  /** Connections per host (§D1: ≈16 per registry host overall). */
  maxSockets?: number;
  /** No progress for this long aborts the request (default 60 s). */
  stallMs?: number;
}

/** Socket errors that mean "try again" (§D5). */
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export class HttpClient {
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;
  readonly #stallMs: number;

  constructor(opts: HttpOptions = {}) {
    const common = { keepAlive: true, maxSockets: opts.maxSockets ?? 16 };
    this.#http = new HttpAgent(common);
    this.#https = new HttpsAgent({ ...common, ...(opts.ca ? { ca: opts.ca } : {}) });
    this.#stallMs = opts.stallMs ?? 60_000;
  }

  send(req: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const https = req.url.protocol === 'https:';
      const headers: Record<string, string> = { 'user-agent': 'hoist', ...req.headers };
      if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
      else if (req.body === undefined && ['PUT', 'POST', 'PATCH'].includes(req.method)) headers['content-length'] ??= '0';
      const r = (https ? httpsRequest : httpRequest)(req.url, {
        method: req.method, headers, agent: https ? this.#https : this.#http, ...(req.signal ? { signal: req.signal } : {}),
      });
      r.setTimeout(this.#stallMs, () => r.destroy(Object.assign(new Error(`no progress for ${this.#stallMs} ms`), { code: 'ETIMEDOUT' })));
      r.once('error', (err) => reject(networkError(err, req)));
      r.once('response', (res) => {
        res.setTimeout(this.#stallMs, () => res.destroy(Object.assign(new Error(`no progress for ${this.#stallMs} ms`), { code: 'ETIMEDOUT' })));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, header: (n) => single(res.headers[n.toLowerCase()]) });
      });
      sendBody(r, req.body);
    });
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

function sendBody(r: ReturnType<typeof httpRequest>, body: HttpRequest['body']): void {
  if (body === undefined) return void r.end();
  if (Buffer.isBuffer(body)) return void r.end(body);
  // A failing body (e.g. a digest mismatch while reading the source) aborts the request.
  body.once('error', (err) => r.destroy(err));
  body.pipe(r);
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function networkError(err: unknown, req: HttpRequest): unknown {
  if (err instanceof HoistError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const message = socketMessage(err);
  const transient = TRANSIENT.has(code) || /socket hang up|ECONNRESET/i.test(message);
  const hint = networkHint(code, req.url.host);
  return new HoistError(`${req.method} ${req.url.host}${req.url.pathname}: ${message}`, {
    code: 'registry.unreachable', op: `${req.method} ${req.url.pathname}`, retryable: transient, cause: err,
    context: { host: req.url.host, ...(code ? { errno: code } : {}) },
    ...(hint ? { hint } : {}),
  });
}

/** Node's message; a failed multi-address connect (happy eyeballs) is an AggregateError with none of its own. */
function socketMessage(err: unknown): string {
  const e = err as Error & { errors?: unknown[] };
  if (e?.message) return e.message;
  const parts = (e?.errors ?? []).map((x) => (x as Error)?.message).filter(Boolean);
  return parts.length ? parts.join('; ') : String((err as NodeJS.ErrnoException)?.code ?? err);
}

/** What to check when no HTTP answer came at all: the host names the server the user pointed hoist at. */
function networkHint(code: string, host: string): string | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return `Nothing accepted a connection at ${host}: check that the registry there is running and reachable from this machine ` +
        '(a local `hoist sandbox` must be up on that port; restart it on the same --dir to keep its state), and that the registry host and port (--registry) are right.';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host name in ${host} does not resolve: check the registry host (--registry) and this machine's DNS.`;
    case 'ECONNRESET':
      // ECR resets a push to a repository that does not exist (registry-performance.md, ECR
      // quirks); anything else that resets every attempt is the network path in between.
      return `${host} kept closing the connection: if it is ECR, check that the repository exists in that account and region ` +
        '(ECR drops pushes to a missing repository); otherwise check for a proxy or load balancer cutting connections, and re-run.';
    default:
      return undefined;
  }
}

/**
 * A response body that broke off after the status line (connection reset, premature close,
 * fewer bytes than Content-Length) is as transient as a failed request (§D5): the operation
 * that reads it is retried whole. Other errors (digest mismatch, size limits) pass unchanged.
 */
export function bodyError(err: unknown, op: string, host: string): unknown {
  if (err instanceof HoistError || err instanceof RangeError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const message = (err as Error).message ?? String(err);
  const broken = TRANSIENT.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE' || /aborted|premature close|socket hang up/i.test(message);
  if (!broken) return err;
  return new HoistError(`${op}: the response from ${host} broke off: ${message}`, {
    code: 'registry.body-broken', op, retryable: true, cause: err, context: { host, ...(code ? { errno: code } : {}) },
  });
}

/** Drains and discards a response body, so its connection goes back to the pool. */
export async function discard(res: HttpResponse): Promise<void> {
  res.body.resume();
  await new Promise<void>((r) => {
    if (res.body.readableEnded || res.body.destroyed) return r();
    res.body.once('end', r);
    res.body.once('close', r);
    res.body.once('error', () => r());
  });
}
