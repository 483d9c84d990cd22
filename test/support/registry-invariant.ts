// The fault matrix's invariant, judged from a CNCF distribution registry's side and never
// through hoist: plain HTTP GETs of what a tag names (the manifest, then every blob it names,
// each hashed against its digest), plus a scan of the registry's own storage (every blob file
// must hash to the name it is stored under).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface TagCheck {
  /** The digest of the manifest the tag names, or undefined when the tag names nothing. */
  digest?: string;
  problems: string[];
}

async function get(url: string, accept?: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, { headers: accept ? { accept } : {}, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** GET `repository:tag` and every blob its manifest names; each must be served and hash to its digest. */
export async function checkRegistryTag(baseUrl: string, repository: string, tag: string): Promise<TagCheck> {
  const m = await get(`${baseUrl}/v2/${repository}/manifests/${tag}`, ACCEPT);
  if (m.status === 404) return { problems: [] };
  if (m.status !== 200) return { problems: [`GET manifest ${repository}:${tag}: HTTP ${m.status}`] };
  const digest = sha256(m.body);
  const doc = JSON.parse(m.body.toString('utf8')) as { config?: { digest: string; size: number }; layers?: { digest: string; size: number }[]; manifests?: unknown[] };
  if (doc.manifests) return { digest, problems: [`${repository}:${tag} is an index: this check covers single images only`] };
  const problems: string[] = [];
  for (const d of [doc.config!, ...(doc.layers ?? [])]) {
    const b = await get(`${baseUrl}/v2/${repository}/blobs/${d.digest}`);
    if (b.status !== 200) problems.push(`${repository}:${tag}: blob ${d.digest} is not served (HTTP ${b.status})`);
    else if (sha256(b.body) !== d.digest || b.body.length !== d.size) {
      problems.push(`${repository}:${tag}: blob ${d.digest} serves ${b.body.length} bytes hashing to ${sha256(b.body)}`);
    }
  }
  return { digest, problems };
}

/** Every blob in the registry's filesystem storage hashes to the digest it is stored under. */
export function checkRegistryStorage(rootDirectory: string): { blobs: number; problems: string[] } {
  const dir = join(rootDirectory, 'docker', 'registry', 'v2', 'blobs', 'sha256');
  const problems: string[] = [];
  let blobs = 0;
  if (!existsSync(dir)) return { blobs, problems };
  for (const prefix of readdirSync(dir)) {
    for (const hex of readdirSync(join(dir, prefix))) {
      const file = join(dir, prefix, hex, 'data');
      if (!existsSync(file)) continue;
      blobs++;
      const actual = sha256(readFileSync(file));
      if (actual !== `sha256:${hex}`) problems.push(`stored blob sha256:${hex} holds bytes hashing to ${actual}`);
    }
  }
  return { blobs, problems };
}
