// Issue 6, load: 20 concurrent `hoist push --builder native` jobs (separate processes, own ID
// tokens) of different images sharing base layers, against one sandbox that enforces ECR's
// PutImage quota (--throttle: 10/s, then 429 TOOMANYREQUESTS / ThrottlingException). Then the
// races: 10 jobs creating the same repository, same-tag pushes of different images to a
// MUTABLE and to an IMMUTABLE repository. Every outcome is checked against the sandbox's own
// state (never through hoist). Last, the same 20-job load against a second sandbox with
// BLOB_MOUNTING enabled: base layers must be mounted, never copied across. Figures go to
// $HOIST_LOAD_OUT (JSON) when set (the second run under "blobMounting").

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BatchGetImageCommand, CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import {
  appContext, checkInvariant, hoistPushJob, mintToken, readLog, startPushWorld, type PushJob, type PushRun, type PushWorld,
} from './support/reliability.ts';

const figures: Record<string, unknown> = {};

/** The same figures for both runs (blob mounting off and on). */
interface LoadFigures {
  jobs: number; repositories: number; wallMs: number; jobMs: { min: number; max: number };
  blobsReferenced: number; sharedBlobs: number; blobsUploaded: number; blobsFoundByHead: number; blobsMounted: number;
  mountsAnswered201: number; distinctBlobsLinked: number; linksByUpload: number; duplicateUploads: number; uploadsAvoided: number;
  baseLayerGets: number; manifestPuts: number; throttled429: number; throttledApi: number; serverErrors: number;
}

/**
 * 20 concurrent jobs: two services with 5 tags each (same repository, different images) and 10
 * single-image repositories, all FROM the same base. Asserts every job succeeded, every tag
 * names the reported digest (ECR API) and the invariant holds on disk; returns the figures.
 */
