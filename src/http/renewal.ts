// Credentials that expire mid-job (STS sessions, ECR registry tokens; DESIGN §6): a value that
// is renewed before it is needed, once however many callers ask at the same time.
//
//   const login = new Renewable(() => fetchLogin(), first);   // first: { value, expiresAt }
//   const current = await login.get();                          // renews near expiry
//   const next = await login.renew((held) => held === current);  // after a refusal: once

/** A renewal never comes later than this before expiry (ECR tokens: 12 h, STS: 15 min and up). */
export const MAX_MARGIN_MS = 60_000;
/** A value is kept at least this long: clocks that disagree cannot turn every use into a renewal. */
export const MIN_USE_MS = 1_000;

/**
 * How long before expiry a value is renewed: a quarter of its lifetime, at most a minute — a
 * minute for real credentials, and still a fair share of lifetimes of a few seconds.
 */
export function renewalMargin(lifetimeMs: number): number {
  return Math.max(0, Math.min(MAX_MARGIN_MS, lifetimeMs / 4));
}

export interface Expiring<T> {
  value: T;
  /** Epoch ms. */
  expiresAt: number;
}

interface Held<T> extends Expiring<T> {
  obtainedAt: number;
}

export class Renewable<T> {
  #held: Held<T>;
  #pending: Promise<T> | undefined;
  #renewals = 0;

  constructor(
    private readonly obtain: () => Promise<Expiring<T>>,
    first: Expiring<T>,
    private readonly now: () => number = Date.now,
  ) {
    this.#held = { ...first, obtainedAt: now() };
  }

  /** The value held now, without renewing. */
  get current(): T {
    return this.#held.value;
  }

  get expiresAt(): number {
    return this.#held.expiresAt;
  }

  /** How many renewals completed. */
  get renewals(): number {
    return this.#renewals;
  }

  /**
   * The value, renewed first when less than the margin of its lifetime remains — or, with
   * `keepShare`, less than that share of its lifetime (0.75: renew once a quarter is used up).
   */
  get(keepShare = 0): Promise<T> {
    return this.#due(keepShare) ? this.#renew() : Promise.resolve(this.#held.value);
  }

  /**
   * A value was turned away (HTTP 401, ExpiredToken): renew if it is the one held (`refused`
   * says), else a renewal already replaced it and the newer value is the answer. Concurrent
   * calls share one renewal.
   */
  renew(refused: (held: T) => boolean): Promise<T> {
    if (!this.#pending && !refused(this.#held.value)) return Promise.resolve(this.#held.value);
    return this.#renew();
  }

  #due(keepShare: number): boolean {
    const h = this.#held;
    const now = this.now();
    if (now - h.obtainedAt < MIN_USE_MS) return false;
    const lifetime = h.expiresAt - h.obtainedAt;
    const keep = Math.max(renewalMargin(lifetime), keepShare * lifetime);
    return now >= h.expiresAt - keep;
  }

  /** One renewal at a time: callers arriving while it runs wait for it rather than start another. */
  #renew(): Promise<T> {
    this.#pending ??= this.obtain().then(
      (next) => {
        this.#held = { ...next, obtainedAt: this.now() };
        this.#renewals++;
        this.#pending = undefined;
        return next.value;
      },
      (err: unknown) => {
        this.#pending = undefined;
        throw err;
      },
    );
    return this.#pending;
  }
}
