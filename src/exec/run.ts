// The one place hoist starts a program. Commands are data (after docker/actions-toolkit):
// callers build an argv with pure functions, this runner executes it and hands back text for
// pure parsers. Rules it enforces:
//   - never a shell: argv goes to execve as-is, so no quoting bugs and no injection;
//   - an explicit env record: nothing is inherited from the host by accident;
//   - secrets travel on stdin only (e.g. `docker login --password-stdin`), never argv, which
//     any user on the machine can read in /proc/<pid>/cmdline;
//   - bounded: a timeout and an abort signal end the child (SIGTERM, then SIGKILL);
//   - redacted: captured output, streamed lines and thrown errors never contain a secret.
// A non-zero exit is a result, not an error: the caller's parser decides what it means.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';

import { HoistError } from '../errors.ts';
import { LineSplitter, TailBuffer } from './lines.ts';
import { normalizeSecrets, redact, redactArgs } from './redact.ts';

export type Stream = 'stdout' | 'stderr';

export interface ExecRequest {
  program: string;
  args: readonly string[];
  /** The child's whole environment. Undefined values are dropped. */
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Written to the child's stdin, then stdin is closed. The only way to pass a secret. */
  stdin?: string | Uint8Array;
  /** Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Where the child's stdout goes, with backpressure, instead of being collected (a `docker save`
   * stream of gigabytes). `stdout` in the result is then empty.
   */
  stdout?: Writable;
  /**
   * Files for the child's stdin and stdout, opened here and handed over as descriptors: a
   * compressor reads and writes at disk speed instead of through 64 KiB pipes (igzip measured
   * 470 MB/s from a file, 330 MB/s from a pipe). stdoutFile is created (mode 0600) or truncated.
   */
  stdinFile?: string;
  stdoutFile?: string;
  /** Every output line (already redacted), as it arrives. */
  onLine?: (line: string, stream: Stream) => void;
  /** Values replaced by `[redacted]` everywhere this runner reports text. */
  redact?: readonly string[];
  /** Bytes kept per stream (the tail). Default 4 MiB. */
  maxOutputBytes?: number;
  /** Grace period between SIGTERM and SIGKILL. Default 2 s. */
  killGraceMs?: number;
  /** What hoist was doing, for errors (e.g. `docker build`). */
  op?: string;
}

export interface ExecResult {
  /** Exit code; 128 + signal number when the child died from a signal (shell convention). */
  code: number;
  signal?: NodeJS.Signals;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when a stream was longer than maxOutputBytes and only its tail was kept. */
  truncated: boolean;
}

