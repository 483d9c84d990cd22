// The docker backend: any Docker-compatible engine reached by DOCKER_HOST (DinD, socket,
// remote), driven through the docker CLI as data. The seed's script, done carefully:
//   docker info                      → check(): engine reachable? which builder? else a diagnosis
//   docker login --password-stdin    → login(): private DOCKER_CONFIG, stdin only, verified, retried
//   docker pull :latest || true      → build(): cache images pulled when the builder needs it
//   docker build --pull --cache-from → build(): inline cache under BuildKit, hits counted
//   docker tag; docker push          → push(): digest and layer counts parsed, transient errors retried

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { assertNoProblems, HoistError, isHoistError, type Problem } from '../errors.ts';
import type { Runner } from '../exec/run.ts';
import { withRetry } from '../http/retry.ts';
import { info, type Logger, warn } from '../log.ts';
import { parseReference, parseRegistryHost } from '../model/reference.ts';
import { collect, orThrow } from '../model/value.ts';
import type { Builder, BuilderInfo, BuildRequest, BuildResult, CacheSource, PushedRef, PushRequest, PushResult, RegistryCredential } from './builder.ts';
import { buildArgs, buildEnv, commandEnv, type DockerBuildMode, type DockerEnv, loginArgs, pullArgs, pushArgs, tagArgs } from './docker-args.ts';
import { cacheWarnings, needsCachePull, sourceFromImport, sourceFromPull } from './docker-cache.ts';
import { DockerCli } from './docker-cli.ts';
import { DockerConfigDir } from './docker-config.ts';
import { diagnoseBuild, diagnoseLogin, diagnosePush } from './docker-diagnose.ts';
import { checkEngine, type EngineCheck, type ModeRequest } from './docker-engine.ts';
import { BuildOutputParser, type ParsedBuild, parsePullResult, parsePushOutput } from './docker-parse.ts';

export interface DockerTimeouts {
  check: number;
  login: number;
  pull: number;
  build: number;
  push: number;
}

export interface DockerBuilderOptions {
  /** The job's environment: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, PATH, HOME, … */
  env: Readonly<DockerEnv>;
  /** The docker CLI to run (default `docker` from env PATH). */
  docker?: string;
  /** `auto` (default): BuildKit when this CLI can use it, else the legacy builder. */
  mode?: ModeRequest;
  runner?: Runner;
  logger?: Logger;
  /** Parent dir of the private DOCKER_CONFIG (default env TMPDIR, else the OS temp dir). */
  tmpDir?: string;
  /** Keep polling an unreachable engine this long (default 0). */
  engineWaitMs?: number;
  timeouts?: Partial<DockerTimeouts>;
  /** Attempts for login and push on transient errors (default 3). */
  attempts?: number;
  /** Backoff sleep (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_TIMEOUTS: DockerTimeouts = { check: 20_000, login: 60_000, pull: 600_000, build: 3_600_000, push: 1_800_000 };

/** Registry host of an image reference, for credential pinning; undefined for Docker Hub names. */
function registryOf(ref: string): string | undefined {
  const parsed = parseReference(ref);
  return parsed.ok ? parsed.value.registry : undefined;
}

function validateBuild(req: BuildRequest): void {
  const problems: Problem[] = [];
  if (req.tags.length === 0) problems.push({ source: 'tags', message: 'a build needs at least one local tag' });
  for (const t of req.tags) collect(parseReference(t, 'tags'), problems);
  for (const c of req.cacheFrom ?? []) collect(parseReference(c, 'cacheFrom'), problems);
  assertNoProblems(problems, 'docker build request');
}

export class DockerBuilder implements Builder {
  readonly backend = 'docker';
  readonly #opts: DockerBuilderOptions;
  readonly #timeouts: DockerTimeouts;
  #config?: Promise<{ dir: DockerConfigDir; cli: DockerCli }>;
  #engine?: Promise<EngineCheck>;
  #disposed = false;
  #iid = 0;

