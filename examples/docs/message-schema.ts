import { createSystem, defineEntity, type InvalidMessageError, isPachydermError, memoryStore, ok } from 'pachyderm';
import { z } from 'zod';

const Cart = defineEntity({
  type: 'Cart',
  // Any Standard Schema (zod, valibot, arktype, ...): `message` below is typed from it.
  messageSchema: z.discriminatedUnion('type', [
    z.object({ type: z.literal('AddItem'), itemId: z.string(), quantity: z.number().int().positive() }),
    z.object({ type: z.literal('RemoveItem'), itemId: z.string() }),
  ]),
  init: () => ({ items: {} as Record<string, number> }),
  handle(message, _state) {
    if (message.type === 'RemoveItem') return ok([{ type: 'Removed' as const, itemId: message.itemId }]);
    return ok([{ type: 'Added' as const, itemId: message.itemId, quantity: message.quantity }]);
  },
  update(event, state) {
    const { [event.itemId]: _, ...rest } = state.items;
    return { items: event.type === 'Added' ? { ...rest, [event.itemId]: event.quantity } : rest };
  },
});

const system = createSystem({ store: memoryStore(), entities: [Cart] });
const cart = Cart.ref('cart-1');

// A message from outside, say a request's JSON body, without its quantity: refused before handle.
const body = JSON.parse('{ "type": "AddItem", "itemId": "book" }');
try {
  await system.call(cart, body);
} catch (e) {
  if (!isPachydermError(e, 'INVALID_MESSAGE')) throw e;
  console.log(e.message);
  console.log((e as InvalidMessageError).issues);
}
console.log(await system.read(cart));
console.log(await system.call(cart, { type: 'AddItem', itemId: 'book', quantity: 2 }));
await system.close();
