// `docker save` straight from the engine's socket, when the docker CLI would only have copied
// the bytes there itself.
//
// Why: the CLI is one more process moving the whole save (1.45 GB on the bench image) from the
// socket to a pipe: ~1 CPU-s on the same cores that compress and upload (BENCHMARKS.md). From
// the tcp:// port (the bench image, 3 alternating runs): hoist and its children used 7.85 CPU-s
// through the CLI and 6.27 reading it directly, best 12.26 → 11.59 s. The request is the
// Engine API's `GET /images/get?names=IMAGE` (Docker Engine API, "Export several images") sent
// as HTTP/1.0, so the daemon's Go server answers without chunked framing and ends the body by
// closing the connection (RFC 9112 §6.3, item 8): the bytes after the head are the tar, as is.
// A cut-off body cannot pass for a whole one: the tar reader wants its end-of-archive blocks and
// manifest.json, and fails without them.
//
// Only where the CLI would reach the same engine the same way, in plain HTTP: DOCKER_HOST unset,
// unix://, or tcp:// without TLS — the seed's DinD service (`DOCKER_HOST: tcp://docker:2375`,
// `DOCKER_TLS_CERTDIR: ""`) — with no DOCKER_CONTEXT and no other current context in the CLI's
// config.json. Everything else (TLS, ssh://, contexts, an HTTP proxy the CLI would go through)
// stays with the docker CLI, which knows them all.

import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';

import { HoistError } from '../errors.ts';
import { readAll } from './streams.ts';

