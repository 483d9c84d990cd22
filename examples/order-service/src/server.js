// The order service's HTTP API. `createServer()` builds it for tests; running this file starts it.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createOrder, OrderError, transition } from './orders.js';
import { createStore } from './store.js';

const MAX_BODY = 64 * 1024;
const STATUS_OF = { invalid: 400, conflict: 409 };
const ACTIONS = { pay: 'paid', ship: 'shipped' };

class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** An http.Server serving the order API over `store` (a fresh in-memory one by default). */
export function createServer({ store = createStore(), newId = randomUUID } = {}) {
  return http.createServer((req, res) => {
    handle(req, store, newId).then(
      ({ status, body }) => send(res, status, body),
      (err) => {
        if (err instanceof OrderError) return send(res, STATUS_OF[err.code] ?? 400, { error: err.message, details: err.details });
        if (err instanceof HttpError) return send(res, err.status, { error: err.message }, err.headers);
        console.error(err);
        send(res, 500, { error: 'internal error' });
      },
    );
  });
}

async function handle(req, store, newId) {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const parts = pathname.split('/').filter(Boolean);
  const route = (methods) => {
    if (!methods.includes(req.method)) throw new HttpError(405, `${req.method} is not allowed on ${pathname}`, { allow: methods.join(', ') });
  };

  if (pathname === '/healthz') {
    route(['GET', 'HEAD']);
    return { status: 200, body: { status: 'ok' } };
  }
  if (parts[0] !== 'orders' || parts.length > 3) throw new HttpError(404, `no route for ${pathname}`);

  if (parts.length === 1) {
    route(['POST']);
    const order = createOrder(await readJson(req), { id: newId() });
    return { status: 201, body: store.insert(order) };
  }
  const order = store.get(parts[1]);
  if (parts.length === 2) {
    route(['GET', 'HEAD']);
    if (!order) throw new HttpError(404, `order ${parts[1]} not found`);
    return { status: 200, body: order };
  }
  if (!Object.hasOwn(ACTIONS, parts[2])) throw new HttpError(404, `no route for ${pathname}`);
  route(['POST']);
  if (!order) throw new HttpError(404, `order ${parts[1]} not found`);
  return { status: 200, body: store.update(transition(order, ACTIONS[parts[2]])) };
}

function readJson(req) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) return chunks.push(chunk);
      req.off('data', onData).resume(); // drain the rest; the answer closes the connection
      reject(new HttpError(413, `request body exceeds ${MAX_BODY} bytes`));
    };
    req.on('data', onData).on('error', reject).on('end', () => {
      try {
        resolveBody(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'request body must be valid JSON'));
      }
    });
  });
}

function send(res, status, body, extra = {}) {
  const text = JSON.stringify(body);
  const headers = { ...extra, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  if (status === 413) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

/** Starts listening on `port` and stops cleanly on SIGTERM/SIGINT. */
export function start(port = Number(process.env.PORT ?? 8080)) {
  const server = createServer();
  server.listen(port, () => {
    console.log(JSON.stringify({ msg: 'order-service listening', port: server.address().port }));
  });
  const stop = (signal) => {
    console.log(JSON.stringify({ msg: 'order-service stopping', signal }));
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(1);
    }, 10_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) start();
