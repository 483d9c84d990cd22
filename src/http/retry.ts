// Retries with full-jitter exponential backoff (registry-performance.md §D5: base 1 s,
// factor 2, cap 15 s), honouring a server's Retry-After. Only what `retryable` says is
// transient is retried; everything else fails on the first attempt.

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

export function backoffDelay(attempt: number, p: Pick<RetryPolicy, 'baseMs' | 'capMs' | 'random'>): number {
  const ceiling = Math.min(p.capMs, p.baseMs * 2 ** (attempt - 1));
  return Math.floor((p.random ?? Math.random)() * ceiling);
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, p: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= p.attempts || !p.retryable(err)) throw err;
      const delay = p.retryAfterMs?.(err) ?? backoffDelay(attempt, p);
      p.onRetry?.(err, attempt, delay);
      await (p.sleep ?? defaultSleep)(delay);
    }
  }
}
