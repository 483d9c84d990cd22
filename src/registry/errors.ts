// Distribution error bodies (distribution-spec "Error Codes": {errors:[{code,message}]}) turned
// into HoistErrors: 408/429/5xx retryable with the server's Retry-After (§D5); ECR's
// TAG_INVALID on immutable tags and DENIED from IAM explained.

import { HoistError } from '../errors.ts';
import type { HttpResponse } from './http.ts';

export interface RegistryErrorBody {
  codes: string[];
  message: string;
}

export async function readErrorBody(res: HttpResponse): Promise<RegistryErrorBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of res.body as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > 64 * 1024) break;
      chunks.push(c);
    }
  } catch {
    // a broken error body still leaves us the status
  }
  res.body.destroy();
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const errors = parsed.errors ?? [];
    return { codes: errors.map((e) => e.code ?? ''), message: errors.map((e) => `${e.code}: ${e.message ?? ''}`).join('; ') };
  } catch {
    return { codes: [], message: text.slice(0, 200).trim() };
  }
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

function codeFor(status: number, codes: string[]): string {
  if (status === 401) return 'registry.unauthorized';
  if (status === 403 || codes.includes('DENIED')) return 'registry.denied';
  if (status === 404) return 'registry.not-found';
  if (status === 429 || codes.includes('TOOMANYREQUESTS')) return 'registry.throttled';
  return status >= 500 ? 'registry.unavailable' : 'registry.failed';
}

function hintFor(status: number, codes: string[]): string | undefined {
  if (status === 401) return 'Check the registry credentials (an ECR token lasts 12 h at most, less with STS credentials).';
  if (status === 403) return 'The credentials are valid but lack permission for this repository: check the role\'s ECR policy.';
  if (codes.includes('NAME_UNKNOWN')) return 'The repository does not exist: create it first (ECR does not create repositories on push).';
  if (status === 429) return 'The registry is throttling (ECR: PutImage 10/s per account): hoist retried with backoff.';
  if (RETRYABLE.has(status)) return 'The registry (or a proxy in front of it) failed on its side and hoist retried with backoff: re-run the job; if it persists, check the registry\'s health.';
  return undefined;
}

/** `host` names the server that answered, so a failure says where it came from (a proxy, a mirror, ECR). */
export async function registryError(res: HttpResponse, op: string, host?: string): Promise<HoistError> {
  const body = await readErrorBody(res);
  const after = retryAfterMs(res.header('retry-after'));
  const hint = hintFor(res.status, body.codes);
  return new HoistError(`${op}: ${host ? `${host} answered ` : ''}HTTP ${res.status}${body.message ? `: ${body.message}` : ''}`, {
    code: codeFor(res.status, body.codes), op, retryable: RETRYABLE.has(res.status),
    ...(hint ? { hint } : {}),
    context: {
      status: res.status, ...(host ? { host } : {}),
      ...(body.codes[0] ? { registryCode: body.codes[0] } : {}), ...(after !== undefined ? { retryAfterMs: after } : {}),
    },
  });
}

export function registryCode(err: unknown): string | undefined {
  return err instanceof HoistError ? (err.context.registryCode as string | undefined) : undefined;
}
