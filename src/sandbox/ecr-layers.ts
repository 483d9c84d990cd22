// ECR's layer-upload API: InitiateLayerUpload → UploadLayerPart (base64 parts, contiguous
// byte ranges) → CompleteLayerUpload (digest verified, layer linked into the repository).
// Uploads in progress live in memory, like the registry's: never acknowledged, never durable.

import { createHash, randomUUID, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EcrFault, invalidParameter, optNumber, reqString, stringList, targetRepository } from './ecr-common.ts';
import { storedManifestInfo } from './images.ts';
import { AwsFault, type AwsCall, type SandboxContext } from './protocol.ts';
import type { World } from './state.ts';
import type { Spool } from './store.ts';
import type { Repository } from './world.ts';

type EcrAction = (ctx: SandboxContext, call: AwsCall) => Promise<unknown>;

/** What InitiateLayerUpload advertises: ECR's maximum part size (10 MiB). */
export const PART_SIZE = 10 * 1024 * 1024;
/** Every part but the last must be at least 5 MiB (ECR service quotas). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** API Reference: layerPartBlob is at most 20,971,520 bytes. */
const MAX_PART_BYTES = 20_971_520;
/** ECR's pattern for layer digests. */
const LAYER_DIGEST = /^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$/;
/** Abandoned uploads are dropped after a day. */
const UPLOAD_TTL_MS = 24 * 3600 * 1000;

interface Upload {
  id: string;
  repository: string;
  spool: Spool;
  hash: Hash;
  parts: number[];
  received: number;
  busy: boolean;
  startedAt: number;
}

const uploadsByWorld = new WeakMap<World, Map<string, Upload>>();

function uploads(world: World): Map<string, Upload> {
  let m = uploadsByWorld.get(world);
  if (!m) uploadsByWorld.set(world, (m = new Map()));
  return m;
}

function drop(world: World, upload: Upload): Promise<void> {
  uploads(world).delete(upload.id);
  return upload.spool.abort();
}

function findUpload(ctx: SandboxContext, repo: Repository, id: string): Upload {
  const upload = uploads(ctx.world).get(id);
  if (!upload || upload.repository !== repo.name) {
    throw new AwsFault('UploadNotFoundException',
      `The upload with id '${id}' does not exist in the repository with name '${repo.name}' in registry with id '${repo.registryId}'`);
  }
  return upload;
}

function byteIndex(input: Record<string, unknown>, member: string): number {
  const v = optNumber(input, member);
  if (v === undefined) throw invalidParameter(member, 'Member must not be null');
  if (!Number.isSafeInteger(v) || v < 0) throw invalidParameter(member, 'Member must have value greater than or equal to 0');
  return v;
}

const initiateLayerUpload: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'InitiateLayerUpload');
  const now = ctx.world.now();
  for (const u of uploads(ctx.world).values()) if (now - u.startedAt > UPLOAD_TTL_MS && !u.busy) await drop(ctx.world, u);
  const upload: Upload = {
    id: randomUUID(), repository: repo.name, spool: await ctx.world.blobs.spool(), hash: createHash('sha256'),
    parts: [], received: 0, busy: false, startedAt: now,
  };
  uploads(ctx.world).set(upload.id, upload);
  return { uploadId: upload.id, partSize: PART_SIZE };
};

const uploadLayerPart: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'UploadLayerPart');
  const input = call.input ?? {};
  const upload = findUpload(ctx, repo, reqString(input, 'uploadId'));
  const first = byteIndex(input, 'partFirstByte');
  const last = byteIndex(input, 'partLastByte');
  const blob = Buffer.from(reqString(input, 'layerPartBlob'), 'base64');
  if (blob.length > MAX_PART_BYTES) throw invalidParameter('layerPartBlob', `Member must have length less than or equal to ${MAX_PART_BYTES}`);
  const invalidPart = (why: string): EcrFault => new EcrFault('InvalidLayerPartException', why, {
    registryId: repo.registryId, repositoryName: repo.name, uploadId: upload.id, lastValidByteReceived: upload.received - 1,
  });
  if (upload.busy) throw invalidPart('Another part of this upload is still being received');
  if (first !== upload.received) {
    throw invalidPart(`The part's first byte ${first} does not follow the last valid byte received ${upload.received - 1}`);
  }
  if (last < first || last - first + 1 !== blob.length) {
    throw invalidPart(`The part's byte range ${first}-${last} does not match the ${blob.length} bytes of layerPartBlob`);
  }
  upload.busy = true;
  try {
    await upload.spool.append(Readable.from([blob]));
  } catch (err) {
    await drop(ctx.world, upload);
    throw err;
  } finally {
    upload.busy = false;
  }
  upload.hash.update(blob);
  upload.parts.push(blob.length);
  upload.received += blob.length;
  return { registryId: repo.registryId, repositoryName: repo.name, uploadId: upload.id, lastByteReceived: last };
};

