// A tiny property-based / fuzz harness (no fast-check): a seeded PRNG, generators, mutators of
// valid samples, and `fuzz()`, which runs iterations until a time budget is spent and reports the
// seed, the iteration and the input on failure.
//
// Reproduce a failure with the seed and iteration it printed:
//   FUZZ_SEED=<seed> FUZZ_ITERATION=<i> node --import tsx --test test/<file>.test.ts
// Scale every budget with FUZZ_SECONDS_SCALE (e.g. 10 for a longer local run).

/** mulberry32: a 32-bit state PRNG, good enough to drive generators, fully reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform uint32. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bool(p = 0.5): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  /** A small size, biased towards 0..8 with a long tail up to `max`. */
  size(max: number): number {
    const r = this.float();
    if (r < 0.6) return this.int(Math.min(9, max + 1));
    if (r < 0.9) return this.int(Math.min(65, max + 1));
    return this.int(max + 1);
  }
}

/** Derives an independent seed for iteration `i` of a run seeded with `seed` (splitmix-style). */
export function iterationSeed(seed: number, i: number): number {
  let z = (seed + Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

// ---- generators -------------------------------------------------------------------------

export const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
/** Characters that tend to matter to parsers: separators, quotes, escapes, controls, unicode. */
export const NASTY = [
  '', ' ', '\t', '\n', '\r\n', '\\', '\\\n', '`', '"', "'", '$', '${', '}', '{', ':', '@', '/', '//', '.', '..', '../', '%2e%2e',
  '%2F', '%00', '\u0000', '\u202e', '\ud800', '\uffff', 'é', '名', '😀', '*', '?', '[', ']', '=', ',', ';', '#', '-', '--', '<<',
  'EOF', '0', '-1', '1e309', 'NaN', 'null', 'true', '[]', '{}', '__proto__', 'constructor', 'A'.repeat(300),
];

export function randomBytes(rng: Rng, max: number): Buffer {
  const b = Buffer.alloc(rng.size(max));
  for (let i = 0; i < b.length; i++) b[i] = rng.int(256);
  return b;
}

export function randomString(rng: Rng, max: number, alphabet = ASCII): string {
  let s = '';
  const n = rng.size(max);
  for (let i = 0; i < n; i++) {
    const r = rng.float();
    if (r < 0.08) s += rng.pick(NASTY);
    else if (r < 0.12) s += String.fromCharCode(rng.int(0x3000));
    else s += alphabet[rng.int(alphabet.length)]!;
  }
  return s;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** A random JSON value; `keys` biases object keys towards names the parser knows. */
export function randomJson(rng: Rng, depth = 3, keys: readonly string[] = []): JsonValue {
  const r = rng.int(depth <= 0 ? 4 : 7);
  switch (r) {
    case 0: return null;
    case 1: return rng.bool();
    case 2: return rng.pick([0, -1, 1, 2, 1.5, 2 ** 53, -(2 ** 53), 1e308, rng.int(1000)]);
    case 3: return rng.bool(0.5) && keys.length ? rng.pick(keys) : randomString(rng, 16);
    case 4:
    case 5: {
      const o: Record<string, JsonValue> = {};
      const n = rng.size(6);
      for (let i = 0; i < n; i++) o[keys.length && rng.bool(0.7) ? rng.pick(keys) : randomString(rng, 8)] = randomJson(rng, depth - 1, keys);
      return o;
    }
    default: return Array.from({ length: rng.size(5) }, () => randomJson(rng, depth - 1, keys));
  }
}

/** Replaces random sub-values of a JSON document with random ones (structure-aware mutation). */
export function mutateJson(rng: Rng, value: JsonValue, keys: readonly string[] = [], rate = 0.2): JsonValue {
  if (rng.bool(rate)) return randomJson(rng, 2, keys);
  if (Array.isArray(value)) {
    const out = value.map((v) => mutateJson(rng, v, keys, rate));
    if (rng.bool(0.1)) out.push(randomJson(rng, 2, keys));
    if (rng.bool(0.1) && out.length) out.splice(rng.int(out.length), 1);
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) {
      if (rng.bool(0.08)) continue;
      out[rng.bool(0.05) ? randomString(rng, 8) : k] = mutateJson(rng, v, keys, rate);
    }
    if (rng.bool(0.1)) out[keys.length ? rng.pick(keys) : randomString(rng, 8)] = randomJson(rng, 2, keys);
    return out;
  }
  return value;
}

// ---- mutators -----------------------------------------------------------------------------

/** Byte-level mutation of a valid sample: flip, insert, delete, duplicate, splice dictionary words. */
export function mutateString(rng: Rng, input: string, dict: readonly string[] = NASTY, rounds = rng.range(1, 4)): string {
  let s = input;
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(s.length + 1);
    const len = rng.size(Math.max(1, s.length - at));
    switch (rng.int(7)) {
      case 0: // flip one character
        if (s.length) s = s.slice(0, at) + String.fromCharCode(s.charCodeAt(Math.min(at, s.length - 1)) ^ (1 << rng.int(7))) + s.slice(at + 1);
        break;
      case 1: s = s.slice(0, at) + rng.pick(dict) + s.slice(at); break; // insert a dictionary word
      case 2: s = s.slice(0, at) + s.slice(at + len); break; // delete a chunk
      case 3: s = s.slice(0, at) + s.slice(at, at + len).repeat(rng.range(2, 8)) + s.slice(at + len); break; // duplicate
      case 4: s = s.slice(0, at) + randomString(rng, 12) + s.slice(at + len); break; // replace
      case 5: { // swap two chunks
        const b = rng.int(s.length + 1);
        const [x, y] = at < b ? [at, b] : [b, at];
        s = s.slice(y) + s.slice(x, y) + s.slice(0, x);
        break;
      }
      default: s = s.slice(0, at); break; // truncate
    }
  }
  return s;
}

export function mutateBytes(rng: Rng, input: Buffer, rounds = rng.range(1, 4)): Buffer {
  let b = Buffer.from(input);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(b.length + 1);
    const len = rng.size(Math.max(1, b.length - at));
    switch (rng.int(5)) {
      case 0: if (b.length) b[Math.min(at, b.length - 1)]! ^= 1 << rng.int(8); break;
      case 1: b = Buffer.concat([b.subarray(0, at), randomBytes(rng, 16), b.subarray(at)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), ...Array(rng.range(2, 6)).fill(b.subarray(at, at + len)), b.subarray(at + len)]); break;
      default: b = b.subarray(0, at); break;
    }
  }
  return b;
}

