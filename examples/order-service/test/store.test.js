import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStore } from '../src/store.js';

test('the store inserts, reads and updates copies of orders', () => {
  const store = createStore();
  const order = { id: 'o1', status: 'created', items: [{ sku: 'A', qty: 1, unitPrice: 5 }] };
  store.insert(order);
  order.status = 'mutated';
  assert.equal(store.get('o1').status, 'created');
  store.get('o1').items.push({ sku: 'B' });
  assert.equal(store.get('o1').items.length, 1);
  store.update({ ...store.get('o1'), status: 'paid' });
  assert.equal(store.get('o1').status, 'paid');
  assert.equal(store.get('nope'), undefined);
  assert.equal(store.size, 1);
});

test('the store refuses duplicate inserts and updates of unknown orders', () => {
  const store = createStore();
  store.insert({ id: 'o1' });
  assert.throws(() => store.insert({ id: 'o1' }), /already exists/);
  assert.throws(() => store.update({ id: 'o2' }), /does not exist/);
});
