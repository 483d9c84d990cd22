// Retries with jittered exponential backoff (registry-performance.md §D5: base 1 s,
// factor 2, cap 15 s), honouring a server's Retry-After. Only what `retryable` says is
// transient is retried; everything else fails on the first attempt. When the attempts run
// out, the error says so: otherwise a user reads the last attempt's message and cannot tell
// a one-off failure from a server that kept failing.

import { HoistError } from '../errors.ts';

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  capMs: number;
  retryable(err: unknown): boolean;
  /** Server-requested delay (Retry-After), when the error carries one. */
  retryAfterMs?(err: unknown): number | undefined;
  sleep?(ms: number): Promise<void>;
  random?(): number;
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

export const DEFAULT_RETRY = { attempts: 5, baseMs: 1000, capMs: 15_000 } as const;

/**
 * "Equal jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): half of each step
 * is fixed, half random. Full jitter could wait almost nothing four times in a row: a registry
 * or endpoint restarting for 3 s then failed ~4% of jobs (simulated). This way 5 attempts span
 * at least 0.5+1+2+4 = 7.5 s and at most 15 s, and concurrent jobs still spread out.
 */
export function backoffDelay(attempt: number, p: Pick<RetryPolicy, 'baseMs' | 'capMs' | 'random'>): number {
  const ceiling = Math.min(p.capMs, p.baseMs * 2 ** (attempt - 1));
  return Math.floor(ceiling / 2 + (p.random ?? Math.random)() * (ceiling / 2));
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const attemptsOf = new WeakMap<object, number>();

/** How many attempts ended in `err` when withRetry gave up on it (undefined: not retried). */
export function attemptsMade(err: unknown): number | undefined {
  if (err instanceof HoistError && typeof err.context.attempts === 'number') return err.context.attempts;
  return typeof err === 'object' && err !== null ? attemptsOf.get(err) : undefined;
}

/**
 * The error to throw after `attempts` transient failures: a HoistError gets the count in its
 * message and context (once: an outer retry around an inner one keeps the inner count);
 * other errors (AWS SDK ones, wrapped later by their caller) carry it for attemptsMade().
 */
function gaveUp(err: unknown, attempts: number): unknown {
  if (attempts < 2 || attemptsMade(err) !== undefined) return err;
  if (!(err instanceof HoistError)) {
    if (typeof err === 'object' && err !== null) attemptsOf.set(err, attempts);
    return err;
  }
  return new HoistError(`${err.message} (gave up after ${attempts} attempts)`, {
    code: err.code, retryable: err.retryable, problems: err.problems, context: { ...err.context, attempts },
    ...(err.op ? { op: err.op } : {}), ...(err.hint ? { hint: err.hint } : {}), ...(err.cause !== undefined ? { cause: err.cause } : {}),
  });
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, p: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!p.retryable(err)) throw err;
      if (attempt >= p.attempts) throw gaveUp(err, attempt);
      const delay = p.retryAfterMs?.(err) ?? backoffDelay(attempt, p);
      p.onRetry?.(err, attempt, delay);
      await (p.sleep ?? defaultSleep)(delay);
    }
  }
}
