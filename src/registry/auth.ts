// Registry auth (distribution "Token Authentication Specification", RFC 7235 challenges):
//   - Basic, sent preemptively to ECR hosts and to hosts we hold credentials for: ECR's
//     challenge is Basic with no token round trip (registry-performance.md §A3, §D6);
//   - Bearer: on a `WWW-Authenticate: Bearer realm=,service=,scope=` challenge, a token from
//     the realm (anonymous, or with the Basic credentials), cached per host and scope.
// Authorization goes only to the registry host itself; the transport drops it on redirects.

import { HoistError } from '../errors.ts';
import type { Secret } from '../model/secret.ts';
import type { HttpClient } from './http.ts';

export interface RegistryCredentials {
  username: string;
  password: Secret;
  /** Present when the credentials expire (an ECR token): how the client keeps them current. */
  renewal?: CredentialRenewal;
}

/**
 * Renewal of expiring registry credentials. The client asks `fresh()` before every request
 * (it renews when near expiry and is cheap otherwise), and `refused()` once when the registry
 * answers 401 to credentials that were current when sent — the safety net for an expiry
 * nobody could foresee (a request held up in transit). Both are single-flight in the owner:
 * concurrent requests share one renewal.
 */
export interface CredentialRenewal {
  fresh(): Promise<Pick<RegistryCredentials, 'username' | 'password'>>;
  refused(sent: Pick<RegistryCredentials, 'username' | 'password'>): Promise<Pick<RegistryCredentials, 'username' | 'password'>>;
}

/** Credentials for a registry host (host[:port]), if any. */
export type CredentialStore = (host: string) => RegistryCredentials | undefined;

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"`. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header ?? '');
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

export function isEcrHost(host: string): boolean {
  return /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(host.replace(/:\d+$/, ''));
}

export function basicHeader(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password.reveal()}`).toString('base64')}`;
}

interface Token {
  value: string;
  expiresAt: number;
}

export class Authenticator {
  readonly #mode = new Map<string, 'basic' | 'bearer'>();
  readonly #tokens = new Map<string, Token>();
  /** Per host, the latest credentials from the renewal of the store's expiring ones. */
  readonly #renewed = new Map<string, { from: CredentialRenewal; creds: RegistryCredentials }>();

  constructor(private readonly store: CredentialStore, private readonly http: HttpClient, private readonly now: () => number = Date.now) {}

  /**
   * The credentials for `host`: the store's, or their latest renewal. A renewal stands only
   * while the store still holds the credentials it renewed (same renewal): a new login wins.
   */
  #creds(host: string): RegistryCredentials | undefined {
    const base = this.store(host);
    const renewed = this.#renewed.get(host);
    return base?.renewal !== undefined && renewed?.from === base.renewal ? { ...renewed.creds, renewal: base.renewal } : base;
  }

  /** Before each request: expiring credentials are renewed when near expiry (DESIGN §6). */
  async prepare(host: string): Promise<void> {
    const renewal = this.store(host)?.renewal;
    if (renewal) this.#renewed.set(host, { from: renewal, creds: await renewal.fresh() });
  }

  /** The Authorization header for a request to `host` needing `scope`, when we have one. */
  authorization(host: string, scope: string): string | undefined {
    const c = this.#creds(host);
    const mode = this.#mode.get(host) ?? (c || isEcrHost(host) ? 'basic' : undefined);
    if (mode === 'basic') return c ? basicHeader(c) : undefined;
    const token = this.#tokens.get(`${host} ${scope}`);
    return token && token.expiresAt > this.now() ? `Bearer ${token.value}` : undefined;
  }

  /** Handles a 401: true when a retry with new credentials may succeed. */
  async challenge(host: string, scope: string, header: string | undefined, sentAuth: string | undefined): Promise<boolean> {
    const ch = parseChallenge(header);
    if (ch?.scheme === 'basic') {
      this.#mode.set(host, 'basic');
      let c = this.#creds(host);
      // ECR answers 401 only for the token itself (missing, invalid, expired; permissions are
      // 403): credentials that were current when sent are renewed once, and the request resent.
      if (c?.renewal && sentAuth === basicHeader(c)) {
        const from = c.renewal;
        c = await from.refused(c);
        this.#renewed.set(host, { from, creds: c });
      }
      return c !== undefined && sentAuth !== basicHeader(c);
    }
    if (ch?.scheme !== 'bearer' || !ch.params.realm) return false;
    this.#mode.set(host, 'bearer');
    if (sentAuth?.startsWith('Bearer ')) return false; // a fresh token was refused: no loop
    await this.#fetchToken(host, scope, ch.params);
    return true;
  }

  async #fetchToken(host: string, scope: string, params: Record<string, string>): Promise<void> {
    const url = new URL(params.realm!);
    if (params.service) url.searchParams.set('service', params.service);
    for (const s of (scope || params.scope || '').split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const c = this.#creds(host);
    const res = await this.http.send({ method: 'GET', url, headers: c ? { authorization: basicHeader(c) } : {} });
    const text = await readText(res.body);
    if (res.status !== 200) {
      throw new HoistError(`token server ${url.host} refused a token for ${scope || host} (HTTP ${res.status})`, {
        code: res.status === 401 || res.status === 403 ? 'registry.unauthorized' : 'registry.token-failed', op: 'registry token',
        retryable: res.status >= 500 || res.status === 429, hint: c ? 'Check the registry credentials.' : 'This registry needs credentials.',
      });
    }
    const body = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (!value) throw new HoistError(`token server ${url.host} answered without a token`, { code: 'registry.token-failed', op: 'registry token' });
    // Spec: a token without expires_in lasts 60 s; renew 10 s early.
    this.#tokens.set(`${host} ${scope}`, { value, expiresAt: this.now() + ((body.expires_in ?? 60) - 10) * 1000 });
  }
}

async function readText(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += c.length;
    if (size > 1024 * 1024) throw new HoistError('token response over 1 MiB', { code: 'registry.token-failed', op: 'registry token' });
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}
