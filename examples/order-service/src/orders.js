// Pure order logic: validation, totals and the status life cycle. No I/O here.

export const MAX_ITEMS = 100;
const MAX_QTY = 10_000;
const MAX_UNIT_PRICE = 100_000_000; // cents: one million per unit keeps totals exact
const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Which status each status may move to. */
export const TRANSITIONS = Object.freeze({
  created: Object.freeze(['paid']),
  paid: Object.freeze(['shipped']),
  shipped: Object.freeze([]),
});

/** A rejected order or move; `code` is 'invalid' (bad input) or 'conflict' (bad move). */
export class OrderError extends Error {
  constructor(code, message, details = []) {
    super(message);
    this.name = 'OrderError';
    this.code = code;
    this.details = details;
  }
}

/** Checks an order request and returns its normalized items, or throws OrderError('invalid'). */
export function validateOrder(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new OrderError('invalid', 'order must be a JSON object');
  }
  const { items } = input;
  if (!Array.isArray(items) || items.length === 0) {
    throw new OrderError('invalid', 'order needs a non-empty "items" array');
  }
  if (items.length > MAX_ITEMS) {
    throw new OrderError('invalid', `an order holds at most ${MAX_ITEMS} items`);
  }
  const problems = items.flatMap((item, i) => itemProblems(item).map((p) => `items[${i}]: ${p}`));
  const skus = items.map((item) => item?.sku);
  skus.forEach((sku, i) => {
    if (typeof sku === 'string' && skus.indexOf(sku) !== i) problems.push(`items[${i}]: duplicate sku "${sku}"`);
  });
  if (problems.length > 0) throw new OrderError('invalid', problems.join('; '), problems);
  return items.map(({ sku, qty, unitPrice }) => ({ sku, qty, unitPrice }));
}

function itemProblems(item) {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return ['must be an object'];
  const problems = [];
  if (typeof item.sku !== 'string' || !SKU.test(item.sku)) {
    problems.push('sku must be 1-64 letters, digits, ".", "_" or "-"');
  }
  if (!Number.isInteger(item.qty) || item.qty < 1 || item.qty > MAX_QTY) {
    problems.push(`qty must be an integer from 1 to ${MAX_QTY}`);
  }
  if (!Number.isInteger(item.unitPrice) || item.unitPrice < 0 || item.unitPrice > MAX_UNIT_PRICE) {
    problems.push(`unitPrice must be an integer number of cents from 0 to ${MAX_UNIT_PRICE}`);
  }
  return problems;
}

/** The order total in cents. */
export function orderTotal(items) {
  return items.reduce((sum, { qty, unitPrice }) => sum + qty * unitPrice, 0);
}

/** A new order in status 'created' from a request body; throws OrderError('invalid'). */
export function createOrder(input, { id, now = new Date() }) {
  const items = validateOrder(input);
  const at = now.toISOString();
  return { id, status: 'created', items, total: orderTotal(items), createdAt: at, updatedAt: at };
}

/** Whether an order in status `from` may move to `to`. */
export function canTransition(from, to) {
  return Object.hasOwn(TRANSITIONS, from) && TRANSITIONS[from].includes(to);
}

/** A copy of `order` moved to status `to`; throws OrderError('conflict') for a move the life cycle forbids. */
export function transition(order, to, now = new Date()) {
  if (!Object.hasOwn(TRANSITIONS, to)) {
    throw new OrderError('invalid', `unknown status "${to}"`);
  }
  if (!canTransition(order.status, to)) {
    throw new OrderError('conflict', `order ${order.id} is ${order.status} and cannot become ${to}`);
  }
  const at = now.toISOString();
  return { ...order, status: to, updatedAt: at, [`${to}At`]: at };
}
