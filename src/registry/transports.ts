// Image names as skopeo spells them (containers-transports(5)):
//   docker://REF            a registry (this client)
//   oci:DIR[:TAG]           an OCI image layout directory
//   docker-archive:FILE[:NAME]  a `docker save` tar (read)
//   docker-daemon:IMAGE     the local engine, through `docker save` (read)

import { HoistError } from '../errors.ts';
import type { Runner } from '../exec/index.ts';
import { openDockerArchiveSource } from '../image/docker-archive.ts';
import { openDockerDaemonSource } from '../image/docker-daemon.ts';
import { type EngineEndpoint, engineEndpoint } from '../image/engine-socket.ts';
import { openOciLayoutSink, openOciLayoutSource } from '../image/oci-layout.ts';
import type { GzipEngine } from '../image/pgzip.ts';
import type { ImageSink, ImageSource } from '../image/source.ts';
import { parseReference } from '../model/reference.ts';
import type { RegistryClient, Repository } from './client.ts';

export type TransportSpec =
  | { kind: 'docker'; host: string; repository: string; tag?: string; digest?: string; text: string }
  | { kind: 'oci'; dir: string; tag?: string; text: string }
  | { kind: 'docker-archive'; file: string; name?: string; text: string }
  | { kind: 'docker-daemon'; image: string; text: string };

const KINDS = 'docker://REF, oci:DIR[:TAG], docker-archive:FILE, docker-daemon:IMAGE';

function splitFirst(rest: string): [string, string | undefined] {
  const colon = rest.indexOf(':');
  return colon < 0 ? [rest, undefined] : [rest.slice(0, colon), rest.slice(colon + 1) || undefined];
}

function bad(text: string, why: string): HoistError {
  return new HoistError(`${JSON.stringify(text)} is not an image name: ${why}`, { code: 'config.invalid', op: 'parse image name', hint: `Use one of ${KINDS}.` });
}

/** Docker Hub names: docker.io/x → registry-1.docker.io/library/x (distribution/reference normalize.go). */
function dockerHost(registry: string | undefined, repository: string): { host: string; repository: string } {
  if (registry !== undefined && registry !== 'docker.io' && registry !== 'index.docker.io') return { host: registry, repository };
  return { host: 'registry-1.docker.io', repository: repository.includes('/') ? repository : `library/${repository}` };
}

export function parseTransport(text: string): TransportSpec {
  if (text.startsWith('docker://')) {
    const parsed = parseReference(text.slice('docker://'.length), text);
    if (!parsed.ok) throw bad(text, parsed.problem.message);
    const ref = parsed.value;
    return { kind: 'docker', text, ...dockerHost(ref.registry, ref.repository), ...(ref.tag ? { tag: ref.tag } : {}), ...(ref.digest ? { digest: ref.digest } : {}) };
  }
  const [kind, rest] = splitFirst(text);
  if (!rest) throw bad(text, 'the transport names nothing');
  const [path, extra] = splitFirst(rest);
  if (kind === 'oci') return { kind, dir: path, text, ...(extra ? { tag: extra } : {}) };
  if (kind === 'docker-archive') return { kind, file: path, text, ...(extra ? { name: extra } : {}) };
  if (kind === 'docker-daemon') return { kind, image: rest, text };
  throw bad(text, `unknown transport ${JSON.stringify(kind)}`);
}

export interface TransportContext {
  client: RegistryClient;
  /** Runs the docker CLI for docker-daemon: names. */
  run: Runner;
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** How a source that compresses (docker-daemon:) does it: gzip level and engine. */
  compressionLevel?: number;
  gzip?: GzipEngine;
}

export async function openSource(spec: TransportSpec, ctx: TransportContext): Promise<ImageSource> {
  switch (spec.kind) {
    case 'docker': return registrySource(ctx.client.repository(spec.host, spec.repository), spec.digest ?? spec.tag ?? 'latest', spec.text);
    case 'oci': return openOciLayoutSource(spec.dir, spec.tag);
    case 'docker-archive': return openDockerArchiveSource(spec.file, spec.name ? { name: spec.name } : {});
    case 'docker-daemon': return openDockerDaemonSource(spec.image, {
      run: ctx.run, env: ctx.env, ...(ctx.signal ? { signal: ctx.signal } : {}), ...await endpointOf(ctx.env),
      ...(ctx.compressionLevel !== undefined ? { level: ctx.compressionLevel } : {}), ...(ctx.gzip ? { gzip: ctx.gzip } : {}),
    });
  }
}

/** The engine socket the daemon source reads directly, unless the CLI would go elsewhere. */
async function endpointOf(env: TransportContext['env']): Promise<{ endpoint?: EngineEndpoint }> {
  const endpoint = await engineEndpoint(env);
  return endpoint ? { endpoint } : {};
}

export async function openSink(spec: TransportSpec, ctx: TransportContext): Promise<{ sink: ImageSink; tag?: string }> {
  switch (spec.kind) {
    case 'docker': return { sink: registrySink(ctx.client.repository(spec.host, spec.repository), spec.text), ...(spec.tag ? { tag: spec.tag } : {}) };
    case 'oci': return { sink: await openOciLayoutSink(spec.dir, spec.tag), ...(spec.tag ? { tag: spec.tag } : {}) };
    default: throw bad(spec.text, `${spec.kind}: is read-only in hoist (write docker://, oci:)`);
  }
}

export function registrySource(repo: Repository, reference: string, name: string): ImageSource {
  return {
    name,
    origin: { registry: repo.host, repository: repo.name },
    manifest: () => repo.getManifest(reference),
    manifestByDigest: (desc) => repo.getManifest(desc.digest),
    blob: (desc) => repo.blobOpener(desc),
    close: async () => {},
  };
}

export function registrySink(repo: Repository, name: string): ImageSink {
  return {
    name,
    cacheKey: `docker://${repo.host}`,
    // Distribution spec: the registry verifies `PUT …?digest=` against the bytes it received.
    verifiesDigests: true,
    hasBlob: async (desc) => (await repo.headBlob(desc.digest)) !== undefined,
    putBlob: (desc, open, from) => repo.pushBlob(desc, open, from),
    putStream: (open) => repo.pushStream(open),
    putManifest: (m, tag) => repo.putManifest(m, tag),
    close: async () => {},
  };
}
