// Issue 6: the fault matrix in front of a real CNCF distribution registry (docker-registry 2.8)
// instead of the sandbox. hoist's own registry client (`hoist copy oci:DIR docker://PROXY/…`,
// the built CLI) goes through the fault proxy; each fault hits the FIRST request of one step.
// The invariant is judged from the registry's side only: plain GETs of the tag's manifest and
// of every blob it names (each hashed against its digest), a scan of the registry's storage,
// and on exit 0 the tag must name the digest hoist reported. Results go to
// $HOIST_FAULT_MATRIX_CNCF_OUT (JSON) when set.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startCncfRegistry, type CncfRegistry } from './support/cncf-registry.ts';
import { requireComponent } from './support/components.ts';
import { buildOciLayout, hoistCopy } from './support/copy-job.ts';
import { FAULT_IDS, fault, type MatrixCell, type Step, classify, countMatching, matrixTable, pool } from './support/fault-cells.ts';
import { startFaultProxy } from './support/fault-proxy.ts';
import { checkRegistryStorage, checkRegistryTag } from './support/registry-invariant.ts';

const STEPS: Step[] = [
  { id: 'blob-head', rule: { method: 'HEAD', path: /\/blobs\/sha256:/ }, names: /HEAD blob/ },
  { id: 'upload-start', rule: { method: 'POST', path: /\/blobs\/uploads\/$/ }, names: /upload/ },
  { id: 'upload-body', rule: { method: 'PUT', path: /\/blobs\/uploads\/./ }, names: /upload/ },
  // putManifest first asks what the tag names now (HEAD), then PUTs.
  { id: 'tag-head', rule: { method: 'HEAD', path: /\/manifests\// }, names: /manifest/ },
  { id: 'manifest-put', rule: { method: 'PUT', path: /\/manifests\// }, names: /manifest/ },
];

const CONCURRENCY = 6;
const skip = await requireComponent('docker-registry');

describe('fault matrix: hoist copy through a fault-injecting proxy in front of the CNCF registry', { skip: skip ?? false, timeout: 180_000 }, () => {
  let registry: CncfRegistry;
  let root: string;
  let layout: string;
  const cells: MatrixCell[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'hoist-fault-cncf-'));
    [registry, layout] = await Promise.all([startCncfRegistry({ auth: 'none' }), buildOciLayout(root)]);
  });
  after(async () => {
    const out = process.env.HOIST_FAULT_MATRIX_CNCF_OUT;
    if (out) writeFileSync(out, JSON.stringify(cells, null, 2) + '\n');
    console.log(matrixTable(cells, STEPS.map((s) => s.id)));
    await registry?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function runCell(step: Step, faultId: string): Promise<MatrixCell> {
    const f = fault(faultId);
    const proxy = await startFaultProxy(registry.url);
    try {
      proxy.add({ ...step.rule, name: `${step.id}/${f.id}`, action: f.action });
      const repository = `fm/${step.id}-${f.id.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
      const r = await hoistCopy(`oci:${layout}:1`, `docker://${proxy.host}/${repository}:1.0.0`);
      // Straight to the registry, not through the proxy, and never through hoist.
      const tag = await checkRegistryTag(registry.url, repository, '1.0.0');
      const violations = [...tag.problems, ...checkRegistryStorage(join(registry.dir, 'data')).problems];
      if (r.code === 0 && tag.digest !== r.digest) violations.push(`exit 0 but ${repository}:1.0.0 names ${tag.digest ?? 'nothing'}, not the reported ${r.digest}`);
      if (r.code !== 0 && r.code !== 1) violations.push(`exit ${r.code} (signal ${r.signal})`);
      return classify({ target: 'cncf', step: step.id, fault: f.id, exit: r.code, attempts: countMatching(proxy.records, step.rule), ms: r.ms },
        r, proxy.records, step, violations);
    } finally {
      await proxy.close();
    }
  }

  test('every registry step × every fault: recovered, invariant intact on the registry', async () => {
    const work = STEPS.flatMap((s) => FAULT_IDS.map((f) => ({ s, f })));
    const t0 = performance.now();
    cells.push(...await pool(work, CONCURRENCY, ({ s, f }) => runCell(s, f)));
    console.log(`CNCF fault matrix: ${cells.length} runs in ${Math.round(performance.now() - t0)} ms`);
    assert.deepEqual(cells.filter((c) => c.outcome === 'VIOLATION'), [], 'no run may break the invariant or fail without naming the step');
    assert.deepEqual(cells.filter((c) => c.outcome === 'failed-clearly'), [], 'every fault here is transient: each run recovers');
    // Each step saw its fault at least once and recovered from it somewhere, so the matrix measured something.
    for (const s of STEPS) assert.ok(cells.some((c) => c.step === s.id && c.outcome === 'recovered'), `${s.id}: no cell recovered`);
    const storage = checkRegistryStorage(join(registry.dir, 'data'));
    assert.deepEqual(storage.problems, []);
    assert.ok(storage.blobs >= 5, `the registry stores the image's blobs (${storage.blobs})`);
  });
});
