// A loopback reverse proxy that injects network and HTTP faults between hoist and a server
// (the sandbox, a CNCF registry, AWS endpoints). Rules match by method, path, a header and
// the nth occurrence; every request is recorded with what was done to it.
//
//   const proxy = await startFaultProxy(sandbox.url);
//   proxy.add({ method: 'PUT', path: /\/manifests\//, action: { kind: 'status', status: 503, retryAfter: '1' } });
//   ... point the client at proxy.url / proxy.host ...
//   await proxy.close();
//
// Every timer is bounded and tracked; close() clears them and destroys every socket.

import { Agent, createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultAction =
  /** Destroy the client's socket (RST) before anything is forwarded or answered. */
  | { kind: 'reset' }
  /** Forward; answer status and headers, then cut the connection (RST) after N body bytes (at most half the body). */
  | { kind: 'drop-mid-body'; afterBytes?: number }
  /** Forward while the client uploads, then cut both sides after N request-body bytes (at most half the body). */
  | { kind: 'drop-request-body'; afterBytes?: number }
  /** Forward the whole request, let the server act on it, then RST the client before any of the answer. */
  | { kind: 'lost-answer' }
  /** Hold the request for `ms`, then forward it untouched. */
  | { kind: 'stall'; ms: number }
  /** Answer this status without forwarding (the request body is drained first). */
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; contentType?: string }
  /** Forward, then send fewer body bytes than Content-Length and close the connection cleanly (FIN). */
  | { kind: 'truncate'; keepBytes?: number }
  /** Forward, then send the body N bytes at a time with a delay between chunks, for at most maxMs. */
  | { kind: 'trickle'; chunkBytes: number; delayMs: number; maxMs?: number };

export interface FaultRule {
  /** A label for the record. */
  name?: string;
  method?: string;
  path?: RegExp;
  /** A request header and what it must match; an absent header matches as ''. */
  header?: [name: string, value: RegExp];
  /** The first matching request that gets the action (1-based, default 1). */
  nth?: number;
  /** How many matching requests from `nth` on get the action (default 1). */
  times?: number;
  action: FaultAction;
}

export interface ProxyRecord {
  seq: number;
  method: string;
  path: string;
  /** The X-Amz-Target operation for AWS JSON calls, when present. */
  target?: string;
  /** The request's Content-Length header as sent (absent for a chunked body). */
  contentLength?: string;
  /** The status the client was sent (0: no answer). */
  status: number;
  /** The fault applied to this request, if any. */
  action?: FaultAction['kind'];
  rule?: string;
  /** False when the rule matched but the fault could not apply (e.g. drop-mid-body on an empty body). */
  applied?: boolean;
  error?: string;
}

export interface FaultProxy {
  url: string;
  /** host:port, usable as a registry host (loopback: plain HTTP). */
  host: string;
  readonly records: ProxyRecord[];
  add(rule: FaultRule): void;
  clear(): void;
  close(): Promise<void>;
}

const MAX_STALL_MS = 30_000;
const MAX_TRICKLE_MS = 20_000;
const MAX_BUFFER = 64 * 1024 * 1024;
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

interface LiveRule extends FaultRule {
  seen: number;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const rules: LiveRule[] = [];
  const records: ProxyRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let closed = false;

  const later = (ms: number, fn: () => void): void => {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    timers.add(t);
  };

