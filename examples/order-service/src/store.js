// An in-memory order store. Orders are copied in and out so callers never share state.

export function createStore() {
  const orders = new Map();
  const copy = (order) => structuredClone(order);

  return {
    /** Adds a new order; throws if its id is taken. */
    insert(order) {
      if (orders.has(order.id)) throw new Error(`order ${order.id} already exists`);
      orders.set(order.id, copy(order));
      return copy(order);
    },
    /** The order with this id, or undefined. */
    get(id) {
      const order = orders.get(id);
      return order === undefined ? undefined : copy(order);
    },
    /** Replaces an existing order; throws if there is none with its id. */
    update(order) {
      if (!orders.has(order.id)) throw new Error(`order ${order.id} does not exist`);
      orders.set(order.id, copy(order));
      return copy(order);
    },
    get size() {
      return orders.size;
    },
  };
}
