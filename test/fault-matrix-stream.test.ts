// Issue 6: faults on streamed uploads. A docker save archive holds uncompressed layers, so
// `hoist copy docker-archive:FILE docker://…` gzips each layer on the fly and uploads it as
// POST + ONE streamed PATCH (chunked, hashed as it goes) + `PUT ?digest=` with no body
// (src/registry/uploads.ts pushStream). A fault on the PATCH or on that final PUT must restart
// the blob from a fresh POST with the layer re-opened and re-compressed from the archive.
// Run against the sandbox (ECR-like: PATCH answers 201) and the CNCF registry (PATCH answers
// 202); the invariant is judged from each server's own side. The archive is written by a test
// helper in the docker save format, no Docker needed. Results: $HOIST_FAULT_MATRIX_STREAM_OUT.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import { startCncfRegistry, type CncfRegistry } from './support/cncf-registry.ts';
import { requireComponent } from './support/components.ts';
import { hoistCopy, type CopyRun } from './support/copy-job.ts';
import { hexFiller, writeDockerArchive, type DockerArchive } from './support/docker-archive.ts';
import { FAULT_IDS, fault, type MatrixCell, type Step, classify, countMatching, matrixTable, pool } from './support/fault-cells.ts';
import { startFaultProxy } from './support/fault-proxy.ts';
import { checkRegistryStorage, checkRegistryTag } from './support/registry-invariant.ts';
import { checkInvariant, startPushWorld, type PushWorld } from './support/reliability.ts';

const STEPS: Step[] = [
  { id: 'patch-body', rule: { method: 'PATCH', path: /\/blobs\/uploads\/./ }, names: /upload/ },
  // The PUT ?digest= that closes a streamed upload carries no body; the config's monolithic PUT does.
  { id: 'stream-put', rule: { method: 'PUT', path: /\/blobs\/uploads\/./, header: ['content-length', /^0$/] }, names: /upload/ },
];

interface Target {
  id: 'sandbox' | 'cncf';
  url: string;
  prepare(repository: string): Promise<void>;
  env: Record<string, string>;
  args: string[];
  /** Problems found on the server's side, and the digest the tag names there. */
  check(repository: string, tag: string): Promise<{ problems: string[]; digest?: string }>;
}

const CONCURRENCY = 6;
const skip = await requireComponent('docker-registry');

describe('fault matrix: streamed PATCH uploads (docker-archive, gzip on the fly)', { skip: skip ?? false, timeout: 180_000 }, () => {
  let world: PushWorld;
  let registry: CncfRegistry;
  let root: string;
  let archive: DockerArchive;
  const cells: MatrixCell[] = [];
  const targets: Target[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'hoist-fault-stream-'));
    // Hex filler gzips to about half: each compressed layer is tens of KiB, long enough to cut.
    archive = writeDockerArchive(join(root, 'image.tar'), 'fault/stream:1', [
      { 'app/lib.txt': hexFiller('lib', 96 * 1024) },
      { 'app/run': hexFiller('run', 40 * 1024) },
    ]);
    [world, registry] = await Promise.all([startPushWorld({ base: false }), startCncfRegistry({ auth: 'none' })]);
    targets.push({
      id: 'sandbox', url: world.sb.url, env: { DEST: `AWS:${world.password}` }, args: ['--dest-creds-env', 'DEST'],
      prepare: async (repository) => void await world.ecr.send(new CreateRepositoryCommand({ repositoryName: repository })),
      check: async (repository, tag) => {
        const inv = checkInvariant(world);
        return { problems: inv.problems, ...(inv.tags[repository]?.[tag] ? { digest: inv.tags[repository][tag] } : {}) };
      },
    }, {
      id: 'cncf', url: registry.url, env: {}, args: [], prepare: async () => {},
      check: async (repository, tag) => {
        const t = await checkRegistryTag(registry.url, repository, tag);
        return { ...t, problems: [...t.problems, ...checkRegistryStorage(join(registry.dir, 'data')).problems] };
      },
    });
  });
  after(async () => {
    const out = process.env.HOIST_FAULT_MATRIX_STREAM_OUT;
    if (out) writeFileSync(out, JSON.stringify(cells, null, 2) + '\n');
    for (const t of ['sandbox', 'cncf']) {
      console.log(`${t}:\n${matrixTable(cells.filter((c) => c.target === t), STEPS.map((s) => s.id))}`);
    }
    await Promise.all([world?.close(), registry?.stop()]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** The copy really went the streamed way: every layer gzipped on the fly, one PATCH each at least. */
  function streamedProblems(r: CopyRun, patches: number): string[] {
    if (r.code !== 0) return [];
    const layers = archive.diffIds.length;
    const out: string[] = [];
    if (r.stats?.compressed !== layers) out.push(`expected ${layers} layers compressed on the fly, the report says ${r.stats?.compressed}`);
    if (patches < layers) out.push(`expected ≥ ${layers} PATCH requests, the proxy saw ${patches}`);
    return out;
  }

  async function runCell(target: Target, step: Step, faultId: string): Promise<MatrixCell> {
    const f = fault(faultId);
    const proxy = await startFaultProxy(target.url);
    try {
      proxy.add({ ...step.rule, name: `${step.id}/${f.id}`, action: f.action });
      const repository = `stream/${step.id}-${f.id.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
      await target.prepare(repository);
      const r = await hoistCopy(`docker-archive:${archive.file}`, `docker://${proxy.host}/${repository}:1.0.0`, { env: target.env, args: target.args });
      const server = await target.check(repository, '1.0.0');
      const patches = countMatching(proxy.records, STEPS[0]!.rule);
      const violations = [...server.problems, ...streamedProblems(r, patches)];
      if (r.code === 0 && server.digest !== r.digest) violations.push(`exit 0 but ${repository}:1.0.0 names ${server.digest ?? 'nothing'}, not the reported ${r.digest}`);
      if (r.code !== 0 && r.code !== 1) violations.push(`exit ${r.code} (signal ${r.signal})`);
      return classify({ target: target.id, step: step.id, fault: f.id, exit: r.code, attempts: countMatching(proxy.records, step.rule), ms: r.ms },
        r, proxy.records, step, violations);
    } finally {
      await proxy.close();
    }
  }

  test('PATCH body and final PUT × every fault, sandbox and CNCF registry: recovered, invariant intact', async () => {
    const work = targets.flatMap((t) => STEPS.flatMap((s) => FAULT_IDS.map((f) => ({ t, s, f }))));
    const t0 = performance.now();
    cells.push(...await pool(work, CONCURRENCY, ({ t, s, f }) => runCell(t, s, f)));
    console.log(`streamed-upload fault matrix: ${cells.length} runs in ${Math.round(performance.now() - t0)} ms`);
    assert.deepEqual(cells.filter((c) => c.outcome === 'VIOLATION'), [], 'no run may break the invariant or fail without naming the step');
    assert.deepEqual(cells.filter((c) => c.outcome === 'failed-clearly'), [], 'every fault here is transient: each run recovers');
    // The faults that must apply to a streamed body did apply (not n/a): the rows measure something.
    for (const t of targets) {
      for (const fid of ['reset', '500', '503+RA1', 'drop-req-body']) {
        const c = cells.find((x) => x.target === t.id && x.step === 'patch-body' && x.fault === fid)!;
        assert.equal(c.outcome, 'recovered', `${t.id} patch-body × ${fid}: ${c.detail}`);
        assert.ok(c.attempts > archive.diffIds.length, `${t.id} patch-body × ${fid}: the PATCH was sent again (${c.attempts}×)`);
      }
    }
  });
});
