// ECR's API rate quotas, as token buckets (Amazon ECR service quotas: PutImage 10 requests per
// second per account and region, the registry's manifest PUT included). Over the rate, the ECR
// API answers ThrottlingException and the registry 429 TOOMANYREQUESTS, as ECR does. Off unless
// asked for (`hoist sandbox --throttle`), so single-job rehearsals never see it.

export interface Throttle {
  /** True when the call may proceed now; false when ECR would throttle it. */
  take(action: string): boolean;
}

/** Calls per second (= burst) by ECR action; actions not listed are not throttled. */
export const ECR_RATES: Readonly<Record<string, number>> = { PutImage: 10 };

export function tokenBuckets(rates: Readonly<Record<string, number>> = ECR_RATES, now: () => number = Date.now): Throttle {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(action) {
      const rate = rates[action];
      if (rate === undefined) return true;
      const t = now();
      const b = buckets.get(action) ?? { tokens: rate, at: t };
      b.tokens = Math.min(rate, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
      buckets.set(action, b);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
  };
}