/** Anything that runs an ExecRequest: `exec` itself, or a wrapper (recording, fakes in tests). */
export type Runner = (req: ExecRequest) => Promise<ExecResult>;

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function cleanEnv(env: ExecRequest['env']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function describe(req: ExecRequest, secrets: string[]): string {
  return [req.program, ...redactArgs(req.args, secrets)].join(' ');
}

function spawnError(req: ExecRequest, secrets: string[], err: NodeJS.ErrnoException): HoistError {
  const what = describe(req, secrets);
  if (err.code === 'ENOENT') {
    return new HoistError(`${req.program}: program not found (${what})`, {
      code: 'exec.not-found',
      op: req.op ?? req.program,
      hint: `install ${req.program} or put it on PATH`,
      context: { program: req.program },
    });
  }
  return new HoistError(`${what}: could not start: ${redact(err.message, secrets)}`, {
    code: 'exec.spawn-failed',
    op: req.op ?? req.program,
    context: { program: req.program, errno: err.code ?? 'unknown' },
  });
}

function stopError(req: ExecRequest, secrets: string[], why: 'timeout' | 'aborted', stderr: string, ms: number): HoistError {
  const what = describe(req, secrets);
  const tail = stderr.trim().split('\n').slice(-5).join('\n');
  const message = why === 'timeout' ? `${what}: timed out after ${ms} ms` : `${what}: aborted`;
  return new HoistError(tail ? `${message}\n${tail}` : message, {
    code: why === 'timeout' ? 'exec.timeout' : 'exec.aborted',
    op: req.op ?? req.program,
    retryable: why === 'timeout',
    context: { program: req.program, ...(why === 'timeout' ? { timeoutMs: ms } : {}) },
  });
}

/** Wire one output stream to its tail buffer and line callback. */
function collect(child: ChildProcess, stream: Stream, req: ExecRequest, secrets: string[], max: number) {
  const tail = new TailBuffer(max);
  const lines = new LineSplitter((line) => req.onLine?.(redact(line, secrets), stream));
  child[stream]?.on('data', (b: Buffer) => {
    tail.push(b);
    if (req.onLine) lines.push(b);
  });
  return { tail, end: () => req.onLine && lines.end() };
}

/** stdout into a caller's sink; a sink that fails stops the child rather than leave it blocked on a full pipe. */
function pipeOut(child: ChildProcess, sink: Writable, stop: () => void) {
  child.stdout?.pipe(sink);
  sink.once('error', stop);
  return { tail: new TailBuffer(0), end: () => undefined };
}

type Settle = { ok: (r: ExecResult) => void; fail: (e: unknown) => void };

/** One running child: collects output, stops it (SIGTERM, then SIGKILL), settles exactly once. */
class Execution {
  readonly #started = Date.now();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #out: ReturnType<typeof collect>;
  readonly #err: ReturnType<typeof collect>;
  #stopped: 'timeout' | 'aborted' | undefined;
  #settled = false;
  readonly #onAbort = (): void => this.stop('aborted');

  constructor(
    private readonly req: ExecRequest,
    private readonly secrets: string[],
    private readonly child: ChildProcess,
    private readonly settle: Settle,
  ) {
    const max = req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    this.#out = req.stdout ? pipeOut(child, req.stdout, () => this.stop('aborted')) : collect(child, 'stdout', req, secrets, max);
    this.#err = collect(child, 'stderr', req, secrets, max);
    this.#timers.push(setTimeout(() => this.stop('timeout'), this.#timeoutMs));
    req.signal?.addEventListener('abort', this.#onAbort, { once: true });
    child.once('error', (e: NodeJS.ErrnoException) => this.#done(() => settle.fail(spawnError(req, secrets, e))));
    child.once('close', (code, signal) => this.#finish(code, signal));
  }

  get #timeoutMs(): number {
    return this.req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  stop(why: 'timeout' | 'aborted'): void {
    if (this.#stopped || this.#settled) return;
    this.#stopped = why;
    const grace = this.req.killGraceMs ?? 2_000;
    this.child.kill('SIGTERM');
    this.#timers.push(setTimeout(() => this.child.kill('SIGKILL'), grace));
    // If a grandchild keeps our pipes open, stop waiting for 'close' eventually.
    this.#timers.push(setTimeout(() => this.#finish(null, 'SIGKILL'), grace + 3_000));
  }

  #done(report: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#timers.forEach(clearTimeout);
    this.req.signal?.removeEventListener('abort', this.#onAbort);
    report();
  }

  #finish(code: number | null, signal: NodeJS.Signals | null): void {
    this.#done(() => {
      this.#out.end();
      this.#err.end();
      const stderr = redact(this.#err.tail.text(), this.secrets);
      if (this.#stopped) return this.settle.fail(stopError(this.req, this.secrets, this.#stopped, stderr, this.#timeoutMs));
      this.settle.ok({
        code: code ?? 128 + (SIGNAL_NUMBERS[signal ?? 'SIGKILL'] ?? 9),
        ...(signal ? { signal } : {}),
        stdout: redact(this.#out.tail.text(), this.secrets),
        stderr,
        durationMs: Date.now() - this.#started,
        truncated: this.#out.tail.truncated || this.#err.tail.truncated,
      });
    });
  }
}

/** Descriptors for stdinFile/stdoutFile; the child keeps its own copies, ours close after spawn. */
function openFiles(req: ExecRequest): { stdio: StdioOptions; close: () => void } {
  const fds: number[] = [];
  const open = (path: string | undefined, flags: string): number | 'pipe' => {
    if (path === undefined) return 'pipe';
    const fd = openSync(path, flags, 0o600);
    fds.push(fd);
    return fd;
  };
  try {
    return { stdio: [open(req.stdinFile, 'r'), open(req.stdoutFile, 'w'), 'pipe'], close: () => fds.forEach((fd) => closeSync(fd)) };
  } catch (err) {
    fds.forEach((fd) => closeSync(fd));
    throw err;
  }
}

/** Run `req.program` with `req.args`. Resolves with the exit code; rejects only when it could not run to completion. */
export function exec(req: ExecRequest): Promise<ExecResult> {
  const secrets = normalizeSecrets(req.redact);
  if (req.signal?.aborted) return Promise.reject(stopError(req, secrets, 'aborted', '', 0));
  return new Promise((ok, fail) => {
    const files = openFiles(req);
    let child: ChildProcess;
    try {
      child = spawn(req.program, [...req.args], { env: cleanEnv(req.env), cwd: req.cwd, stdio: files.stdio, shell: false });
    } finally {
      files.close();
    }
    new Execution(req, secrets, child, { ok, fail });
    child.stdin?.on('error', () => {
      /* the child may exit before reading stdin (EPIPE): its exit code tells the story */
    });
    child.stdin?.end(req.stdin);
  });
}
