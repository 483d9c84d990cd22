// A TCP relay that stands in for a server's port while the server is killed and restarted, so
// a kill can land at an exact byte of an HTTP exchange:
//
//   - it mirrors the server's death: when an upstream connection closes, the client's is closed
//     too (reset when the gate was holding bytes for it, as the kernel resets a socket with
//     unread data), and `down()` stops listening, so new connections are refused (ECONNREFUSED)
//     exactly as they are on the dead server's own port; `up()` listens again on the same port;
//   - it reads just enough HTTP/1.1 framing from the client (request line, Content-Length) to
//     hold one chosen request: before it is forwarded, after N bytes of its body, or after the
//     whole request with the server's answer withheld.
//
// Bytes are relayed unchanged; nothing is parsed from the server. Chunked request bodies end
// the parsing for that connection (hoist's native pushes send Content-Length bodies only).

import { createServer, connect, type Server, type Socket } from 'node:net';

export type HoldPoint =
  /** Forward nothing of the request. */
  | { at: 'head' }
  /** Forward the head and the first `bytes` of the body, then nothing more. */
  | { at: 'body'; bytes: number }
  /** Forward the whole request; keep the server's answer from the client. Holds once the answer has arrived. */
  | { at: 'answer' };

export interface HoldRule {
  /** Matched against the request line, e.g. /^PUT \/v2\/app\/manifests\//. */
  line: RegExp;
  /** Only requests with at least this Content-Length. */
  minLength?: number;
  point: HoldPoint;
}

export interface Held {
  /** The held request's line (method, target with its query, version). */
  line: string;
  contentLength: number;
}

export interface TcpGate {
  port: number;
  /** host:port to give the client. */
  host: string;
  /** Arms a one-shot hold; resolves once the matching request is held. */
  hold(rule: HoldRule, timeoutMs: number): Promise<Held>;
  /** Stop listening and reset every connection: the port refuses, as a dead server's does. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

interface Armed {
  rule: HoldRule;
  resolve(h: Held): void;
  timer: NodeJS.Timeout;
}

interface Conn {
  client: Socket;
  upstream: Socket;
  /** Head bytes not yet complete. */
  head: Buffer;
  /** Body bytes left of the current request; -1: not parsing any more (chunked body). */
  bodyLeft: number;
  bodySent: number;
  /** Hold after this many body bytes of the current request. */
  holdAfter?: { bytes: number; held: Held; resolve(h: Held): void };
  /** The server's bytes are withheld from now on; resolve on the first of them. */
  holdAnswer?: { held: Held; resolve(h: Held): void };
  holding: boolean;
  connected: boolean;
  draining: boolean;
}

const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