  constructor(opts: DockerBuilderOptions) {
    this.#opts = opts;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  }

  /** The private DOCKER_CONFIG dir (created on first use), e.g. to show where credentials live. */
  async configDir(): Promise<string> {
    return (await this.#session()).dir.path;
  }

  #session(): Promise<{ dir: DockerConfigDir; cli: DockerCli }> {
    if (this.#disposed) return Promise.reject(new HoistError('the docker builder was disposed', { code: 'docker.disposed', op: 'docker' }));
    this.#config ??= DockerConfigDir.create(this.#opts.env, this.#opts.tmpDir).then((dir) => ({
      dir,
      cli: new DockerCli(this.#opts.docker ?? 'docker', commandEnv(this.#opts.env, dir.path), this.#opts.runner, this.#opts.logger),
    }));
    return this.#config;
  }

  #log(msg: string, fields?: Record<string, unknown>): void {
    if (this.#opts.logger) info(this.#opts.logger, msg, fields);
  }

  async check(): Promise<BuilderInfo> {
    return (await this.#checked()).info;
  }

  #checked(): Promise<EngineCheck> {
    if (this.#engine) return this.#engine;
    const engine = this.#session().then(({ cli }) =>
      checkEngine(cli, this.#opts.env, {
        mode: this.#opts.mode ?? 'auto',
        timeoutMs: this.#timeouts.check,
        waitMs: this.#opts.engineWaitMs ?? 0,
        ...(this.#opts.sleep ? { sleep: this.#opts.sleep } : {}),
      }),
    );
    // A failed check is not cached: the next call tries again (the engine may have come up).
    engine.catch(() => {
      if (this.#engine === engine) this.#engine = undefined;
    });
    this.#engine = engine;
    return engine;
  }

  #retry<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, {
      attempts: this.#opts.attempts ?? 3,
      baseMs: 500,
      capMs: 5_000,
      retryable: (e) => isHoistError(e) && e.retryable,
      ...(this.#opts.sleep ? { sleep: this.#opts.sleep } : {}),
    });
  }

  async login(cred: RegistryCredential): Promise<void> {
    const registry: string = orThrow(parseRegistryHost(cred.registry, 'registry'));
    const { dir, cli } = await this.#session();
    const password = cred.password.reveal();
    // docker may echo either form in an error; the base64 pair is what config.json stores.
    cli.secrets.push(password, Buffer.from(`${cred.username}:${password}`).toString('base64'));
    await dir.pinFileStore([registry]);
    await this.#retry(async () => {
      const r = await cli.run({ args: loginArgs(registry, cred.username), op: 'docker login', timeoutMs: this.#timeouts.login, stdin: password });
      if (r.code !== 0) throw diagnoseLogin(registry, r.stderr);
    });
    if (!(await dir.hasAuth(registry))) {
      throw new HoistError(`docker login ${registry} succeeded but stored no credentials`, {
        code: 'docker.login-not-stored',
        op: 'docker login',
        hint: 'a credential helper took over: check credHelpers/credsStore; later pulls and pushes would fail with "no basic auth credentials"',
        context: { registry },
      });
    }
    this.#log(`logged in to ${registry}`, { registry, configDir: dir.path });
  }

