// Issue 6: every fault at every step of `hoist push --builder native`, injected on the FIRST
// matching request by a proxy between hoist and the sandbox (AWS APIs and registry alike).
// Each run ends `recovered` (exit 0, the request was sent again) or `failed-clearly` (exit ≠ 0,
// the message names the step); either way the sandbox's own state must hold the invariant:
// no tag naming a manifest with missing blobs, every stored blob whole, and on exit 0 the tag
// names the digest hoist reported. Results go to $HOIST_FAULT_MATRIX_OUT (JSON) when set.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy, type FaultAction, type FaultRule } from './support/fault-proxy.ts';
import { appContext, checkInvariant, hoistPushJob, mintToken, startPushWorld, type PushWorld } from './support/reliability.ts';

interface Step {
  id: string;
  label: string;
  rule: Omit<FaultRule, 'action'>;
  /** What a clear failure message must mention. */
  names: RegExp;
}

const amz = (op: string): [string, RegExp] => ['x-amz-target', new RegExp(`\\.${op}$`)];

const STEPS: Step[] = [
  { id: 'sts', label: 'STS AssumeRoleWithWebIdentity', rule: { method: 'POST', path: /^\/$/, header: ['x-amz-target', /^$/] }, names: /AssumeRoleWithWebIdentity|STS/ },
  { id: 'ecr-auth', label: 'ECR GetAuthorizationToken', rule: { header: amz('GetAuthorizationToken') }, names: /GetAuthorizationToken/ },
  { id: 'describe', label: 'ECR DescribeRepositories', rule: { header: amz('DescribeRepositories') }, names: /DescribeRepositories/ },
  { id: 'create', label: 'ECR CreateRepository', rule: { header: amz('CreateRepository') }, names: /CreateRepository/ },
  { id: 'base-manifest', label: 'base manifest GET (FROM)', rule: { method: 'GET', path: /\/manifests\// }, names: /manifest/ },
  { id: 'base-config-get', label: 'base config blob GET (FROM)', rule: { method: 'GET', path: /\/blobs\/sha256:/ }, names: /GET blob/ },
  { id: 'base-layer-get', label: 'base layer blob GET (copied across)', rule: { method: 'GET', path: /\/blobs\/sha256:/, nth: 2 }, names: /GET blob|upload/ },
  { id: 'blob-head', label: 'blob HEAD', rule: { method: 'HEAD', path: /\/blobs\/sha256:/ }, names: /HEAD blob/ },
  { id: 'upload-start', label: 'upload POST', rule: { method: 'POST', path: /\/blobs\/uploads\/$/ }, names: /upload/ },
  { id: 'upload-body', label: 'upload body PUT', rule: { method: 'PUT', path: /\/blobs\/uploads\/./ }, names: /upload/ },
  { id: 'manifest-put', label: 'manifest PUT', rule: { method: 'PUT', path: /\/manifests\// }, names: /manifest/ },
  { id: 'verify', label: 'verify BatchGetImage', rule: { header: amz('BatchGetImage'), nth: 2 }, names: /BatchGetImage|verify/ },
];

interface Fault {
  id: string;
  action: FaultAction;
  /** A transient fault: every step must recover from it. */
  mustRecover: boolean;
}

const FAULTS: Fault[] = [
  { id: 'reset', action: { kind: 'reset' }, mustRecover: true },
  { id: '500', action: { kind: 'status', status: 500 }, mustRecover: true },
  { id: '503+RA1', action: { kind: 'status', status: 503, retryAfter: '1' }, mustRecover: true },
  { id: '429', action: { kind: 'status', status: 429 }, mustRecover: true },
  { id: 'drop-mid-body', action: { kind: 'drop-mid-body', afterBytes: 32 }, mustRecover: true },
  { id: 'truncate', action: { kind: 'truncate' }, mustRecover: true },
  { id: 'drop-req-body', action: { kind: 'drop-request-body', afterBytes: 4096 }, mustRecover: true },
  { id: 'stall-1.5s', action: { kind: 'stall', ms: 1500 }, mustRecover: true },
];

export interface MatrixCell {
  step: string;
  fault: string;
  outcome: 'recovered' | 'failed-clearly' | 'not-applicable' | 'VIOLATION';
  exit: number | null;
  /** Requests the proxy saw that matched the step (the faulted one included). */
  attempts: number;
  ms: number;
  detail: string;
}

const CONCURRENCY = 6;

describe('fault matrix: hoist push --builder native through a fault-injecting proxy', { timeout: 300_000 }, () => {
  let world: PushWorld;
  const cells: MatrixCell[] = [];
  before(async () => {
    world = await startPushWorld();
  });
  after(async () => {
    const out = process.env.HOIST_FAULT_MATRIX_OUT;
    if (out) writeFileSync(out, JSON.stringify(cells, null, 2) + '\n');
    printTable(cells);
    await world?.close();
  });

  async function runCell(step: Step, fault: Fault): Promise<MatrixCell> {
    const proxy = await startFaultProxy(world.sb.url);
    try {
      proxy.add({ ...step.rule, name: `${step.id}/${fault.id}`, action: fault.action });
      const repository = `fm/${step.id}-${fault.id.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
      const r = await hoistPushJob(world, {
        endpoint: proxy.url, registry: proxy.host, repository, tag: '1.0.0',
        token: await mintToken(world.sb), cwd: appContext(proxy.host, repository), timeoutMs: 90_000,
      });
      const faulted = proxy.records.find((x) => x.rule !== undefined);
      const matching = countMatching(proxy.records, step);
      const inv = checkInvariant(world);
      const base = { step: step.id, fault: fault.id, exit: r.code, attempts: matching, ms: r.ms };
      const violations = [...inv.problems];
      if (r.code === 0 && inv.tags[repository]?.['1.0.0'] !== r.report?.digest) {
        violations.push(`exit 0 but ${repository}:1.0.0 names ${inv.tags[repository]?.['1.0.0']}, not the reported ${r.report?.digest}`);
      }
      if (violations.length) return { ...base, outcome: 'VIOLATION', detail: violations.join('; ') };
      if (!faulted) return { ...base, outcome: 'VIOLATION', detail: 'the rule never matched: the step was not reached' };
      if (faulted.applied === false) return { ...base, outcome: 'not-applicable', detail: 'no body to cut at this step; request passed through' };
      if (r.code === 0) return { ...base, outcome: 'recovered', detail: fault.action.kind === 'stall' ? 'waited' : `sent again (${matching} matching requests)` };
      const message = lastErrorLine(r.stderr);
      const clear = step.names.test(r.stderr);
      return { ...base, outcome: clear ? 'failed-clearly' : 'VIOLATION', detail: clear ? message : `unclear failure: ${message}` };
    } finally {
      await proxy.close();
    }
  }

  test('every step × every fault: recovered or failed clearly, invariant intact', async () => {
    const work = STEPS.flatMap((s) => FAULTS.map((f) => ({ s, f })));
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < work.length) {
        const { s, f } = work[next++]!;
        cells.push(await runCell(s, f));
      }
    }));
    const wall = Math.round(performance.now() - t0);
    console.log(`fault matrix: ${cells.length} runs in ${wall} ms`);
    const bad = cells.filter((c) => c.outcome === 'VIOLATION');
    assert.deepEqual(bad, [], 'no run may break the invariant or fail without naming the step');
    const mustRecover = cells.filter((c) => FAULTS.find((f) => f.id === c.fault)!.mustRecover && c.outcome === 'failed-clearly');
    assert.deepEqual(mustRecover, [], 'transient faults at idempotent steps are recovered');
    const final = checkInvariant(world);
    assert.deepEqual(final.problems, []);
  });
});

function countMatching(records: { method: string; path: string; target?: string }[], step: Step): number {
  return records.filter((x) => {
    if (step.rule.method && x.method !== step.rule.method) return false;
    if (step.rule.path && !step.rule.path.test(x.path)) return false;
    if (step.rule.header) return step.rule.header[1].test(x.target ? `.${x.target}` : '');
    return true;
  }).length;
}

function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => /error|failed|hoist:/i.test(l));
  return (lines[0] ?? stderr.trim().split('\n').pop() ?? '').slice(0, 200);
}

function printTable(cells: MatrixCell[]): void {
  const faults = [...new Set(cells.map((c) => c.fault))];
  const steps = [...new Set(cells.map((c) => c.step))];
  const short = { recovered: 'recovered', 'failed-clearly': 'FAILED (clear)', 'not-applicable': 'n/a', VIOLATION: 'VIOLATION' } as const;
  const rows = [`| step | ${faults.join(' | ')} |`, `|---|${faults.map(() => '---').join('|')}|`];
  for (const s of steps) {
    rows.push(`| ${s} | ${faults.map((f) => {
      const c = cells.find((x) => x.step === s && x.fault === f);
      return c ? `${short[c.outcome]}${c.outcome === 'recovered' ? ` (${c.attempts}×, ${(c.ms / 1000).toFixed(1)} s)` : ''}` : '';
    }).join(' | ')} |`);
  }
  console.log(rows.join('\n'));
  for (const c of cells.filter((x) => x.outcome !== 'recovered')) console.log(`  ${c.step} × ${c.fault}: ${c.outcome}: ${c.detail}`);
}