export async function startTcpGate(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<TcpGate> {
  const conns = new Set<Conn>();
  const armed: Armed[] = [];
  let server: Server | undefined;
  let port = 0;

  const take = (line: string, length: number): Armed | undefined => {
    const i = armed.findIndex((a) => a.rule.line.test(line) && length >= (a.rule.minLength ?? 0));
    return i < 0 ? undefined : armed.splice(i, 1)[0];
  };

  const hold = (c: Conn): void => {
    c.holding = true;
    c.client.pause();
  };

  const forward = (c: Conn, bytes: Buffer): void => {
    if (bytes.length === 0) return;
    if (!c.upstream.write(bytes) && !c.draining) {
      c.draining = true;
      c.client.pause();
      c.upstream.once('drain', () => {
        c.draining = false;
        if (!c.holding) c.client.resume();
      });
    }
  };

  /** A complete request head: pick a hold, then forward it unless held before the head. */
  const onHead = (c: Conn, head: Buffer): boolean => {
    const text = head.toString('latin1');
    const line = text.slice(0, text.indexOf('\r\n'));
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
    c.bodyLeft = /\r\ntransfer-encoding:\s*chunked/i.test(text) ? -1 : length;
    c.bodySent = 0;
    const hit = take(line, length);
    const held: Held = { line, contentLength: length };
    if (hit?.rule.point.at === 'head') {
      hold(c);
      hit.resolve(held);
      return false;
    }
    if (hit?.rule.point.at === 'body') c.holdAfter = { bytes: hit.rule.point.bytes, held, resolve: hit.resolve };
    if (hit?.rule.point.at === 'answer') c.holdAnswer = { held, resolve: hit.resolve };
    forward(c, head);
    return true;
  };

  const onClientData = (c: Conn, chunk: Buffer): void => {
    let rest = chunk;
    while (rest.length > 0 && !c.holding) {
      if (c.bodyLeft < 0) return forward(c, rest);
      if (c.bodyLeft > 0) {
        let n = Math.min(c.bodyLeft, rest.length);
        const h = c.holdAfter;
        if (h && c.bodySent + n >= h.bytes) {
          n = Math.max(0, h.bytes - c.bodySent);
          forward(c, rest.subarray(0, n));
          hold(c);
          h.resolve(h.held);
          return;
        }
        forward(c, rest.subarray(0, n));
        c.bodySent += n;
        c.bodyLeft -= n;
        rest = rest.subarray(n);
        continue;
      }
      c.holdAfter = undefined;
      const buf = Buffer.concat([c.head, rest]);
      const end = buf.indexOf(CRLF2);
      if (end < 0) {
        if (buf.length > MAX_HEAD) throw new Error('tcp gate: request head over 64 KiB');
        c.head = buf;
        return;
      }
      c.head = Buffer.alloc(0);
      if (!onHead(c, buf.subarray(0, end + 4))) return;
      rest = buf.subarray(end + 4);
    }
  };

  const onConnection = (client: Socket): void => {
    const upstream = connect({ port: upstreamPort, host: upstreamHost });
    const c: Conn = { client, upstream, head: Buffer.alloc(0), bodyLeft: 0, bodySent: 0, holding: false, connected: false, draining: false };
    upstream.once('connect', () => void (c.connected = true));
    conns.add(c);
    client.on('data', (d: Buffer) => {
      try {
        onClientData(c, d);
      } catch {
        client.resetAndDestroy();
      }
    });
    upstream.on('data', (d: Buffer) => {
      if (c.holdAnswer) {
        c.holding = true;
        c.holdAnswer.resolve(c.holdAnswer.held);
        return;
      }
      if (!client.write(d)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    // The server's socket is gone (killed, refused, closed): the client's goes the same way.
    upstream.on('error', () => {});
    upstream.on('close', () => {
      conns.delete(c);
      if (client.destroyed) return;
      if (c.holding || !c.connected) client.resetAndDestroy();
      else client.end(() => client.destroy());
    });
    client.on('error', () => {});
    client.on('close', () => {
      conns.delete(c);
      upstream.destroy();
    });
  };

  const listen = (p: number): Promise<void> => new Promise((resolve, reject) => {
    const s = createServer(onConnection);
    s.once('error', reject);
    s.listen(p, '127.0.0.1', () => {
      server = s;
      port = (s.address() as { port: number }).port;
      resolve();
    });
  });

  const down = async (): Promise<void> => {
    const s = server;
    server = undefined;
    const closed = s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve();
    for (const c of conns) {
      c.client.resetAndDestroy();
      c.upstream.destroy();
    }
    conns.clear();
    await closed;
  };

  await listen(0);
  return {
    port,
    host: `127.0.0.1:${port}`,
    hold: (rule, timeoutMs) => new Promise<Held>((resolve, reject) => {
      const entry: Armed = {
        rule,
        resolve: (h) => { clearTimeout(entry.timer); resolve(h); },
        timer: setTimeout(() => {
          const i = armed.indexOf(entry);
          if (i >= 0) armed.splice(i, 1);
          reject(new Error(`tcp gate: no request matching ${rule.line} was held within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      armed.push(entry);
    }),
    down,
    up: () => (server ? Promise.resolve() : listen(port)),
    close: async () => {
      for (const a of armed.splice(0)) clearTimeout(a.timer);
      await down();
    },
  };
}