  const pick = (req: IncomingMessage, path: string): LiveRule | undefined => {
    for (const r of rules) {
      if (r.method && r.method !== req.method) continue;
      if (r.path && !r.path.test(path)) continue;
      if (r.header) {
        const v = req.headers[r.header[0].toLowerCase()];
        if (!r.header[1].test(Array.isArray(v) ? v.join(',') : (v ?? ''))) continue;
      }
      r.seen++;
      const first = r.nth ?? 1;
      if (r.seen >= first && r.seen < first + (r.times ?? 1)) return r;
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const amzTarget = req.headers['x-amz-target'];
    const rec: ProxyRecord = {
      seq: records.length + 1, method: req.method ?? '', path: path.split('?')[0]!, status: 0,
      ...(typeof amzTarget === 'string' ? { target: amzTarget.split('.').pop()! } : {}),
      ...(req.headers['content-length'] !== undefined ? { contentLength: req.headers['content-length'] } : {}),
    };
    records.push(rec);
    const rule = pick(req, rec.path);
    if (rule) {
      rec.action = rule.action.kind;
      rec.applied = true;
      if (rule.name) rec.rule = rule.name;
    }
    req.on('error', (err) => void (rec.error ??= err.message));
    res.on('error', (err) => void (rec.error ??= err.message));
    handle(req, res, rec, rule?.action);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;

  function handle(req: IncomingMessage, res: ServerResponse, rec: ProxyRecord, action: FaultAction | undefined): void {
    switch (action?.kind) {
      case undefined: return forward(req, res, rec);
      case 'reset': return void req.socket.resetAndDestroy();
      case 'stall': return later(Math.min(action.ms, MAX_STALL_MS), () => forward(req, res, rec));
      case 'status': {
        req.resume();
        req.once('end', () => {
          const headers: OutgoingHttpHeaders = { 'content-type': action.contentType ?? 'text/plain' };
          if (action.retryAfter !== undefined) headers['retry-after'] = action.retryAfter;
          const body = action.body ?? `injected fault: HTTP ${action.status}\n`;
          headers['content-length'] = Buffer.byteLength(body);
          rec.status = action.status;
          res.writeHead(action.status, headers).end(body);
        });
        return;
      }
      case 'drop-request-body': return forward(req, res, rec, { dropRequestAfter: action.afterBytes ?? 1024 });
      default: return forward(req, res, rec, { respond: action });
    }
  }

  function forward(
    req: IncomingMessage, res: ServerResponse, rec: ProxyRecord,
    opts: { dropRequestAfter?: number; respond?: Extract<FaultAction, { kind: 'drop-mid-body' | 'truncate' | 'trickle' | 'lost-answer' }> } = {},
  ): void {
    const headers: OutgoingHttpHeaders = { ...req.headers };
    for (const h of HOP_BY_HOP) if (h !== 'transfer-encoding') delete headers[h];
    const up = httpRequest({
      protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent,
    });
    up.on('error', (err) => {
      rec.error ??= `upstream: ${err.message}`;
      if (!res.headersSent && !res.destroyed) {
        rec.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' }).end('fault proxy: upstream failed\n');
      } else res.destroy();
    });
    up.on('response', (ur) => onUpstream(req, res, rec, ur, opts.respond));

    const declared = Number(req.headers['content-length'] ?? (req.headers['transfer-encoding'] ? Infinity : 0));
    if (opts.dropRequestAfter === undefined || declared === 0) {
      if (opts.dropRequestAfter !== undefined) rec.applied = false;
      req.pipe(up);
      return;
    }
    // Forward the first bytes of the body, then cut both sides: the server sees the client vanish mid-upload.
    const cutAt = Math.max(1, Math.min(opts.dropRequestAfter, Number.isFinite(declared) ? Math.floor(declared / 2) : opts.dropRequestAfter));
    let sent = 0;
    req.on('data', (c: Buffer) => {
      if (sent >= cutAt) return;
      const part = c.subarray(0, cutAt - sent);
      sent += part.length;
      up.write(part);
      if (sent >= cutAt) {
        req.pause();
        up.destroy();
        req.socket.resetAndDestroy();
      }
    });
    req.on('end', () => {
      // The body was shorter than the cut point: it went through whole.
      if (sent < cutAt) {
        rec.applied = false;
        up.end();
      }
    });
  }

  function onUpstream(
    req: IncomingMessage, res: ServerResponse, rec: ProxyRecord, ur: IncomingMessage,
    respond: Extract<FaultAction, { kind: 'drop-mid-body' | 'truncate' | 'trickle' | 'lost-answer' }> | undefined,
  ): void {
    const headers: OutgoingHttpHeaders = { ...ur.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    rec.status = ur.statusCode ?? 0;
    if (respond?.kind === 'lost-answer') {
      // The server has answered, so it has acted; the client never learns how.
      rec.status = 0;
      ur.resume();
      ur.once('end', () => req.socket.resetAndDestroy());
      ur.once('error', () => req.socket.resetAndDestroy());
      return;
    }
    if (!respond) {
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    ur.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BUFFER) return void ur.destroy(new Error('fault proxy: body too large to buffer'));
      chunks.push(c);
    });
    ur.on('error', () => void res.destroy());
    ur.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'HEAD' || body.length === 0) {
        // Nothing to cut or slow down: the answer goes through untouched.
        rec.applied = false;
        res.writeHead(ur.statusCode ?? 502, headers).end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      headers['content-length'] = body.length;
      res.writeHead(ur.statusCode ?? 502, headers);
      const socket = res.socket;
      switch (respond.kind) {
        case 'drop-mid-body': {
          const cut = Math.max(1, Math.min(respond.afterBytes ?? 64, Math.floor(body.length / 2)));
          res.write(body.subarray(0, cut), () => socket?.resetAndDestroy());
          return;
        }
        case 'truncate': {
          const keep = Math.max(0, Math.min(respond.keepBytes ?? Math.floor(body.length / 2), body.length - 1));
          res.write(body.subarray(0, keep), () => socket?.end());
          return;
        }
        case 'trickle': {
          const deadline = Date.now() + Math.min(respond.maxMs ?? MAX_TRICKLE_MS, MAX_TRICKLE_MS);
          let at = 0;
          const step = (): void => {
            if (res.destroyed) return;
            const n = Date.now() >= deadline ? body.length - at : Math.max(1, respond.chunkBytes);
            res.write(body.subarray(at, at + n));
            at += n;
            if (at >= body.length) return void res.end();
            later(Math.max(0, respond.delayMs), step);
          };
          step();
          return;
        }
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    records,
    add: (rule) => void rules.push({ ...rule, seen: 0 }),
    clear: () => void rules.splice(0),
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      agent.destroy();
      await done;
    },
  };
}
