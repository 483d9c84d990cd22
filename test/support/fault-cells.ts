// What the fault-matrix test files share: the faults, how one run becomes a matrix cell
// (recovered / failed-clearly / n/a / VIOLATION), a bounded worker pool, and the table.
// The invariant itself is judged by each file from the server's side (sandbox state on disk,
// or the CNCF registry's HTTP answers and storage); this module only classifies.

import type { FaultAction, FaultRule, ProxyRecord } from './fault-proxy.ts';

export interface Fault {
  id: string;
  action: FaultAction;
}

const LIST: Fault[] = [
  { id: 'reset', action: { kind: 'reset' } },
  { id: '500', action: { kind: 'status', status: 500 } },
  { id: '503+RA1', action: { kind: 'status', status: 503, retryAfter: '1' } },
  { id: '429', action: { kind: 'status', status: 429 } },
  { id: 'truncate', action: { kind: 'truncate' } },
  { id: 'drop-mid-body', action: { kind: 'drop-mid-body', afterBytes: 32 } },
  { id: 'drop-req-body', action: { kind: 'drop-request-body', afterBytes: 4096 } },
  { id: 'stall-1.5s', action: { kind: 'stall', ms: 1500 } },
  { id: 'lost-answer', action: { kind: 'lost-answer' } },
];

/** Fault ids in table order. */
export const FAULT_IDS = LIST.map((f) => f.id);

export function fault(id: string): Fault {
  const f = LIST.find((x) => x.id === id);
  if (!f) throw new Error(`unknown fault ${id}`);
  return f;
}

export interface Step {
  id: string;
  rule: Omit<FaultRule, 'action'>;
  /** What a clear failure message must mention. */
  names: RegExp;
}

export interface MatrixCell {
  target?: string;
  step: string;
  fault: string;
  outcome: 'recovered' | 'failed-clearly' | 'not-applicable' | 'VIOLATION';
  exit: number | null;
  /** Requests the proxy saw that matched the step (the faulted one included). */
  attempts: number;
  ms: number;
  detail: string;
}

/** Requests that match a step's rule (method, path, header), faulted or not. */
export function countMatching(records: readonly ProxyRecord[], rule: Step['rule']): number {
  return records.filter((x) => {
    if (rule.method && x.method !== rule.method) return false;
    if (rule.path && !rule.path.test(x.path)) return false;
    if (!rule.header) return true;
    const name = rule.header[0].toLowerCase();
    // The proxy records only these two headers; a rule on another one cannot be counted.
    if (name === 'x-amz-target') return rule.header[1].test(x.target ? `.${x.target}` : '');
    if (name === 'content-length') return rule.header[1].test(x.contentLength ?? '');
    throw new Error(`countMatching: the proxy does not record the ${name} header`);
  }).length;
}

export function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => /error|failed|hoist:/i.test(l));
  return (lines[0] ?? stderr.trim().split('\n').pop() ?? '').slice(0, 240);
}

/**
 * One run's cell: violations (from the server-side invariant) win; then a rule that never
 * matched (the step was not reached: the matrix would be lying); then n/a, recovered, and a
 * failure that must name the step to count as clear.
 */
export function classify(
  base: Omit<MatrixCell, 'outcome' | 'detail'>,
  run: { code: number | null; stderr: string },
  records: readonly ProxyRecord[], step: Step, violations: string[],
): MatrixCell {
  const faulted = records.find((x) => x.rule !== undefined);
  if (violations.length) return { ...base, outcome: 'VIOLATION', detail: violations.join('; ') };
  if (!faulted) return { ...base, outcome: 'VIOLATION', detail: 'the rule never matched: the step was not reached' };
  if (faulted.applied === false) return { ...base, outcome: 'not-applicable', detail: 'no body to cut at this step; request passed through' };
  if (run.code === 0) return { ...base, outcome: 'recovered', detail: `${base.attempts} matching requests` };
  const message = lastErrorLine(run.stderr);
  const clear = step.names.test(run.stderr);
  return { ...base, outcome: clear ? 'failed-clearly' : 'VIOLATION', detail: clear ? message : `unclear failure: ${message}` };
}

/** Runs `work` with at most `n` in flight; results in completion order. */
export async function pool<T, R>(work: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, work.length) }, async () => {
    while (next < work.length) out.push(await fn(work[next++]!));
  }));
  return out;
}

/** The markdown table RELIABILITY.md shows (rows: steps, columns: faults). */
export function matrixTable(cells: readonly MatrixCell[], stepOrder: readonly string[] = []): string {
  const rank = (order: readonly string[], x: string): number => (order.includes(x) ? order.indexOf(x) : order.length);
  const faults = [...new Set(cells.map((c) => c.fault))].sort((a, b) => rank(FAULT_IDS, a) - rank(FAULT_IDS, b));
  const steps = [...new Set(cells.map((c) => c.step))].sort((a, b) => rank(stepOrder, a) - rank(stepOrder, b));
  const short = { recovered: 'recovered', 'failed-clearly': 'FAILED (clear)', 'not-applicable': 'n/a', VIOLATION: 'VIOLATION' } as const;
  const rows = [`| step | ${faults.join(' | ')} |`, `|---|${faults.map(() => '---').join('|')}|`];
  for (const s of steps) {
    rows.push(`| ${s} | ${faults.map((f) => {
      const c = cells.find((x) => x.step === s && x.fault === f);
      return c ? `${short[c.outcome]}${c.outcome === 'recovered' ? ` (${c.attempts}×, ${(c.ms / 1000).toFixed(1)} s)` : ''}` : '';
    }).join(' | ')} |`);
  }
  const notes = cells.filter((x) => x.outcome !== 'recovered').map((c) => `  ${c.step} × ${c.fault}: ${c.outcome}: ${c.detail}`);
  return [...rows, ...notes].join('\n');
}
