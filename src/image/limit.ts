// A concurrency limit: at most `n` tasks in flight (registry-performance.md §D1: 5 uploads).

export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

/** `n` slots: acquire() resolves, in call order, once one is free, with the function that frees it. */
export interface Semaphore {
  acquire(): Promise<() => void>;
}

export function semaphore(n: number): Semaphore {
  let active = 0;
  const waiting: Array<() => void> = [];
  // A freed slot goes straight to the first waiter: a caller arriving in between cannot take it too.
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async acquire() {
      if (active < n) active++;
      else await new Promise<void>((r) => waiting.push(r));
      let held = true;
      return () => {
        if (held) release();
        held = false;
      };
    },
  };
}

export function limit(n: number): Limit {
  const slots = semaphore(n);
  return async <T>(task: () => Promise<T>): Promise<T> => {
    const release = await slots.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  };
}
