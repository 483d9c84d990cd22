// A concurrency limit: at most `n` tasks in flight (registry-performance.md §D1: 5 uploads).

export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

export function limit(n: number): Limit {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
