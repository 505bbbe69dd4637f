import { createSystem, defineEntity, error, memoryStore, ok, send } from 'pachyderm';

// The stock answers whoever asks: `entity.sender` is the entity whose `send` delivered the message.
const Stock = defineEntity({
  type: 'Stock',
  init: () => ({ available: 1 }),
  handle(message: { type: 'Reserve'; order: string }, state, entity) {
    // A system.call or a timer has no sender: there is nobody to answer.
    if (!entity.sender) return error('reserve with send, to be answered');
    const sku = entity.self.id;
    if (state.available === 0) {
      return ok([{ type: 'Refused' as const, order: message.order }], [send(entity.sender, { type: 'SoldOut', sku })]);
    }
    return ok([{ type: 'Taken' as const, order: message.order }], [send(entity.sender, { type: 'Reserved', sku })]);
  },
  update: (event, state) => ({ available: state.available - (event.type === 'Taken' ? 1 : 0) }),
});

type OrderMessage =
  | { type: 'Place'; sku: string }
  | { type: 'Reserved'; sku: string }
  | { type: 'SoldOut'; sku: string };

const Order = defineEntity({
  type: 'Order',
  init: () => ({ status: 'new' }),
  handle(message: OrderMessage, _state, entity) {
    switch (message.type) {
      case 'Place':
        return ok(
          [{ type: 'Placed' as const }],
          [send(Stock.ref(message.sku), { type: 'Reserve', order: entity.self.id })],
        );
      case 'Reserved':
        return ok([{ type: 'Confirmed' as const }]);
      case 'SoldOut':
        return ok([{ type: 'Cancelled' as const }]);
    }
  },
  update(event, _state) {
    const status = { Placed: 'waiting', Confirmed: 'confirmed', Cancelled: 'cancelled' }[event.type];
    return { status };
  },
});

const system = createSystem({ store: memoryStore(), entities: [Order, Stock] });
await system.call(Order.ref('order-1'), { type: 'Place', sku: 'lamp' });
await system.call(Order.ref('order-2'), { type: 'Place', sku: 'lamp' });

// The request and its reply are messages through the outbox: wait until they are delivered.
await system.settled();
console.log((await system.read(Order.ref('order-1'))).state, (await system.read(Order.ref('order-2'))).state);
console.log(await system.call(Stock.ref('lamp'), { type: 'Reserve', order: 'order-3' }));
await system.close();
