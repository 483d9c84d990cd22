// One registry host: every request gets the right Authorization (auth.ts), a 401 challenge is
// answered once, redirects are followed by hand so Authorization never reaches another host
// (S3 redirects for ECR blob GETs; GHSA-jxpm-75mh-9fp7), and whole operations are retried with
// jittered backoff honouring Retry-After (http/retry.ts, registry-performance.md §D5).

import type { Readable } from 'node:stream';
import { isHoistError } from '../errors.ts';
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from '../http/retry.ts';
import type { Authenticator } from './auth.ts';
import { registryError } from './errors.ts';
import { discard, type HttpClient, type HttpResponse } from './http.ts';

export interface RegistryRequest {
  method: string;
  /** A path under the registry (`/v2/...`) or an absolute URL (an upload Location). */
  path: string | URL;
  /** Token scope(s), space separated, e.g. `repository:app:pull,push`. */
  scope: string;
  headers?: Record<string, string>;
  /** A buffer, or an opener called once per send (a 401 retry sends again). */
  body?: Buffer | (() => Readable);
  /** Statuses that are success; anything else becomes a HoistError. */
  expect: number[];
  /** What the operation is, for errors. */
  op: string;
}

export type RetryOptions = Partial<Omit<RetryPolicy, 'retryable'>>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export class RegistryTransport {
  readonly base: URL;

  constructor(readonly host: string, baseUrl: string, private readonly http: HttpClient, private readonly auth: Authenticator,
    private readonly retryOpts: RetryOptions = {}) {
    this.base = new URL(baseUrl);
  }

  /** Sends, answering one auth challenge and following redirects; statuses not in `expect` throw. */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    let url = new URL(req.path, this.base);
    let res = await this.#sendAuthed(req, url);
    for (let hops = 0; REDIRECTS.has(res.status) && hops < MAX_REDIRECTS; hops++) {
      const location = res.header('location');
      await discard(res);
      if (!location) break;
      url = new URL(location, url);
      res = url.host === this.base.host ? await this.#sendAuthed(req, url) : await this.#send(req, url, undefined);
    }
    if (!req.expect.includes(res.status)) throw await registryError(res, req.op, url.host);
    return res;
  }

  /** Runs a whole operation again (from its first request) when it fails transiently. */
  retry<T>(fn: (attempt: number) => Promise<T>): Promise<T> {
    return withRetry(fn, {
      ...DEFAULT_RETRY, ...this.retryOpts,
      retryable: (err) => isHoistError(err) && err.retryable,
      retryAfterMs: (err) => (isHoistError(err) && typeof err.context.retryAfterMs === 'number' ? err.context.retryAfterMs : undefined),
    });
  }

  async #sendAuthed(req: RegistryRequest, url: URL): Promise<HttpResponse> {
    await this.auth.prepare(this.host);
    const sent = this.auth.authorization(this.host, req.scope);
    const res = await this.#send(req, url, sent);
    if (res.status !== 401) return res;
    const challenge = res.header('www-authenticate');
    if (!(await this.auth.challenge(this.host, req.scope, challenge, sent))) return res;
    await discard(res);
    return this.#send(req, url, this.auth.authorization(this.host, req.scope));
  }

  #send(req: RegistryRequest, url: URL, authorization: string | undefined): Promise<HttpResponse> {
    const headers = { ...req.headers, ...(authorization ? { authorization } : {}) };
    const body = req.body === undefined || Buffer.isBuffer(req.body) ? req.body : req.body();
    return this.http.send({ method: req.method, url, headers, ...(body !== undefined ? { body } : {}) });
  }
}

export function repoScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}
