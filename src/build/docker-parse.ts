// Pure parsers for what the docker CLI prints, tested on recorded output from both builders
// (test/fixtures/docker-output/). Build output is read line by line while it streams, so a
// long build never needs its whole log in memory.
//
// Legacy builder (moby builder/dockerfile): "Step 2/5 : RUN …", " ---> Using cache",
// "Successfully built <id>", "The command '…' returned a non-zero code: N".
// BuildKit plain progress: "#6 [2/3] RUN …" then "#6 CACHED" | "#6 DONE 0.2s" | "#6 ERROR: …";
// "#5 importing cache manifest from <ref>"; "#8 writing image sha256:… done".

export interface BuildStep {
  /** The instruction as the builder printed it, e.g. `RUN npm ci`. */
  name: string;
  /** Multi-stage name or index (BuildKit `[builder 2/3]`), when printed. */
  stage?: string;
  cached: boolean;
  from: boolean;
  error?: string;
}

export interface CacheImport {
  ref: string;
  ok: boolean;
  error?: string;
}

export interface ParsedBuild {
  format: 'legacy' | 'buildkit' | 'unknown';
  /** Every step the builder reported, FROM included. */
  steps: BuildStep[];
  /** Steps that could have come from cache (FROM excluded). */
  totalSteps: number;
  cachedSteps: number;
  cacheHits: string[];
  imageId?: string;
  /** BuildKit's `importing cache manifest from <ref>` results. */
  cacheImports: CacheImport[];
  failure?: { step?: string; message: string };
}

const LEGACY_STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const LEGACY_BUILT = /^Successfully built ([0-9a-f]{12,64})$/;
const LEGACY_FAILED = /^The command '(.*)' returned a non-zero code: (\d+)$/;
const BK_LINE = /^#(\d+) (.*)$/;
const BK_STEP = /^\[(?:(.+) )?(\d+)\/(\d+)\] (.+)$/;
const BK_IMPORT = /^importing cache manifest from (\S+)/;
const BK_IMAGE = /^writing image (sha256:[0-9a-f]{64})/;

interface Vertex {
  name: string;
  step?: BuildStep;
  cacheImport?: CacheImport;
}

function isFrom(instruction: string): boolean {
  return /^FROM\s/i.test(instruction);
}

export class BuildOutputParser {
  #format: ParsedBuild['format'] = 'unknown';
  readonly #steps: BuildStep[] = [];
  readonly #vertices = new Map<string, Vertex>();
  readonly #imports: CacheImport[] = [];
  #imageId: string | undefined;
  #failure: ParsedBuild['failure'];

  line(raw: string): void {
    const line = raw.trimEnd();
    const bk = BK_LINE.exec(line);
    if (bk) return this.#buildkit(bk[1]!, bk[2]!);
    this.#legacy(line);
  }

  #legacy(line: string): void {
    const step = LEGACY_STEP.exec(line);
    if (step) {
      this.#format = 'legacy';
      const name = step[3]!;
      this.#steps.push({ name, cached: false, from: isFrom(name) });
      return;
    }
    const current = this.#steps[this.#steps.length - 1];
    if (line === ' ---> Using cache' && current) current.cached = true;
    const built = LEGACY_BUILT.exec(line);
    if (built) this.#imageId = built[1];
    const failed = LEGACY_FAILED.exec(line);
    if (failed) {
      if (current) current.error = line;
      this.#failure = { ...(current ? { step: current.name } : {}), message: line };
    }
  }

  #buildkit(id: string, text: string): void {
    this.#format = 'buildkit';
    const vertex = this.#vertices.get(id);
    if (!vertex) return void this.#vertices.set(id, this.#newVertex(text));
    if (text === vertex.name) return; // BuildKit repeats a vertex's name when output interleaves
    if (text === 'CACHED' && vertex.step) vertex.step.cached = true;
    const image = BK_IMAGE.exec(text);
    if (image) this.#imageId = image[1];
    if (text.startsWith('ERROR')) this.#vertexError(vertex, text.replace(/^ERROR:?\s*/, ''));
  }

  #newVertex(name: string): Vertex {
    const step = BK_STEP.exec(name);
    if (step) {
      const s: BuildStep = { name: step[4]!, cached: false, from: isFrom(step[4]!), ...(step[1] ? { stage: step[1] } : {}) };
      this.#steps.push(s);
      return { name, step: s };
    }
    const imp = BK_IMPORT.exec(name);
    if (imp) {
      const cacheImport: CacheImport = { ref: imp[1]!, ok: true };
      this.#imports.push(cacheImport);
      return { name, cacheImport };
    }
    return { name };
  }

  #vertexError(vertex: Vertex, message: string): void {
    // A cache import that fails does not fail the build: BuildKit goes on without that cache.
    if (vertex.cacheImport) {
      vertex.cacheImport.ok = false;
      vertex.cacheImport.error = message;
      return;
    }
    if (vertex.step) vertex.step.error = message;
    this.#failure ??= { step: vertex.step?.name ?? vertex.name, message };
  }

  result(): ParsedBuild {
    const cacheable = this.#steps.filter((s) => !s.from);
    const hits = cacheable.filter((s) => s.cached).map((s) => s.name);
    return {
      format: this.#format,
      steps: this.#steps.map((s) => ({ ...s })),
      totalSteps: cacheable.length,
      cachedSteps: hits.length,
      cacheHits: hits,
      ...(this.#imageId ? { imageId: this.#imageId } : {}),
      cacheImports: this.#imports.map((i) => ({ ...i })),
      ...(this.#failure ? { failure: this.#failure } : {}),
    };
  }
}

export function parseBuildOutput(text: string): ParsedBuild {
  const p = new BuildOutputParser();
  for (const line of text.split(/\r?\n/)) p.line(line);
  return p.result();
}

// ---------------------------------------------------------------- push / pull

export type LayerState = 'pushed' | 'exists' | 'mounted' | 'other';

export interface ParsedPush {
  repository?: string;
  tag?: string;
  digest?: string;
  size?: number;
  layers: Record<string, LayerState>;
  pushed: number;
  existing: number;
  mounted: number;
}

const PUSH_REPO = /^The push refers to repository \[(.+)\]$/;
const PUSH_LAYER = /^([0-9a-f]{12,64}): (Pushed|Layer already exists|Mounted from .+|Preparing|Waiting|Pushing.*|Retrying.*)$/;
const PUSH_DIGEST = /^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)$/;

