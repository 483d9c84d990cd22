import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canTransition, createOrder, orderTotal, OrderError, transition, validateOrder } from '../src/orders.js';

const items = [{ sku: 'BOOK-1', qty: 2, unitPrice: 1250 }, { sku: 'pen_blue', qty: 3, unitPrice: 199 }];
const invalid = (fn, pattern) => assert.throws(fn, (e) => e instanceof OrderError && e.code === 'invalid' && pattern.test(e.message));

describe('validateOrder', () => {
  test('accepts well-formed items and drops unknown fields', () => {
    const out = validateOrder({ items: [{ ...items[0], note: 'gift' }], customer: 'x' });
    assert.deepEqual(out, [items[0]]);
  });

  test('rejects a body that is not an object', () => {
    for (const body of [null, 42, 'order', [items[0]]]) invalid(() => validateOrder(body), /JSON object/);
  });

  test('rejects missing or empty items', () => {
    invalid(() => validateOrder({}), /non-empty "items"/);
    invalid(() => validateOrder({ items: [] }), /non-empty "items"/);
  });

  test('rejects too many items', () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ sku: `S${i}`, qty: 1, unitPrice: 1 }));
    invalid(() => validateOrder({ items: many }), /at most 100/);
  });

  test('reports every bad field with its index', () => {
    try {
      validateOrder({ items: [items[0], { sku: '', qty: 0, unitPrice: 1.5 }, 'x'] });
      assert.fail('expected an OrderError');
    } catch (e) {
      assert.equal(e.code, 'invalid');
      assert.deepEqual(e.details.map((d) => d.split(':')[0]), ['items[1]', 'items[1]', 'items[1]', 'items[2]']);
    }
  });

  test('rejects negative prices, fractional quantities and duplicate skus', () => {
    invalid(() => validateOrder({ items: [{ sku: 'A', qty: 1, unitPrice: -1 }] }), /unitPrice/);
    invalid(() => validateOrder({ items: [{ sku: 'A', qty: 1.5, unitPrice: 1 }] }), /qty/);
    invalid(() => validateOrder({ items: [{ sku: 'A', qty: 1, unitPrice: '100' }] }), /unitPrice/);
    invalid(() => validateOrder({ items: [items[0], items[0]] }), /duplicate sku "BOOK-1"/);
  });

  test('allows free items', () => {
    assert.equal(validateOrder({ items: [{ sku: 'FREE', qty: 1, unitPrice: 0 }] }).length, 1);
  });
});

describe('orderTotal', () => {
  test('sums qty × unitPrice in cents', () => {
    assert.equal(orderTotal(items), 2 * 1250 + 3 * 199);
    assert.equal(orderTotal([]), 0);
  });
});

describe('createOrder and transition', () => {
  const now = new Date('2024-05-01T10:00:00Z');
  const later = new Date('2024-05-01T11:00:00Z');

  test('a new order is created with its total and timestamps', () => {
    assert.deepEqual(createOrder({ items }, { id: 'o1', now }), {
      id: 'o1', status: 'created', items, total: 3097, createdAt: now.toISOString(), updatedAt: now.toISOString(),
    });
  });

  test('created → paid → shipped', () => {
    const created = createOrder({ items }, { id: 'o1', now });
    const paid = transition(created, 'paid', later);
    assert.equal(paid.status, 'paid');
    assert.equal(paid.paidAt, later.toISOString());
    assert.equal(paid.updatedAt, later.toISOString());
    assert.equal(created.status, 'created', 'the original order is left unchanged');
    const shipped = transition(paid, 'shipped', later);
    assert.equal(shipped.status, 'shipped');
    assert.equal(shipped.shippedAt, later.toISOString());
  });

  test('forbidden moves are conflicts', () => {
    const created = createOrder({ items }, { id: 'o1', now });
    const shipped = transition(transition(created, 'paid'), 'shipped');
    for (const [order, to] of [[created, 'shipped'], [created, 'created'], [transition(created, 'paid'), 'paid'], [shipped, 'paid'], [shipped, 'shipped']]) {
      assert.throws(() => transition(order, to), (e) => e instanceof OrderError && e.code === 'conflict' && e.message.includes(`cannot become ${to}`));
    }
  });

  test('an unknown status is invalid', () => {
    invalid(() => transition(createOrder({ items }, { id: 'o1', now }), 'refunded'), /unknown status/);
    assert.equal(canTransition('created', 'paid'), true);
    assert.equal(canTransition('toString', 'paid'), false);
  });
});
