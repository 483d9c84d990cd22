// Issue 6: faults under the docker builder's push. `hoist push --builder docker --pusher docker
// --registry PROXY` has dockerd build FROM and `docker push` through the fault proxy in front of the
// sandbox (dockerd treats 127.0.0.0/8 registries as insecure, so plain HTTP works). dockerd
// uploads a layer as POST + PATCH (the body) + PUT ?digest=, and retries a failed layer
// itself (moby's upload manager: "Retrying in 5 seconds"); a failed manifest PUT fails the
// `docker push`, which hoist runs again when docker's message looks transient. Recorded here
// is what happened; asserted: the sandbox's invariant, and either exit 0 with the tag naming
// the reported digest or exit 1 with a message naming docker push. Results:
// $HOIST_FAULT_DOCKER_OUT (JSON).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { dockerEnv, requireComponent, run } from './support/components.ts';
import { fault, type MatrixCell, type Step, classify, countMatching, matrixTable, pool } from './support/fault-cells.ts';
import { startFaultProxy } from './support/fault-proxy.ts';
import { BASE_REPO, appContext, checkInvariant, hoistPushJob, mintToken, startPushWorld, type PushWorld } from './support/reliability.ts';

const STEPS: Step[] = [
  // dockerd sends each layer's bytes in one PATCH (chunked), then closes it with an empty PUT.
  { id: 'upload-body (PATCH)', rule: { method: 'PATCH', path: /\/blobs\/uploads\/./ }, names: /docker push/ },
  { id: 'manifest-put', rule: { method: 'PUT', path: /\/manifests\// }, names: /docker push/ },
];
const FAULT_IDS = ['reset', '500'];

interface DockerCell extends MatrixCell {
  /** `docker push` runs hoist made (its own retry of a failed push), from the manifest PUTs seen. */
  manifestPuts: number;
  /** Layer PATCHes seen: one per blob, more when dockerd retried a layer itself. */
  layerUploads: number;
}

const skip = await requireComponent('docker-unix');

describe('fault cells: hoist push --builder docker (docker push via dockerd) through the proxy', { skip: skip ?? false, timeout: 240_000 }, () => {
  let world: PushWorld;
  const cells: DockerCell[] = [];
  const images: string[] = [];
  before(async () => {
    world = await startPushWorld();
  });
  after(async () => {
    const out = process.env.HOIST_FAULT_DOCKER_OUT;
    if (out) writeFileSync(out, JSON.stringify(cells, null, 2) + '\n');
    console.log(matrixTable(cells, STEPS.map((s) => s.id)));
    for (const c of cells) console.log(`  ${c.step} × ${c.fault}: exit ${c.exit}, ${c.attempts} matching requests, ${c.layerUploads} PATCHes, ${c.manifestPuts} manifest PUTs, ${(c.ms / 1000).toFixed(1)} s`);
    // Only the images these cells built: other tests share the engine.
    if (images.length) await run('docker', ['rmi', '-f', ...images], { env: dockerEnv('unix'), timeoutMs: 60_000 });
    await world?.close();
  });

  async function runCell(step: Step, faultId: string, times = 1): Promise<DockerCell & { stderr: string }> {
    const f = fault(faultId);
    const proxy = await startFaultProxy(world.sb.url);
    try {
      proxy.add({ ...step.rule, name: `${step.id}/${f.id}`, action: f.action, times });
      const repository = `fd/${step.id.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '').toLowerCase()}-${f.id}${times > 1 ? '-always' : ''}`;
      images.push(`${proxy.host}/${repository}:1.0.0`, `${proxy.host}/${BASE_REPO}:1`);
      const r = await hoistPushJob(world, {
        endpoint: proxy.url, registry: proxy.host, repository, tag: '1.0.0', builder: 'docker', pusher: 'docker',
        token: await mintToken(world.sb), cwd: appContext(proxy.host, repository), timeoutMs: 180_000,
      });
      const inv = checkInvariant(world);
      const violations = [...inv.problems];
      if (r.code === 0 && inv.tags[repository]?.['1.0.0'] !== r.report?.digest) {
        violations.push(`exit 0 but ${repository}:1.0.0 names ${inv.tags[repository]?.['1.0.0']}, not the reported ${r.report?.digest}`);
      }
      if (r.code !== 0 && r.code !== 1) violations.push(`exit ${r.code}, not 0 or 1`);
      const cell = classify({ target: 'docker', step: step.id, fault: f.id, exit: r.code, attempts: countMatching(proxy.records, step.rule), ms: r.ms },
        r, proxy.records, step, violations);
      return {
        ...cell, ...(times > 1 ? { fault: `${f.id} every time` } : {}),
        manifestPuts: countMatching(proxy.records, STEPS[1]!.rule),
        layerUploads: countMatching(proxy.records, STEPS[0]!.rule),
        stderr: r.stderr,
      };
    } finally {
      await proxy.close();
    }
  }

  test('reset and 500 once on the layer PATCH and on the manifest PUT: docker or hoist recovers; invariant intact', async () => {
    const work = STEPS.flatMap((s) => FAULT_IDS.map((f) => ({ s, f })));
    cells.push(...(await pool(work, 2, ({ s, f }) => runCell(s, f))).map(({ stderr: _, ...c }) => c));
    assert.deepEqual(cells.filter((c) => c.outcome === 'VIOLATION'), [], 'no run may break the invariant or fail without naming docker push');
    // One transient fault: dockerd retries a layer itself, hoist re-runs a docker push whose manifest PUT failed.
    assert.deepEqual(cells.filter((c) => c.outcome !== 'recovered').map((c) => `${c.step} × ${c.fault}: ${c.detail}`), []);
    assert.deepEqual(checkInvariant(world).problems, []);
  });

  test('the manifest PUT fails every time: exit 1 naming docker push, the registry and its status, after hoist\'s 3 attempts; no tag', async () => {
    const { stderr, ...cell } = await runCell(STEPS[1]!, '500', 1_000);
    cells.push(cell);
    assert.equal(cell.exit, 1, stderr);
    assert.equal(cell.manifestPuts, 3, 'hoist ran docker push 3 times (docker does not retry a manifest PUT itself)');
    const error = stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '';
    assert.match(error, /docker push 127\.0\.0\.1:\d+\/fd\/[a-z0-9/-]+:1\.0\.0 failed: .*500 Internal Server Error.*\(gave up after 3 attempts\)/, stderr);
    assert.notEqual(cell.outcome, 'VIOLATION', cell.detail);
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags['fd/manifest-put-500-always']?.['1.0.0'], undefined, 'no tag was written');
  });
});
