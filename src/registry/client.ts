// hoist's OCI distribution client: one object per run, holding the HTTP agents, the auth
// state and the credentials; `repository()` hands out a handle with every verb.
//
//   const client = new RegistryClient({ credentials: { 'host:5000': { username, password } } });
//   const repo = client.repository('host:5000', 'team/app');
//   await repo.pushBlob(desc, () => createReadStream(file));
//   await repo.putManifest(manifest, 'v1');

import type { Readable } from 'node:stream';
import type { Descriptor, RawManifest } from '../image/descriptor.ts';
import type { BlobOrigin, BlobOutcome } from '../image/source.ts';
import type { Digest } from '../model/reference.ts';
import { Authenticator, type CredentialStore, type RegistryCredentials } from './auth.ts';
import { getBlob, headBlob, lazyStream } from './blobs.ts';
import { HttpClient } from './http.ts';
import { type ManifestHead, getManifest, headManifest, putManifest, tagDigest } from './manifests.ts';
import { registryBaseUrl } from './ping.ts';
import { listTags } from './tags.ts';
import { RegistryTransport, type RetryOptions } from './transport.ts';
import { pushBlob, pushStream } from './uploads.ts';

export interface RegistryClientOptions {
  /** Credentials by registry host (host[:port]), or a lookup function. */
  credentials?: Record<string, RegistryCredentials> | CredentialStore;
  /** Hosts reached over plain HTTP (loopback hosts always are, like Docker). */
  insecureRegistries?: readonly string[];
  /** PEM CA bundle for TLS registries with a private CA. */
  ca?: string | Buffer;
  /** Retry policy overrides (attempts, baseMs, capMs, sleep, onRetry). */
  retry?: RetryOptions;
  /** No-progress timeout per request (default 60 s). */
  stallMs?: number;
}

export class RegistryClient {
  readonly #http: HttpClient;
  readonly #auth: Authenticator;
  readonly #transports = new Map<string, RegistryTransport>();

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.#http = new HttpClient({ ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.stallMs ? { stallMs: opts.stallMs } : {}) });
    const creds = opts.credentials;
    const store: CredentialStore = typeof creds === 'function' ? creds : (host) => creds?.[host];
    this.#auth = new Authenticator(store, this.#http);
  }

  baseUrl(host: string): string {
    return this.opts.insecureRegistries?.includes(host) ? `http://${host}` : registryBaseUrl(host);
  }

  transport(host: string): RegistryTransport {
    let t = this.#transports.get(host);
    if (!t) this.#transports.set(host, (t = new RegistryTransport(host, this.baseUrl(host), this.#http, this.#auth, this.opts.retry)));
    return t;
  }

  repository(host: string, repository: string): Repository {
    return new Repository(this.transport(host), repository);
  }

  close(): void {
    this.#http.close();
  }
}

export class Repository {
  constructor(readonly transport: RegistryTransport, readonly name: string) {}

  get host(): string {
    return this.transport.host;
  }

  /** Size of the blob when present, else undefined. */
  headBlob(digest: Digest): Promise<number | undefined> {
    return headBlob(this.transport, this.name, digest);
  }

  /** A digest-verified stream of the blob. */
  getBlob(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    return getBlob(this.transport, this.name, desc);
  }

  /** A synchronous opener of getBlob, for the copy engine. */
  blobOpener(desc: Pick<Descriptor, 'digest' | 'size'>): () => Readable {
    return () => lazyStream(() => this.getBlob(desc));
  }

  /** Mount from `from` when it is on this registry, else POST + PUT with Content-Length. */
  pushBlob(desc: Descriptor, open: () => Readable, from?: BlobOrigin): Promise<BlobOutcome> {
    return pushBlob(this.transport, this.name, desc, open, from);
  }

  /** POST, one streamed PATCH hashed on the fly, PUT ?digest=. */
  pushStream(open: () => Readable): Promise<{ digest: Digest; size: number }> {
    return pushStream(this.transport, this.name, open);
  }

  getManifest(reference: string): Promise<RawManifest> {
    return getManifest(this.transport, this.name, reference);
  }

  headManifest(reference: string): Promise<ManifestHead | undefined> {
    return headManifest(this.transport, this.name, reference);
  }

  tagDigest(tag: string): Promise<Digest | undefined> {
    return tagDigest(this.transport, this.name, tag);
  }

  /** PUT under `tag` (or by digest), skipped when the tag already names this digest. */
  putManifest(manifest: RawManifest, tag?: string): Promise<'pushed' | 'unchanged'> {
    return putManifest(this.transport, this.name, manifest, tag);
  }

  listTags(pageSize?: number): Promise<string[]> {
    return listTags(this.transport, this.name, pageSize);
  }
}