function layerState(status: string): LayerState {
  if (status === 'Pushed') return 'pushed';
  if (status === 'Layer already exists') return 'exists';
  return status.startsWith('Mounted from') ? 'mounted' : 'other';
}

/** `docker push` output: the final state of each layer and the manifest digest. */
export function parsePushOutput(text: string): ParsedPush {
  const out: ParsedPush = { layers: {}, pushed: 0, existing: 0, mounted: 0 };
  for (const line of text.split(/\r?\n/).map((l) => l.trim())) {
    const repo = PUSH_REPO.exec(line);
    if (repo) out.repository = repo[1];
    const layer = PUSH_LAYER.exec(line);
    if (layer) out.layers[layer[1]!] = layerState(layer[2]!);
    const digest = PUSH_DIGEST.exec(line);
    if (digest) Object.assign(out, { tag: digest[1], digest: digest[2], size: Number(digest[3]) });
  }
  for (const state of Object.values(out.layers)) {
    if (state === 'pushed') out.pushed++;
    if (state === 'exists') out.existing++;
    if (state === 'mounted') out.mounted++;
  }
  return out;
}

export interface ParsedPull {
  status: 'pulled' | 'up-to-date' | 'missing' | 'unauthorized' | 'failed';
  digest?: string;
  message?: string;
}

/** `docker pull` result. A missing image is its own status: `docker pull … || true` semantics. */
export function parsePullResult(code: number, stdout: string, stderr: string): ParsedPull {
  const digest = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(stdout)?.[1];
  if (code === 0) {
    const upToDate = /^Status: Image is up to date/m.test(stdout);
    return { status: upToDate ? 'up-to-date' : 'pulled', ...(digest ? { digest } : {}) };
  }
  const message = lastLine(stderr) || lastLine(stdout);
  if (/manifest unknown|not found|does not exist/i.test(stderr)) return { status: 'missing', message };
  if (/no basic auth credentials|unauthorized|authentication required|denied/i.test(stderr)) return { status: 'unauthorized', message };
  return { status: 'failed', message };
}

export function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '';
}

// ---------------------------------------------------------------- version / info

export interface DockerVersions {
  client: { version: string; apiVersion?: string };
  /** Absent when the engine could not be reached (the CLI prints `"Server":null`). */
  server?: { version: string; apiVersion?: string; os?: string; arch?: string };
}

type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The object without its undefined properties (exact optional types in results). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `docker version --format '{{json .}}'`. Undefined when stdout is not that JSON. */
export function parseVersionJson(stdout: string): DockerVersions | undefined {
  let doc: Json;
  try {
    doc = JSON.parse(stdout.trim()) as Json;
  } catch {
    return undefined;
  }
  const c = (doc.Client ?? {}) as Json;
  const s = doc.Server as Json | null | undefined;
  const client = defined({ version: str(c.Version) ?? 'unknown', apiVersion: str(c.ApiVersion) });
  if (!s || !str(s.Version)) return { client };
  return { client, server: defined({ version: str(s.Version)!, apiVersion: str(s.ApiVersion), os: str(s.Os), arch: str(s.Arch) }) };
}

export interface DockerInfo {
  driver?: string;
  warnings: string[];
}

/** `docker info --format '{{json .}}'`: only what hoist reports on. */
export function parseInfoJson(stdout: string): DockerInfo | undefined {
  try {
    const doc = JSON.parse(stdout.trim()) as Json;
    const warnings = Array.isArray(doc.Warnings) ? doc.Warnings.filter((w): w is string => typeof w === 'string') : [];
    return defined({ driver: str(doc.Driver), warnings });
  } catch {
    return undefined;
  }
}

/** `docker buildx version` → `v0.12.1`. */
export function parseBuildxVersion(stdout: string): string | undefined {
  return /\bv?(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[0];
}

/** Major version of a docker CLI version string (`28.2.2`, `20.10.24+dfsg1`). */
export function majorVersion(version: string): number | undefined {
  const m = /^(\d+)\./.exec(version);
  return m ? Number(m[1]) : undefined;
}
