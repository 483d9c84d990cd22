// Issue 6: every fault at every step of `hoist push --builder native`, injected on the FIRST
// matching request by a proxy between hoist and the sandbox (AWS APIs and registry alike).
// Each run ends `recovered` (exit 0, the request was sent again) or `failed-clearly` (exit ≠ 0,
// the message names the step); either way the sandbox's own state must hold the invariant:
// no tag naming a manifest with missing blobs, every stored blob whole, and on exit 0 the tag
// names the digest hoist reported. Results go to $HOIST_FAULT_MATRIX_OUT (JSON) when set.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { FAULT_IDS, fault, type MatrixCell, type Step, classify, countMatching, matrixTable, pool } from './support/fault-cells.ts';
import { startFaultProxy } from './support/fault-proxy.ts';
import { appContext, checkInvariant, hoistPushJob, mintToken, startPushWorld, type PushWorld } from './support/reliability.ts';

const amz = (op: string): [string, RegExp] => ['x-amz-target', new RegExp(`\\.${op}$`)];

const STEPS: Step[] = [
  { id: 'sts', rule: { method: 'POST', path: /^\/$/, header: ['x-amz-target', /^$/] }, names: /AssumeRoleWithWebIdentity|STS/ },
  { id: 'ecr-auth', rule: { header: amz('GetAuthorizationToken') }, names: /GetAuthorizationToken/ },
  { id: 'describe', rule: { header: amz('DescribeRepositories') }, names: /DescribeRepositories/ },
  { id: 'create', rule: { header: amz('CreateRepository') }, names: /CreateRepository/ },
  { id: 'base-manifest', rule: { method: 'GET', path: /\/manifests\// }, names: /manifest/ },
  { id: 'base-config-get', rule: { method: 'GET', path: /\/blobs\/sha256:/ }, names: /GET blob/ },
  { id: 'base-layer-get', rule: { method: 'GET', path: /\/blobs\/sha256:/, nth: 2 }, names: /GET blob|upload/ },
  { id: 'blob-head', rule: { method: 'HEAD', path: /\/blobs\/sha256:/ }, names: /HEAD blob/ },
  { id: 'upload-start', rule: { method: 'POST', path: /\/blobs\/uploads\/$/ }, names: /upload/ },
  { id: 'upload-body', rule: { method: 'PUT', path: /\/blobs\/uploads\/./ }, names: /upload/ },
  { id: 'manifest-put', rule: { method: 'PUT', path: /\/manifests\// }, names: /manifest/ },
  { id: 'verify', rule: { header: amz('BatchGetImage'), nth: 2 }, names: /BatchGetImage|verify/ },
];

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
    console.log(matrixTable(cells, STEPS.map((s) => s.id)));
    await world?.close();
  });

  async function runCell(step: Step, faultId: string): Promise<MatrixCell> {
    const f = fault(faultId);
    const proxy = await startFaultProxy(world.sb.url);
    try {
      proxy.add({ ...step.rule, name: `${step.id}/${f.id}`, action: f.action });
      const repository = `fm/${step.id}-${f.id.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
      const r = await hoistPushJob(world, {
        endpoint: proxy.url, registry: proxy.host, repository, tag: '1.0.0',
        token: await mintToken(world.sb), cwd: appContext(proxy.host, repository), timeoutMs: 90_000,
      });
      const inv = checkInvariant(world);
      const violations = [...inv.problems];
      if (r.code === 0 && inv.tags[repository]?.['1.0.0'] !== r.report?.digest) {
        violations.push(`exit 0 but ${repository}:1.0.0 names ${inv.tags[repository]?.['1.0.0']}, not the reported ${r.report?.digest}`);
      }
      return classify({ step: step.id, fault: f.id, exit: r.code, attempts: countMatching(proxy.records, step.rule), ms: r.ms }, r, proxy.records, step, violations);
    } finally {
      await proxy.close();
    }
  }

  test('every step × every fault: recovered or failed clearly, invariant intact', async () => {
    const work = STEPS.flatMap((s) => FAULT_IDS.map((f) => ({ s, f })));
    const t0 = performance.now();
    cells.push(...await pool(work, CONCURRENCY, ({ s, f }) => runCell(s, f)));
    const wall = Math.round(performance.now() - t0);
    console.log(`fault matrix: ${cells.length} runs in ${wall} ms`);
    const bad = cells.filter((c) => c.outcome === 'VIOLATION');
    assert.deepEqual(bad, [], 'no run may break the invariant or fail without naming the step');
    // Every fault in the matrix is transient and every step here is safe to repeat.
    assert.deepEqual(cells.filter((c) => c.outcome === 'failed-clearly'), [], 'transient faults at idempotent steps are recovered');
    const final = checkInvariant(world);
    assert.deepEqual(final.problems, []);
  });
});

