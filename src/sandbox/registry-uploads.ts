// Blob uploads (OCI distribution v1.1 with ECR's behaviour): POST opens a session (or, with
// `?digest=`, uploads in one request; with `?mount=&from=`, mounts when ECR would), PATCH
// appends — streamed, or a chunk whose Content-Range starts at the current size — and is
// answered 201 as ECR does, PUT `?digest=` completes. Bodies stream into a BlobStore spool;
// sessions live in memory only, so a restart forgets every upload that was not completed.

import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { authorizeRepository, mayOnRepository } from './registry-auth.ts';
import { errors, findRepository, progressRange, send, validRepositoryName, type Exchange } from './registry-http.ts';
import type { World } from './state.ts';
import { DigestMismatch, isSha256Digest, type Spool } from './store.ts';
import type { Repository } from './world.ts';

interface Upload {
  id: string;
  repo: string;
  principalArn: string;
  spool: Spool;
  /** A request is streaming into the spool; a second one must not interleave. */
  busy: boolean;
  touched: number;
}

/** Sessions idle longer than this are dropped (ECR forgets abandoned uploads too). */
const IDLE_MS = 60 * 60 * 1000;
const sessionsByWorld = new WeakMap<World, Map<string, Upload>>();

function sessions(ex: Exchange): Map<string, Upload> {
  let map = sessionsByWorld.get(ex.ctx.world);
  if (!map) sessionsByWorld.set(ex.ctx.world, (map = new Map()));
  return map;
}

function sweep(map: Map<string, Upload>): void {
  const cutoff = Date.now() - IDLE_MS;
  for (const up of map.values()) if (!up.busy && up.touched < cutoff) void drop(map, up);
}

async function drop(map: Map<string, Upload>, up: Upload): Promise<void> {
  map.delete(up.id);
  await up.spool.abort().catch(() => undefined);
}

const uploadPath = (name: string, id: string): string => `/v2/${name}/blobs/uploads/${id}`;
const blobPath = (name: string, digest: string): string => `/v2/${name}/blobs/${digest}`;

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function progressHeaders(name: string, up: Upload): Record<string, string> {
  return { location: uploadPath(name, up.id), 'docker-upload-uuid': up.id, range: progressRange(up.spool.size) };
}

/** Links a committed blob to the repository and persists before anyone is told (201). */
async function linkAndAcknowledge(ex: Exchange, name: string, digest: string, size: number): Promise<void> {
  const repo = findRepository(ex, name);
  repo.layers[digest] = size;
  await ex.ctx.world.commit();
  send(ex, 201, { location: blobPath(name, digest), 'docker-content-digest': digest, 'content-length': 0 });
}

function requireDigest(ex: Exchange): string {
  const digest = ex.url.searchParams.get('digest');
  if (!digest || !isSha256Digest(digest)) throw errors.digestInvalid(`invalid digest '${digest ?? ''}'`, { digest });
  return digest;
}

/** Streams the request body into the session's spool; a broken body kills the session. */
async function appendBody(ex: Exchange, map: Map<string, Upload>, up: Upload): Promise<number> {
  const before = up.spool.size;
  up.busy = true;
  try {
    await up.spool.append(ex.req);
  } catch (err) {
    await drop(map, up);
    throw err;
  } finally {
    up.busy = false;
    up.touched = Date.now();
  }
  const appended = up.spool.size - before;
  ex.bytesIn += appended;
  return appended;
}

/** Verifies and publishes the spooled blob; a digest mismatch drops the upload (DIGEST_INVALID). */
async function complete(ex: Exchange, map: Map<string, Upload>, up: Upload, name: string, digest: string): Promise<void> {
  map.delete(up.id);
  let size: number;
  try {
    ({ size } = await up.spool.commit(digest));
  } catch (err) {
    await up.spool.abort().catch(() => undefined);
    if (err instanceof DigestMismatch) throw errors.digestInvalid('provided digest did not match uploaded content', { digest });
    throw err;
  }
  await linkAndAcknowledge(ex, name, digest, size);
}

// ---- POST -------------------------------------------------------------------------

/** ECR mounts only when BLOB_MOUNTING is on, the caller may read the source, and it holds the blob. */
async function tryMount(ex: Exchange, target: Repository, digest: string, from: string | null): Promise<boolean> {
  const state = ex.ctx.world.state;
  if (!state.settings.blobMounting || from === null || !isSha256Digest(digest) || !validRepositoryName(from)) return false;
  const source = Object.hasOwn(state.repositories, from) ? state.repositories[from] : undefined;
  if (!source || !Object.hasOwn(source.layers, digest)) return false;
  if (source.encryption.encryptionType !== target.encryption.encryptionType || source.encryption.kmsKey !== target.encryption.kmsKey) return false;
  if (!mayOnRepository(ex, 'ecr:GetDownloadUrlForLayer', from)) return false;
  const size = await ex.ctx.world.blobs.stat(digest);
  if (size === undefined) return false;
  await linkAndAcknowledge(ex, target.name, digest, size);
  return true;
}