/** An engine hoist can talk to itself: a unix socket, or a plain-HTTP TCP address. */
export type EngineEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** As DOCKER_HOST writes it, for messages. */
function endpointText(e: EngineEndpoint): string {
  return e.kind === 'unix' ? `unix://${e.path}` : `tcp://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where a plain `docker` would reach the engine here, or undefined when hoist should leave it to the CLI. */
export async function engineEndpoint(env: Env): Promise<EngineEndpoint | undefined> {
  const host = env.DOCKER_HOST;
  if (env.DOCKER_CONTEXT !== undefined && env.DOCKER_CONTEXT !== '' && env.DOCKER_CONTEXT !== 'default') return undefined;
  // DOCKER_HOST wins over a context (docker context use: "DOCKER_HOST ... overrides"); without
  // it, a current context other than "default" points the CLI elsewhere.
  if (!host) return (await currentContext(env)) === 'default' ? { kind: 'unix', path: '/var/run/docker.sock' } : undefined;
  if (host.startsWith('unix://')) return { kind: 'unix', path: host.slice('unix://'.length) };
  return host.startsWith('tcp://') ? plainTcp(host, env) : undefined;
}

/** docker/cli: the default port of a tcp:// engine without TLS. */
const PLAIN_PORT = 2375;
const TCP_HOST = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/;

/**
 * A tcp:// DOCKER_HOST the CLI would speak plain HTTP to. The CLI turns TLS on for any non-empty
 * DOCKER_TLS_VERIFY or DOCKER_TLS (even "0"), and sends tcp:// requests through HTTP_PROXY
 * (Go's ProxyFromEnvironment) unless the engine is on loopback: those go to the CLI.
 */
function plainTcp(host: string, env: Env): EngineEndpoint | undefined {
  if (env.DOCKER_TLS_VERIFY || env.DOCKER_TLS) return undefined;
  const m = TCP_HOST.exec(host);
  if (!m) return undefined;
  const name = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const port = m[2] === undefined ? PLAIN_PORT : Number(m[2]);
  if (port < 1 || port > 65_535) return undefined;
  if ((env.HTTP_PROXY || env.http_proxy) && !isLoopback(name)) return undefined;
  return { kind: 'tcp', host: name, port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

async function currentContext(env: Env): Promise<string> {
  const dir = env.DOCKER_CONFIG || (env.HOME ? join(env.HOME, '.docker') : undefined);
  if (!dir) return 'default';
  let text: string;
  try {
    text = await readFile(join(dir, 'config.json'), 'utf8');
  } catch {
    return 'default';
  }
  try {
    const ctx = (JSON.parse(text) as { currentContext?: unknown }).currentContext;
    return typeof ctx === 'string' && ctx !== '' ? ctx : 'default';
  } catch {
    return 'unreadable'; // the CLI will say what is wrong with its own file
  }
}

/** Longest response head, error body or JSON document read into memory. */
const MAX_DOC = 4 * 1024 * 1024;

/**
 * The socket reads straight into blocks of this size (net.Socket `onread` with a buffer
 * function: each read lands in the part of the block that is still free), and the body is
 * handed on as slices of them. Why: dockerd writes its save 32 KiB at a time, so a plain socket
 * reads ~48 KiB per event, each into a freshly allocated buffer that then makes its own way
 * through the tar reader. Measured on this kind of machine, reading 1.45 GB from a unix socket
 * fed as dockerd feeds it: 0.65 CPU-s that way, 0.38 CPU-s reading into one fixed buffer and
 * copying into blocks. That copy was still ~0.4-0.55 s of the main thread's CPU profile of a
 * whole bench copy; reading into the blocks directly saves it. Copying the bench image from the
 * engine to a local registry, 4 alternating pairs: hoist's own CPU 3.50 → 3.17 CPU-s, faster in
 * every pair (best 12.21 → 11.97 s).
 */
const CHUNK = 1 << 20;
/** Below this much room, a block is handed on and the next read goes into a new one. */
const MIN_READ = 64 * 1024;
/** How long bytes wait for more before they are handed on anyway. */
const FLUSH_MS = 2;
/** How long a TCP engine may take to accept the connection. */
const CONNECT_MS = 30_000;

interface EngineAnswer {
  status: number;
  body: Readable;
}

/**
 * The block the socket reads into. Bytes before `from` are handed on (or were the response
 * head) and are never written again: a slice handed on stays valid for as long as its reader
 * keeps it. Reads go after `used`, and a block is replaced, not reused, once little room is left.
 */
class ReadBlock {
  bytes = Buffer.allocUnsafe(CHUNK);
  used = 0;
  from = 0;

  /** Where the socket's next read goes. */
  room(): Buffer {
    return this.bytes.subarray(this.used);
  }

  /** The bytes read but not handed on yet, now counted as handed on. */
  take(): Buffer {
    const slice = this.bytes.subarray(this.from, this.used);
    this.from = this.used;
    return slice;
  }

  full(): boolean {
    return CHUNK - this.used < MIN_READ;
  }

  renew(): void {
    this.bytes = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
    this.from = 0;
  }
}

/**
 * One `GET` to the engine over its socket, as HTTP/1.0: resolves at the response head. Rejects
 * with the CLI's own wording when nothing answers, so hints keyed on it (and users who know it)
 * still apply.
 */
function engineGet(endpoint: EngineEndpoint, path: string): Promise<EngineAnswer> {
  const at = endpointText(endpoint);
  return new Promise((resolve, reject) => {
    const block = new ReadBlock();
    let body: EngineBody | undefined;
    const received = (n: number): void => {
      block.used += n;
      if (body) return body.received();
      // The head starts the first block; one that does not fit in it is no Docker engine's.
      const end = block.bytes.subarray(0, block.used).indexOf('\r\n\r\n');
      if (end < 0) {
        if (block.full()) {
          reject(new Error(`the engine at ${at} sent no HTTP response head`));
          sock.destroy();
        }
        return;
      }
      sock.off('error', failed);
      sock.off('end', early);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(block.bytes.toString('latin1', 0, Math.min(end, 64)))?.[1] ?? 0);
      block.from = end + 4;
      body = new EngineBody(sock, block);
      resolve({ status, body });
      body.received();
    };
    // The callback never returns `false` (that would pause here): the body pauses the socket
    // itself while its reader is full (EngineBody.#flush), whether a read or its flush timer
    // handed the bytes on. The buffer function runs after each callback (Node's
    // onStreamRead), so it sees a block the callback renewed.
    const onread = { buffer: () => block.room(), callback: (n: number) => (received(n), true) };
    const sock: Socket = endpoint.kind === 'unix' ? connect({ path: endpoint.path, onread }) : connect({ host: endpoint.host, port: endpoint.port, onread });
    // A TCP engine that does not answer (a DinD service not up, a firewall) is given up on, as
    // the CLI's dialer does, instead of waiting for the kernel's SYN retries.
    if (endpoint.kind === 'tcp') sock.setTimeout(CONNECT_MS, () => sock.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
    sock.once('connect', () => {
      sock.setTimeout(0);
      sock.write(`GET ${path} HTTP/1.0\r\nHost: ${endpoint.kind === 'tcp' ? at.slice('tcp://'.length) : 'docker'}\r\nUser-Agent: hoist\r\n\r\n`);
    });
    const failed = (err: NodeJS.ErrnoException): void => reject(new Error(err.code === 'EACCES'
      ? `permission denied while trying to connect to the Docker daemon socket at ${at}`
      : `Cannot connect to the Docker daemon at ${at}. Is the docker daemon running? (${err.code ?? err.message})`));
    const early = (): void => reject(new Error(`the engine at ${at} closed the connection without an answer`));
    sock.once('error', failed);
    sock.once('end', early);
  });
}

/**
 * A response body read into `block`s (above) and handed on as slices of them, each once its
 * block is nearly full or FLUSH_MS after the first bytes still waiting, so a save's last bytes
 * are seen at once, not when the engine closes. At the save's rate that is ~0.5 MiB per slice
 * instead of one ~48 KiB buffer per read. Ends at the socket's end; a socket that closes or
 * fails first ends nothing and fails or closes this.
 */
class EngineBody extends Readable {
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly sock: Socket, private readonly block: ReadBlock) {
    super({ highWaterMark: CHUNK });
    let ended = false;
    sock.once('end', () => {
      ended = true;
      this.#flush();
      this.push(null);
    });
    sock.once('error', (err) => this.destroy(err));
    // Closed without an end (a reset): what is still buffered is not the whole body.
    sock.once('close', () => {
      if (!ended) this.destroy();
    });
  }

  /** The socket read more into the block: hand it on now if the block is full, else soon. */
  received(): void {
    if (this.block.full()) {
      this.#flush();
      this.block.renew();
    } else if (this.block.used > this.block.from) this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  /** Hands on what is waiting; pauses the socket while the reader is full (resumed by _read). */
  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.block.used === this.block.from || this.destroyed) return;
    if (!this.push(this.block.take())) this.sock.pause();
  }

  override _read(): void {
    this.sock.resume();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.sock.destroy();
    done(err);
  }
}

/** A whole (small) body: an error's JSON, or a document. */
async function readBody(body: Readable): Promise<string> {
  return (await readAll(body, MAX_DOC)).toString('utf8');
}

/** {"message": "..."} from the engine, worded as the CLI words it. */
function engineMessage(status: number, text: string): string {
  let message = text.trim();
  try {
    message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
  } catch { /* not JSON: shown as it came */ }
  return `Error response from daemon: ${message || `HTTP ${status}`}`;
}

/** How a command against the engine ended: code 0, or non-zero and what was said, in the CLI's words. */
export interface EngineResult {
  code: number;
  stderr: string;
}

/**
 * The two things the docker-daemon: source asks of an engine, whichever way it is reached:
 * over its socket (socketEngine) or through the docker CLI (docker-daemon.ts).
 */
export interface EngineAccess {
  /** `docker save IMAGE` into `stdout`, which is ended in every case. */
  save(image: string, stdout: Writable, timeoutMs: number, signal?: AbortSignal): Promise<EngineResult>;
  /** The image's diffIDs (`RootFS.Layers`). */
  layers(image: string, signal?: AbortSignal): Promise<EngineResult & { layers?: string[] }>;
}

export function socketEngine(endpoint: EngineEndpoint): EngineAccess {
  return {
    save: (image, stdout, timeoutMs, signal) => saveFromSocket({ endpoint, image, stdout, timeoutMs, ...(signal ? { signal } : {}) }),
    layers: (image) => layersFromSocket(endpoint, image),
  };
}

/** What `docker image inspect --format '{{json .RootFS.Layers}}'` prints, read from the engine. */
async function layersFromSocket(endpoint: EngineEndpoint, image: string): Promise<EngineResult & { layers?: string[] }> {
  try {
    const { status, body } = await engineGet(endpoint, `/images/${encodeURIComponent(image)}/json`);
    const text = await readBody(body);
    if (status !== 200) return { code: 1, stderr: engineMessage(status, text) };
    return { code: 0, stderr: '', layers: (JSON.parse(text) as { RootFS?: { Layers?: string[] | null } }).RootFS?.Layers ?? [] };
  } catch (err) {
    return { code: 1, stderr: (err as Error).message };
  }
}

interface SocketSaveRequest {
  endpoint: EngineEndpoint;
  image: string;
  stdout: Writable;
  signal?: AbortSignal;
  timeoutMs: number;
}

/**
 * `docker save IMAGE` into `stdout`. Resolves as the CLI runner does: code 0 once the engine has
 * sent the whole save, code 1 and the engine's message when it refuses or breaks off; rejects
 * when hoist stops it (abort, timeout, or the reader failing: then the reader's own error is
 * the one to report). `stdout` is ended in every case, as a CLI's pipe is when it exits.
 */
function saveFromSocket(req: SocketSaveRequest): Promise<EngineResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let body: Readable | undefined;
    const finish = (outcome: { ok: EngineResult } | { err: Error }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', abort);
      body?.destroy();
      if (!req.stdout.writableEnded && !req.stdout.destroyed) req.stdout.end();
      if ('ok' in outcome) resolve(outcome.ok);
      else reject(outcome.err);
    };
    const engineSaid = (stderr: string): void => finish({ ok: { code: 1, stderr } });
    const stopped = (code: 'exec.aborted' | 'exec.timeout', message: string): void =>
      finish({ err: new HoistError(message, { code, op: 'docker save', retryable: code === 'exec.timeout' }) });
    const abort = (): void => stopped('exec.aborted', `docker save ${req.image}: aborted`);
    const timer = setTimeout(() => stopped('exec.timeout', `docker save ${req.image}: timed out after ${req.timeoutMs} ms`), req.timeoutMs);
    req.signal?.addEventListener('abort', abort, { once: true });
    if (req.signal?.aborted) return abort();
    // A reader that gives up (disk full, a bad tar) stops the transfer; its error is the one to report.
    const readerStopped = (): void => finish({ err: new Error('docker save: the reader stopped') });
    req.stdout.once('error', readerStopped);
    req.stdout.once('close', () => { if (!req.stdout.writableFinished) readerStopped(); });

    engineGet(req.endpoint, `/images/get?names=${encodeURIComponent(req.image)}`).then(async ({ status, body: b }) => {
      body = b;
      if (settled) return void b.destroy();
      if (status !== 200) return engineSaid(engineMessage(status, await readBody(b)));
      b.once('error', (err) => engineSaid(`the engine's connection broke during the save: ${err.message}`));
      b.once('close', () => engineSaid('the engine closed the connection before the save ended'));
      b.once('end', () => finish({ ok: { code: 0, stderr: '' } }));
      b.pipe(req.stdout);
    }).catch((err: Error) => engineSaid(err.message));
  });
}
