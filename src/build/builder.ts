// The one interface every build backend implements (DESIGN §1 "Builders": docker, buildah,
// native). `hoist push` talks to this and never knows how an image was built. Kept small and
// backend-neutral: references are plain strings at this boundary because every backend hands
// them to a tool or registry as text; callers parse them into model values before.

import type { Secret } from '../model/secret.ts';

/** What `check()` found out about the backend before any work starts. */
export interface BuilderInfo {
  /** Backend name: `docker`, `buildah`, `native`. */
  backend: string;
  /** Engine or tool version (e.g. dockerd's). */
  version: string;
  /** Where the work happens (DOCKER_HOST, storage path, …), for messages. */
  endpoint: string;
  /** Backend-specific build mode, e.g. `legacy`, `buildkit`, `buildx`. */
  mode: string;
  /** Whether `--cache-from` images need inline cache metadata (BuildKit) to be usable. */
  inlineCache: boolean;
  /** Facts worth showing a user (deprecations, fallbacks, slow storage drivers). */
  notes: string[];
}

export interface BuildRequest {
  /** Build context directory. */
  context: string;
  /** Dockerfile path; default `<context>/Dockerfile`. */
  dockerfile?: string;
  /** Local tags for the result (push adds registry tags later). At least one. */
  tags: string[];
  /** Never secrets: build args end up in the image history. */
  buildArgs?: Record<string, string>;
  target?: string;
  /** `os/arch[/variant]`. */
  platform?: string;
  labels?: Record<string, string>;
  /** Images whose layers may satisfy build steps (the seed's `--cache-from :latest`). */
  cacheFrom?: string[];
  /** Refresh base images from their registry (the seed's `--pull`). Default true. */
  pull?: boolean;
  signal?: AbortSignal;
}

/** What happened to one `cacheFrom` image. */
export interface CacheSource {
  ref: string;
  /**
   * `available`: pulled or imported, usable as cache; `missing`: not in the registry (a first
   * build: not an error); `unavailable`: could not be fetched (auth, network) — see detail.
   */
  status: 'available' | 'missing' | 'unavailable';
  detail?: string;
}

export interface BuildResult {
  /** `sha256:…` image ID (config digest). */
  imageId: string;
  /** Build steps that could have been cached (excludes FROM). */
  totalSteps: number;
  /** How many of them came from cache. */
  cachedSteps: number;
  /** The instructions that were cache hits, e.g. `RUN npm ci`. */
  cacheHits: string[];
  cacheSources: CacheSource[];
  /** Things the user should know (e.g. a cache image was available but nothing matched). */
  warnings: string[];
  durationMs: number;
}

/** Credentials for one registry. The password is a Secret: it goes to the backend on stdin only. */
export interface RegistryCredential {
  registry: string;
  username: string;
  password: Secret;
  /**
   * Present when the credentials expire mid-job (ECR tokens): a backend that sends registry
   * requests itself asks `fresh()` before each one and `refused()` after a 401 (the same shape
   * as registry/auth.ts's CredentialRenewal). Backends that hand the password to a tool once
   * ignore it; hoist logs them in again before their push.
   */
  renewal?: {
    fresh(): Promise<{ username: string; password: Secret }>;
    refused(sent: { username: string; password: Secret }): Promise<{ username: string; password: Secret }>;
  };
}

export interface PushRequest {
  /** The local image (tag or ID) a build produced. */
  image: string;
  /** Full references to push it as, e.g. `123.dkr.ecr.eu-west-1.amazonaws.com/app:1.0`. */
  refs: string[];
  signal?: AbortSignal;
}

export interface PushedRef {
  ref: string;
  /** Manifest digest the registry stored. */
  digest: string;
  /** Manifest size in bytes. */
  size: number;
  layersPushed: number;
  layersExisting: number;
  layersMounted: number;
  durationMs: number;
}

export interface PushResult {
  pushed: PushedRef[];
  /** Who sent the image when the backend could choose (`--pusher`), and why. */
  pusher?: { via: 'docker' | 'hoist'; why: string };
}

export interface Builder {
  readonly backend: string;
  /** Verify the backend is usable, with a diagnosis when it is not. Cached after the first call. */
  check(): Promise<BuilderInfo>;
  /** Make later pulls and pushes to `registry` authenticated. */
  login(cred: RegistryCredential): Promise<void>;
  build(req: BuildRequest): Promise<BuildResult>;
  push(req: PushRequest): Promise<PushResult>;
  /** Remove credentials and temporary state. Idempotent; call it in `finally`. */
  dispose(): Promise<void>;
}