async function twentyJobs(world: PushWorld): Promise<LoadFigures> {
  const specs = [
    ...Array.from({ length: 5 }, (_, i) => ['load/svc-a', `1.0.${i}`] as const),
    ...Array.from({ length: 5 }, (_, i) => ['load/svc-b', `2.0.${i}`] as const),
    ...Array.from({ length: 10 }, (_, i) => [`load/solo-${i}`, '1.0.0'] as const),
  ];
  const jobs = await Promise.all(specs.map(async ([repository, tag]): Promise<PushJob> => ({
    endpoint: world.sb.url, registry: world.sb.registry, repository, tag,
    token: await mintToken(world.sb), cwd: appContext(world.sb.registry, `${repository}:${tag}`),
  })));
  const from = readFileSync(world.logFile, 'utf8').length;
  const t0 = performance.now();
  const runs = await Promise.all(jobs.map((j) => hoistPushJob(world, j)));
  const wallMs = Math.round(performance.now() - t0);
  runs.forEach((r, i) => assert.equal(r.code, 0, `${specs[i]!.join(':')}: ${r.stderr}`));

  // Every manifest: the tag names the reported digest (ECR API), and the invariant holds on disk.
  for (const [i, [repo, tag]] of specs.entries()) assert.equal(await tagDigest(world, repo, tag), runs[i]!.report!.digest, `${repo}:${tag}`);
  const inv = checkInvariant(world);
  assert.deepEqual(inv.problems, []);

  const log = readLog(world.logFile, from);
  const reg = log.filter((l) => l.kind === 'registry');
  const repos = new Set(specs.map(([r]) => r));
  const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as {
    repositories: Record<string, { layers: Record<string, number>; images: Record<string, { references: string[] }> }>;
  };
  const linkedIn = (r: string) => Object.keys(state.repositories[r]!.layers);
  const linked = [...repos].reduce((n, r) => n + linkedIn(r).length, 0);
  const baseLayerGets = reg.filter((l) => l.method === 'GET' && world.baseLayers.some((d) => l.path?.endsWith(d))).length;
  // A base layer can only be uploaded after a GET from the base repository: with none, every
  // base-layer link was made by a mount, and the other links by uploads.
  const mountedLinks = baseLayerGets === 0 ? [...repos].reduce((n, r) => n + linkedIn(r).filter((d) => world.baseLayers.includes(d)).length, 0) : 0;
  const uploads = reg.filter((l) => l.method === 'PUT' && /\/blobs\/uploads\/./.test(l.path ?? '') && l.status === 201).length;
  const sum = (f: (r: PushRun) => number) => runs.reduce((n, r) => n + f(r), 0);
  // Blobs each job's image references (config and layers: two base layers, WORKDIR, COPY).
  const refs = (i: number) => state.repositories[specs[i]![0]]!.images[runs[i]!.report!.digest]!.references;
  const referenced = specs.reduce((n, _, i) => n + refs(i).length, 0);
  const all = specs.flatMap((_, i) => refs(i));
  const shared = new Set(all.filter((d) => all.indexOf(d) !== all.lastIndexOf(d)));
  const f: LoadFigures = {
    jobs: runs.length, repositories: repos.size, wallMs,
    jobMs: { min: Math.min(...runs.map((r) => r.ms)), max: Math.max(...runs.map((r) => r.ms)) },
    blobsReferenced: referenced,
    sharedBlobs: shared.size,
    blobsUploaded: uploads,
    blobsFoundByHead: sum((r) => r.report!.layers.existing),
    blobsMounted: sum((r) => r.report!.layers.mounted),
    mountsAnswered201: reg.filter((l) => l.method === 'POST' && /\/blobs\/uploads\/$/.test(l.path ?? '') && l.status === 201).length,
    distinctBlobsLinked: linked,
    linksByUpload: linked - mountedLinks,
    duplicateUploads: uploads - (linked - mountedLinks),
    uploadsAvoided: referenced - uploads,
    baseLayerGets,
    manifestPuts: reg.filter((l) => l.method === 'PUT' && /\/manifests\//.test(l.path ?? '')).length,
    throttled429: reg.filter((l) => l.status === 429).length,
    throttledApi: log.filter((l) => l.kind === 'aws' && l.error === 'ThrottlingException').length,
    serverErrors: log.filter((l) => l.status >= 500).length,
  };
  // Each repository needs each uploaded blob once; concurrent jobs to the same repository may race past HEAD.
  assert.ok(f.duplicateUploads >= 0, 'every blob linked by upload was uploaded at least once');
  assert.ok(uploads < referenced, 'HEAD (or mounting) saved uploads');
  return f;
}

async function tagDigest(world: PushWorld, repository: string, tag: string): Promise<string | undefined> {
  const out = await world.ecr.send(new BatchGetImageCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }));
  return out.images?.[0]?.imageId?.imageDigest;
}

