// Issue 6: a fault that does not go away. The proxy in front of the sandbox fails EVERY
// request of one step class (an ECR API call, a blob upload, the manifest PUT), so hoist's
// retries (5 attempts, equal-jitter backoff from 1 s, 7.5 to 15 s of waiting) run
// out. hoist must exit 1 within a bounded time with one message naming the operation, the
// host that kept failing, the last status and the attempts made; and the sandbox's own state
// must hold the invariant with no tag for the image. Results: $HOIST_FAULT_EXHAUSTED_OUT.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { countMatching, lastErrorLine } from './support/fault-cells.ts';
import { startFaultProxy, type FaultAction, type FaultRule } from './support/fault-proxy.ts';
import { appContext, checkInvariant, hoistPushJob, mintToken, startPushWorld, type PushWorld } from './support/reliability.ts';

/** hoist's registry and ECR retry policy (src/http/retry.ts DEFAULT_RETRY). */
const ATTEMPTS = 5;
/** 15 s of backoff at most, plus the requests themselves and process start-up. */
const BOUND_MS = 40_000;

interface Case {
  id: string;
  rule: Omit<FaultRule, 'action'>;
  action: FaultAction;
  /** The message must name the operation and the last status (the host is checked for every case). */
  message: RegExp[];
  /** Requests of the step: each blob fails alone, so the first to run out ends the job. */
  attempts: (n: number) => boolean;
}

const CASES: Case[] = [
  {
    id: 'api: DescribeRepositories × 500',
    rule: { header: ['x-amz-target', /\.DescribeRepositories$/] }, action: { kind: 'status', status: 500 },
    message: [/DescribeRepositories failed at /, /HTTP 500/], attempts: (n) => n === ATTEMPTS,
  },
  {
    id: 'blob upload: PUT ?digest= × 500',
    rule: { method: 'PUT', path: /\/blobs\/uploads\/./ }, action: { kind: 'status', status: 500 },
    message: [/complete upload of sha256:[0-9a-f]{64}/, /answered HTTP 500/], attempts: (n) => n >= ATTEMPTS && n <= ATTEMPTS * 5,
  },
  {
    id: 'blob upload: PUT ?digest= × 503+Retry-After',
    rule: { method: 'PUT', path: /\/blobs\/uploads\/./ }, action: { kind: 'status', status: 503, retryAfter: '1' },
    message: [/complete upload of sha256:[0-9a-f]{64}/, /answered HTTP 503/], attempts: (n) => n >= ATTEMPTS && n <= ATTEMPTS * 5,
  },
  {
    id: 'manifest PUT × 500',
    rule: { method: 'PUT', path: /\/manifests\// }, action: { kind: 'status', status: 500 },
    message: [/PUT manifest fx\/[a-z0-9-]+:1\.0\.0/, /answered HTTP 500/], attempts: (n) => n === ATTEMPTS,
  },
  {
    // No status to report: the message names the request and the network error instead.
    id: 'manifest PUT × reset',
    rule: { method: 'PUT', path: /\/manifests\// }, action: { kind: 'reset' },
    message: [/PUT \S+\/v2\/fx\/[a-z0-9-]+\/manifests\/1\.0\.0/, /socket hang up|ECONNRESET|reset/i], attempts: (n) => n === ATTEMPTS,
  },
];

interface Outcome {
  case: string;
  exit: number | null;
  ms: number;
  requests: number;
  message: string;
  hint: string;
}

describe('retries exhausted: every request of a step fails', { timeout: 120_000 }, () => {
  let world: PushWorld;
  const outcomes: Outcome[] = [];
  before(async () => {
    world = await startPushWorld();
  });
  after(async () => {
    if (process.env.HOIST_FAULT_EXHAUSTED_OUT) writeFileSync(process.env.HOIST_FAULT_EXHAUSTED_OUT, JSON.stringify(outcomes, null, 2) + '\n');
    for (const o of outcomes) console.log(`${o.case}: exit ${o.exit} in ${(o.ms / 1000).toFixed(1)} s after ${o.requests} requests:\n  ${o.message}\n  ${o.hint}`);
    await world?.close();
  });

  async function runCase(c: Case, i: number): Promise<string[]> {
    const proxy = await startFaultProxy(world.sb.url);
    try {
      proxy.add({ ...c.rule, name: c.id, times: 1_000, action: c.action });
      const repository = `fx/case-${i}`;
      const r = await hoistPushJob(world, {
        endpoint: proxy.url, registry: proxy.host, repository, tag: '1.0.0',
        token: await mintToken(world.sb), cwd: appContext(proxy.host, repository), timeoutMs: 90_000,
      });
      const requests = countMatching(proxy.records, c.rule);
      const error = r.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '';
      const hint = r.stderr.split('\n').find((l) => l.startsWith('  fix: '))?.trim() ?? '';
      outcomes.push({ case: c.id, exit: r.code, ms: r.ms, requests, message: error || lastErrorLine(r.stderr), hint });
      const problems: string[] = [];
      if (r.code !== 1) problems.push(`exit ${r.code}, not 1`);
      if (r.ms >= BOUND_MS) problems.push(`gave up after ${r.ms} ms`);
      if (!c.attempts(requests)) problems.push(`${requests} requests of the step`);
      for (const re of [...c.message, new RegExp(proxy.host.replace(/\./g, '\\.')), new RegExp(`gave up after ${ATTEMPTS} attempts`)]) {
        if (!re.test(error)) problems.push(`the error line does not name ${re}`);
      }
      if (!hint) problems.push('no hint follows the error');
      const inv = checkInvariant(world);
      problems.push(...inv.problems);
      if (inv.tags[repository]?.['1.0.0'] !== undefined) problems.push(`${repository}:1.0.0 was written`);
      return problems.map((p) => `${c.id}: ${p}${p.startsWith('the error') || p.startsWith('no hint') ? `\n${r.stderr}` : ''}`);
    } finally {
      await proxy.close();
    }
  }

  test('each step class: exit 1 within the bound, a message naming operation, host, status and attempts; no tag', async () => {
    const problems = (await Promise.all(CASES.map(runCase))).flat();
    assert.deepEqual(problems, []);
  });
});