const completeLayerUpload: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'CompleteLayerUpload');
  const input = call.input ?? {};
  const upload = findUpload(ctx, repo, reqString(input, 'uploadId'));
  const digests = stringList(input, 'layerDigests', 1, 100);
  if (upload.busy) throw new AwsFault('InvalidLayerPartException', 'A part of this upload is still being received');
  const where = `in the repository with name '${repo.name}' in registry with id '${repo.registryId}'`;
  if (upload.parts.length === 0) {
    throw new AwsFault('EmptyUploadException', `The upload with id '${upload.id}' ${where} does not contain any layer parts`);
  }
  const small = upload.parts.slice(0, -1).findIndex((size) => size < MIN_PART_SIZE);
  if (small >= 0) {
    await drop(ctx.world, upload);
    throw new AwsFault('LayerPartTooSmallException',
      `Layer part ${small + 1} of upload '${upload.id}' is ${upload.parts[small]} bytes; every part but the last must be at least ${MIN_PART_SIZE} bytes`);
  }
  const actual = `sha256:${upload.hash.digest('hex')}`;
  if (!digests.includes(actual)) {
    await drop(ctx.world, upload);
    throw new AwsFault('InvalidLayerException', `None of the provided layer digests match the uploaded layer, whose digest is '${actual}'`);
  }
  if (repo.layers[actual] !== undefined && (await ctx.world.blobs.stat(actual)) !== undefined) {
    await drop(ctx.world, upload);
    throw new AwsFault('LayerAlreadyExistsException', `The layer with digest '${actual}' already exists ${where}`);
  }
  uploads(ctx.world).delete(upload.id);
  const blob = await upload.spool.commit(actual);
  repo.layers[actual] = blob.size;
  await ctx.world.commit();
  return { registryId: repo.registryId, repositoryName: repo.name, uploadId: upload.id, layerDigest: actual };
};

// ---- layers in a repository ------------------------------------------------------------

/** Layer media types as the repository's manifests declare them. */
async function layerMediaTypes(ctx: SandboxContext, repo: Repository, wanted: Set<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const img of Object.values(repo.images)) {
    if (found.size === wanted.size) break;
    if (!img.references.some((d) => wanted.has(d))) continue;
    const info = await storedManifestInfo(ctx.world.blobs, img);
    for (const [d, t] of Object.entries(info?.mediaTypes ?? {})) if (wanted.has(d)) found.set(d, t);
  }
  return found;
}

async function layerPresent(ctx: SandboxContext, repo: Repository, digest: string): Promise<boolean> {
  return repo.layers[digest] !== undefined && (await ctx.world.blobs.stat(digest)) !== undefined;
}

const batchCheckLayerAvailability: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'BatchCheckLayerAvailability');
  const digests = stringList(call.input ?? {}, 'layerDigests', 1, 100);
  const layers: Record<string, unknown>[] = [];
  const failures: Record<string, unknown>[] = [];
  const present = new Set<string>();
  for (const d of digests) {
    if (!LAYER_DIGEST.test(d)) failures.push({ layerDigest: d, failureCode: 'InvalidLayerDigest', failureReason: 'Invalid layer digest' });
    else if (await layerPresent(ctx, repo, d)) present.add(d);
    else failures.push({ layerDigest: d, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' });
  }
  const types = present.size ? await layerMediaTypes(ctx, repo, present) : new Map<string, string>();
  for (const d of digests.filter((x) => present.has(x))) {
    const mediaType = types.get(d);
    layers.push({ layerDigest: d, layerAvailability: 'AVAILABLE', layerSize: repo.layers[d]!, ...(mediaType ? { mediaType } : {}) });
  }
  return { layers, failures };
};

const getDownloadUrlForLayer: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'GetDownloadUrlForLayer');
  const digest = reqString(call.input ?? {}, 'layerDigest');
  if (!LAYER_DIGEST.test(digest)) throw invalidParameter('layerDigest', "must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
  if (!(await layerPresent(ctx, repo, digest))) {
    throw new AwsFault('LayersNotFoundException',
      `Layer with digest '${digest}' does not exist in the repository with name '${repo.name}' in registry with id '${repo.registryId}'`);
  }
  if (!Object.values(repo.images).some((img) => img.references.includes(digest))) {
    throw new AwsFault('LayerInaccessibleException',
      'The specified layer is not available because it is not associated with an image. Unassociated image layers may be cleaned up at any time.');
  }
  return { downloadUrl: `${ctx.publicUrl}/v2/${repo.name}/blobs/${digest}`, layerDigest: digest };
};

export const LAYER_ACTIONS: Record<string, EcrAction> = {
  InitiateLayerUpload: initiateLayerUpload,
  UploadLayerPart: uploadLayerPart,
  CompleteLayerUpload: completeLayerUpload,
  BatchCheckLayerAvailability: batchCheckLayerAvailability,
  GetDownloadUrlForLayer: getDownloadUrlForLayer,
};