describe('load: concurrent hoist push jobs against one throttling sandbox', { timeout: 300_000 }, () => {
  let world: PushWorld;
  before(async () => {
    world = await startPushWorld({ sandboxArgs: ['--throttle'] });
  });
  after(async () => {
    if (process.env.HOIST_LOAD_OUT) writeFileSync(process.env.HOIST_LOAD_OUT, JSON.stringify(figures, null, 2) + '\n');
    console.log(JSON.stringify(figures, null, 2));
    await world?.close();
  });

  const job = async (repository: string, tag: string, unique: string): Promise<PushJob> => ({
    endpoint: world.sb.url, registry: world.sb.registry, repository, tag,
    token: await mintToken(world.sb), cwd: appContext(world.sb.registry, unique),
  });

  test('20 jobs, shared base layers: all succeed, every manifest whole, throttling absorbed', async () => {
    const f = await twentyJobs(world);
    Object.assign(figures, f);
    // Blob mounting off (ECR's default): base layers are copied across, each repository's copy uploaded.
    assert.equal(f.blobsMounted, 0);
  });

  test('10 jobs create the same repository at once: all succeed, one repository', async () => {
    const jobs = await Promise.all(Array.from({ length: 10 }, (_, i) => job('load/same', `t${i}`, `same:${i}`)));
    const runs = await Promise.all(jobs.map((j) => hoistPushJob(world, j)));
    runs.forEach((r) => assert.equal(r.code, 0, r.stderr));
    const state = JSON.parse(readFileSync(join(world.dir, 'state.json'), 'utf8')) as { repositories: Record<string, { tags: Record<string, string> }> };
    assert.equal(Object.keys(state.repositories).filter((n) => n === 'load/same').length, 1);
    assert.equal(Object.keys(state.repositories['load/same']!.tags).length, 10);
    const created = runs.filter((r) => (JSON.parse(r.stdout) as { repositoryCreated: boolean }).repositoryCreated).length;
    figures.createRace = { jobs: 10, succeeded: runs.length, reportedCreated: created, repositories: 1 };
    // One CreateRepository wins; the others see RepositoryAlreadyExistsException and report 'found'.
    assert.equal(created, 1);
    assert.deepEqual(checkInvariant(world).problems, []);
  });

  test('same tag, different images, MUTABLE repository: each job succeeds or fails its verify clearly; the tag names one whole image', async () => {
    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => job('load/mutable', 'race', `mutable:${i}`)));
    const runs = await Promise.all(jobs.map((j) => hoistPushJob(world, j)));
    const ok = runs.filter((r) => r.code === 0);
    const failed = runs.filter((r) => r.code !== 0);
    for (const r of failed) assert.match(r.stderr, /ECR holds sha256:[0-9a-f]+ for .*not the sha256:[0-9a-f]+ that was pushed|Another job may have pushed the same tag/, r.stderr);
    const final = await tagDigest(world, 'load/mutable', 'race');
    assert.ok(final);
    // The tag names an image one of the jobs built, and it is complete.
    const inv = checkInvariant(world);
    assert.deepEqual(inv.problems, []);
    assert.equal(inv.tags['load/mutable']!.race, final);
    figures.mutableRace = { jobs: runs.length, exit0: ok.length, verifyFailed: failed.length, finalDigest: final, finalIsAReportedDigest: ok.some((r) => r.report!.digest === final) };
  });

  test('same tag, different images, IMMUTABLE repository: exactly one wins, the others fail with the immutable-tag error', async () => {
    await world.ecr.send(new CreateRepositoryCommand({ repositoryName: 'load/immutable', imageTagMutability: 'IMMUTABLE' }));
    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => job('load/immutable', 'race', `immutable:${i}`)));
    const runs = await Promise.all(jobs.map((j) => hoistPushJob(world, j)));
    const winners = runs.filter((r) => r.code === 0);
    assert.equal(winners.length, 1, runs.map((r) => r.stderr).join('\n---\n'));
    for (const r of runs.filter((x) => x.code !== 0)) assert.match(r.stderr, /immutable/i, r.stderr);
    assert.equal(await tagDigest(world, 'load/immutable', 'race'), winners[0]!.report!.digest);
    assert.deepEqual(checkInvariant(world).problems, []);
    figures.immutableRace = { jobs: runs.length, winners: winners.length, failedWithImmutableTag: runs.length - winners.length };
  });
});

describe('load with BLOB_MOUNTING enabled: base layers mounted, never copied', { timeout: 300_000 }, () => {
  let world: PushWorld;
  before(async () => {
    world = await startPushWorld({ sandboxArgs: ['--throttle'], blobMounting: true });
  });
  after(async () => {
    if (process.env.HOIST_LOAD_OUT) writeFileSync(process.env.HOIST_LOAD_OUT, JSON.stringify(figures, null, 2) + '\n');
    console.log(JSON.stringify({ blobMounting: figures.blobMounting }, null, 2));
    await world?.close();
  });

  test('20 jobs, shared base layers: all succeed; every base layer is mounted (or found), none is downloaded', async () => {
    const f = await twentyJobs(world);
    figures.blobMounting = f;
    assert.equal(f.baseLayerGets, 0, 'no base layer was copied across');
    assert.ok(f.blobsMounted > 0, 'base layers were mounted');
    // Each job needs the two base layers in its repository: mounted by it, or found by HEAD after another job's mount.
    assert.ok(f.blobsMounted + f.blobsFoundByHead >= 2 * f.jobs, `mounted ${f.blobsMounted} + found ${f.blobsFoundByHead}`);
  });
});