  async #pullCache(cli: DockerCli, req: BuildRequest): Promise<CacheSource[]> {
    const sources: CacheSource[] = [];
    for (const ref of req.cacheFrom ?? []) {
      const r = await cli.run({ args: pullArgs(ref, req.platform), op: 'docker pull', timeoutMs: this.#timeouts.pull, ...(req.signal ? { signal: req.signal } : {}) });
      const source = sourceFromPull(ref, parsePullResult(r.code, r.stdout, r.stderr));
      this.#log(`cache image ${ref}: ${source.status}`, { ref, detail: source.detail });
      sources.push(source);
    }
    return sources;
  }

  async #readIid(file: string): Promise<string | undefined> {
    try {
      return (await readFile(file, 'utf8')).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** `docker build` itself, output parsed while it streams; a failure becomes a diagnosis. */
  async #runBuild(cli: DockerCli, dir: DockerConfigDir, req: BuildRequest, mode: DockerBuildMode): Promise<{ parsed: ParsedBuild; imageId: string }> {
    const iidFile = join(dir.path, `iid-${++this.#iid}`);
    const parser = new BuildOutputParser();
    const r = await cli.run({
      args: buildArgs({ ...req, iidFile }, mode),
      env: buildEnv(cli.env, mode),
      op: 'docker build',
      timeoutMs: this.#timeouts.build,
      onLine: (line) => parser.line(line),
      ...(req.signal ? { signal: req.signal } : {}),
    });
    const parsed = parser.result();
    if (r.code !== 0) throw diagnoseBuild(parsed, r.stderr, { pull: req.pull !== false, endpoint: (await this.check()).endpoint });
    // --iidfile gives the full ID with every builder; the output only has a short one (legacy).
    const imageId = (await this.#readIid(iidFile)) ?? parsed.imageId;
    if (!imageId) throw new HoistError('docker build succeeded but reported no image ID', { code: 'docker.build-failed', op: 'docker build' });
    return { parsed, imageId };
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    validateBuild(req);
    const started = Date.now();
    const { mode } = await this.#checked();
    const { dir, cli } = await this.#session();
    await dir.pinFileStore((req.cacheFrom ?? []).map(registryOf).filter((h): h is string => h !== undefined));
    const pulled = needsCachePull(mode) ? await this.#pullCache(cli, req) : [];
    const { parsed, imageId } = await this.#runBuild(cli, dir, req, mode);
    const sources = needsCachePull(mode) ? pulled : (req.cacheFrom ?? []).map((ref) => sourceFromImport(ref, parsed.cacheImports));
    const result = this.#result(mode, imageId, parsed, sources, started);
    this.#log(`built ${imageId} (${result.cachedSteps}/${result.totalSteps} steps from cache)`, { mode, tags: req.tags });
    if (this.#opts.logger) for (const w of result.warnings) warn(this.#opts.logger, w);
    return result;
  }

  #result(mode: DockerBuildMode, imageId: string, parsed: ParsedBuild, sources: CacheSource[], started: number): BuildResult {
    return {
      imageId,
      totalSteps: parsed.totalSteps,
      cachedSteps: parsed.cachedSteps,
      cacheHits: parsed.cacheHits,
      cacheSources: sources,
      warnings: cacheWarnings(mode, sources, parsed),
      durationMs: Date.now() - started,
    };
  }

  async #pushOne(cli: DockerCli, image: string, ref: string, signal?: AbortSignal): Promise<PushedRef> {
    const started = Date.now();
    const sig = signal ? { signal } : {};
    if (image !== ref) {
      const t = await cli.run({ args: tagArgs(image, ref), op: 'docker tag', timeoutMs: this.#timeouts.check, ...sig });
      if (t.code !== 0) throw diagnosePush(ref, t.stderr);
    }
    const parsed = await this.#retry(async () => {
      const r = await cli.run({ args: pushArgs(ref), op: 'docker push', timeoutMs: this.#timeouts.push, ...sig });
      if (r.code !== 0) throw diagnosePush(ref, r.stderr, r.stdout);
      const p = parsePushOutput(r.stdout);
      if (!p.digest) throw new HoistError(`docker push ${ref} reported no digest`, { code: 'docker.push-failed', op: 'docker push', context: { ref } });
      return p;
    });
    const pushed: PushedRef = {
      ref,
      digest: parsed.digest!,
      size: parsed.size ?? 0,
      layersPushed: parsed.pushed,
      layersExisting: parsed.existing,
      layersMounted: parsed.mounted,
      durationMs: Date.now() - started,
    };
    this.#log(`pushed ${ref}@${pushed.digest} (${pushed.layersPushed} layers uploaded, ${pushed.layersExisting} already there)`, { ref });
    return pushed;
  }

  async push(req: PushRequest): Promise<PushResult> {
    const problems: Problem[] = [];
    if (req.refs.length === 0) problems.push({ source: 'refs', message: 'nothing to push: give at least one reference' });
    for (const r of req.refs) collect(parseReference(r, 'refs'), problems);
    assertNoProblems(problems, 'docker push request');
    await this.#checked();
    const { dir, cli } = await this.#session();
    await dir.pinFileStore(req.refs.map(registryOf).filter((h): h is string => h !== undefined));
    const pushed: PushedRef[] = [];
    for (const ref of req.refs) pushed.push(await this.#pushOne(cli, req.image, ref, req.signal));
    return { pushed };
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    const session = this.#config;
    this.#config = undefined;
    if (session) await (await session.catch(() => undefined))?.dir.dispose();
  }
}

export function createDockerBuilder(opts: DockerBuilderOptions): DockerBuilder {
  return new DockerBuilder(opts);
}
