import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createServer } from '../src/server.js';

const items = [{ sku: 'BOOK-1', qty: 2, unitPrice: 1250 }];

describe('HTTP API', () => {
  let server;
  let base;
  before(async () => {
    server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  const call = async (method, path, body) => {
    const init = { method, headers: { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await fetch(base + path, init);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  test('GET /healthz answers ok', async () => {
    const res = await call('GET', '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  test('an order goes created → paid → shipped', async () => {
    const created = await call('POST', '/orders', { items });
    assert.equal(created.status, 201);
    assert.equal(created.body.status, 'created');
    assert.equal(created.body.total, 2500);
    const { id } = created.body;
    assert.deepEqual((await call('GET', `/orders/${id}`)).body, created.body);
    const paid = await call('POST', `/orders/${id}/pay`);
    assert.equal(paid.status, 200);
    assert.equal(paid.body.status, 'paid');
    const shipped = await call('POST', `/orders/${id}/ship`);
    assert.equal(shipped.body.status, 'shipped');
    assert.equal((await call('GET', `/orders/${id}`)).body.status, 'shipped');
  });

  test('invalid orders and bodies are 400', async () => {
    const bad = await call('POST', '/orders', { items: [{ sku: 'A', qty: 0, unitPrice: 1 }] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /qty/);
    assert.deepEqual(bad.body.details, ['items[0]: qty must be an integer from 1 to 10000']);
    assert.equal((await call('POST', '/orders', '{"items": [')).status, 400);
    assert.equal((await call('POST', '/orders')).status, 400);
  });

  test('an oversized body is 413', async () => {
    const res = await call('POST', '/orders', { items, pad: 'x'.repeat(70 * 1024) });
    assert.equal(res.status, 413);
  });

  test('unknown orders and routes are 404', async () => {
    for (const [method, path] of [['GET', '/orders/nope'], ['POST', '/orders/nope/pay'], ['POST', '/orders/nope/ship'], ['GET', '/nothing'], ['POST', '/orders/x/refund']]) {
      const res = await call(method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.ok(res.body.error);
    }
  });

  test('invalid transitions are 409', async () => {
    const { body: { id } } = await call('POST', '/orders', { items });
    const early = await call('POST', `/orders/${id}/ship`);
    assert.equal(early.status, 409);
    assert.match(early.body.error, /is created and cannot become shipped/);
    await call('POST', `/orders/${id}/pay`);
    assert.equal((await call('POST', `/orders/${id}/pay`)).status, 409);
  });

  test('a wrong method is 405 with Allow', async () => {
    const res = await call('DELETE', '/orders');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });
});

test('run as main it listens on PORT and stops cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../src/server.js', import.meta.url))], {
    env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const [line] = await once(child.stdout, 'data');
    const { port } = JSON.parse(String(line).split('\n')[0]);
    assert.ok(port > 0);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
  } finally {
    clearTimeout(timer);
  }
});