// ---- the runner ---------------------------------------------------------------------------

export interface FuzzOptions {
  /** Time budget for the whole target (default 3 s; scaled by FUZZ_SECONDS_SCALE). */
  seconds?: number;
  /** Default: FUZZ_SEED, else a fixed seed under CI=true and a fresh one locally (always printed on failure). */
  seed?: number;
  /** One iteration taking longer than this fails as a hang (default 1000 ms). */
  hangMs?: number;
  /** Stop early after this many iterations. */
  maxIterations?: number;
}

export interface FuzzReport {
  name: string;
  seed: number;
  iterations: number;
  ms: number;
}

export class FuzzFailure extends Error {}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

function show(input: unknown): string {
  let text: string;
  if (Buffer.isBuffer(input)) text = `<Buffer ${input.length} bytes> ${input.subarray(0, 512).toString('hex')}`;
  else {
    try {
      text = JSON.stringify(input) ?? String(input);
    } catch {
      text = String(input);
    }
  }
  return text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} chars)` : text;
}

/**
 * Runs `body(generate(rng), rng)` with fresh inputs until the time budget is spent. A thrown
 * error, a rejected promise, or an iteration slower than `hangMs` fails the run with the seed,
 * the iteration and the input. Async bodies are raced against the hang timer, so a hung
 * promise fails too; a synchronous infinite loop cannot be interrupted in-process and is caught
 * by the test's own `timeout`.
 */
export async function fuzz<T>(
  name: string,
  opts: FuzzOptions,
  generate: (rng: Rng) => T,
  body: (input: T, rng: Rng) => void | Promise<void>,
): Promise<FuzzReport> {
  // CI replays one fixed sequence so a submission's verdict does not depend on luck; local
  // runs explore a fresh seed each time (and print it on failure).
  const fallback = process.env.CI === 'true' ? 20261124 : Date.now() ^ (process.pid << 8);
  const seed = (opts.seed ?? envNumber('FUZZ_SEED') ?? fallback) >>> 0;
  const only = envNumber('FUZZ_ITERATION');
  const budgetMs = (opts.seconds ?? 3) * (envNumber('FUZZ_SECONDS_SCALE') ?? 1) * 1000;
  const hangMs = opts.hangMs ?? 1000;
  const started = Date.now();
  let i = only ?? 0;
  let iterations = 0;
  for (; ; i++) {
    if (only !== undefined ? iterations >= 1 : Date.now() - started >= budgetMs) break;
    if (opts.maxIterations !== undefined && iterations >= opts.maxIterations) break;
    const rng = new Rng(iterationSeed(seed, i));
    let input: T | undefined;
    const t0 = performance.now();
    try {
      input = generate(rng);
      const out = body(input, rng);
      if (out instanceof Promise) {
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`hang: no answer within ${hangMs} ms`)), hangMs);
        });
        try {
          await Promise.race([out, hang]);
        } finally {
          clearTimeout(timer);
        }
      }
    } catch (err) {
      throw failure(name, seed, i, input, err);
    }
    const ms = performance.now() - t0;
    if (ms > hangMs) throw failure(name, seed, i, input, new Error(`hang: one iteration took ${ms.toFixed(0)} ms (limit ${hangMs} ms)`));
    iterations++;
  }
  return { name, seed, iterations, ms: Date.now() - started };
}

function failure(name: string, seed: number, i: number, input: unknown, err: unknown): FuzzFailure {
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const f = new FuzzFailure(
    `fuzz target "${name}" failed at iteration ${i} (reproduce: FUZZ_SEED=${seed} FUZZ_ITERATION=${i})\n` +
    `input: ${show(input)}\n${why}`,
    { cause: err },
  );
  return f;
}

/** One line for the test log: `name: N iterations in M ms (seed S)`. */
export function summary(r: FuzzReport): string {
  return `${r.name}: ${r.iterations} iterations in ${r.ms} ms (seed ${r.seed})`;
}