async function newSession(ex: Exchange, name: string): Promise<Upload> {
  const map = sessions(ex);
  sweep(map);
  const spool = await ex.ctx.world.blobs.spool();
  const up: Upload = { id: randomUUID(), repo: name, principalArn: ex.principal!.arn, spool, busy: false, touched: Date.now() };
  map.set(up.id, up);
  return up;
}

export async function startUpload(ex: Exchange, name: string): Promise<void> {
  authorizeRepository(ex, 'ecr:InitiateLayerUpload', name);
  const repo = findRepository(ex, name);
  const q = ex.url.searchParams;
  const mount = q.get('mount');
  if (mount !== null && (await tryMount(ex, repo, mount, q.get('from')))) return;
  if (mount === null && q.has('digest')) return monolithic(ex, name);
  const up = await newSession(ex, name);
  send(ex, 202, { ...progressHeaders(name, up), 'content-length': 0 });
}

/** `POST ?digest=` with the whole blob as the body: one request, 201. */
async function monolithic(ex: Exchange, name: string): Promise<void> {
  authorizeRepository(ex, 'ecr:UploadLayerPart', name);
  authorizeRepository(ex, 'ecr:CompleteLayerUpload', name);
  const digest = requireDigest(ex);
  const up = await newSession(ex, name);
  const map = sessions(ex);
  await appendBody(ex, map, up);
  await complete(ex, map, up, name, digest);
}

// ---- PATCH / PUT / GET / DELETE on a session -----------------------------------------

function findUpload(ex: Exchange, name: string, id: string): Upload {
  const up = sessions(ex).get(id);
  if (!up || up.repo !== name || up.principalArn !== ex.principal!.arn) throw errors.uploadUnknown(id);
  return up;
}

/** A chunk must start where the upload stands and declare its true length (416 otherwise). */
function checkContentRange(ex: Exchange, name: string, up: Upload): number | undefined {
  const header = ex.req.headers['content-range'];
  if (header === undefined) return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  const outOfOrder = (why: string) => errors.uploadInvalid(why, 416, progressHeaders(name, up));
  if (!m) throw outOfOrder(`invalid Content-Range '${header}'`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start !== up.spool.size || end < start) throw outOfOrder(`Content-Range ${start}-${end} does not continue the upload at ${up.spool.size}`);
  const declared = ex.req.headers['content-length'];
  if (declared !== undefined && Number(declared) !== end - start + 1) {
    throw outOfOrder(`Content-Length ${declared} does not match Content-Range ${start}-${end}`);
  }
  return end - start + 1;
}

async function appendChecked(ex: Exchange, name: string, up: Upload): Promise<void> {
  const map = sessions(ex);
  if (up.busy) throw errors.uploadInvalid('another request is writing to this upload', 416, progressHeaders(name, up));
  const expected = checkContentRange(ex, name, up);
  const appended = await appendBody(ex, map, up);
  if (expected !== undefined && appended !== expected) {
    await drop(map, up);
    throw errors.uploadInvalid(`received ${appended} bytes for a ${expected}-byte chunk`);
  }
}

export async function patchUpload(ex: Exchange, name: string, id: string): Promise<void> {
  authorizeRepository(ex, 'ecr:UploadLayerPart', name);
  findRepository(ex, name);
  const up = findUpload(ex, name, id);
  await appendChecked(ex, name, up);
  // ECR answers PATCH with 201 Created (the spec says 202 Accepted).
  send(ex, 201, { ...progressHeaders(name, up), 'content-length': 0 });
}

export async function putUpload(ex: Exchange, name: string, id: string): Promise<void> {
  authorizeRepository(ex, 'ecr:CompleteLayerUpload', name);
  const withBody = hasBody(ex.req);
  if (withBody) authorizeRepository(ex, 'ecr:UploadLayerPart', name);
  findRepository(ex, name);
  const up = findUpload(ex, name, id);
  const digest = requireDigest(ex);
  if (withBody) await appendChecked(ex, name, up);
  else if (up.busy) throw errors.uploadInvalid('another request is writing to this upload', 416);
  await complete(ex, sessions(ex), up, name, digest);
}

export async function uploadStatus(ex: Exchange, name: string, id: string): Promise<void> {
  authorizeRepository(ex, 'ecr:UploadLayerPart', name);
  findRepository(ex, name);
  const up = findUpload(ex, name, id);
  send(ex, 204, progressHeaders(name, up));
}

export async function cancelUpload(ex: Exchange, name: string, id: string): Promise<void> {
  authorizeRepository(ex, 'ecr:UploadLayerPart', name);
  findRepository(ex, name);
  const up = findUpload(ex, name, id);
  await drop(sessions(ex), up);
  send(ex, 204, { 'content-length': 0 });
}
