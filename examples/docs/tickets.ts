import { createSystem, defineEntity, error, memoryStore, ok, refsOf, send } from 'pachyderm';

// Carts and tickets send to each other. TypeScript cannot infer two definitions whose initializers
// name each other, so Cart names tickets through refs declared ahead by their message type.
type TicketMessage = { type: 'Reserve'; cart: string } | { type: 'Release'; cart: string };
const Tickets = refsOf<TicketMessage>('Ticket');

const Cart = defineEntity({
  type: 'Cart',
  init: () => ({ tickets: [] as string[], refused: [] as string[] }),
  handle(
    message: { type: 'Add'; ticket: string } | { type: 'Reserved'; ticket: string } | { type: 'Taken'; ticket: string },
    _state,
    entity,
  ) {
    switch (message.type) {
      case 'Add':
        return ok(
          [{ type: 'Asked' as const, ticket: message.ticket }],
          [send(Tickets.ref(message.ticket), { type: 'Reserve', cart: entity.self.id })],
        );
      case 'Reserved':
        return ok([{ type: 'Added' as const, ticket: message.ticket }]);
      case 'Taken':
        return ok([{ type: 'Refused' as const, ticket: message.ticket }]);
    }
  },
  update(event, state) {
    if (event.type === 'Added') return { ...state, tickets: [...state.tickets, event.ticket] };
    if (event.type === 'Refused') return { ...state, refused: [...state.refused, event.ticket] };
    return state;
  },
});

// Ticket names Cart's definition directly: one side declaring refs ahead is enough.
const Ticket = defineEntity({
  type: 'Ticket',
  init: () => ({ holder: null as string | null }),
  handle(message: TicketMessage, state, entity) {
    const reply = (type: 'Reserved' | 'Taken') => send(Cart.ref(message.cart), { type, ticket: entity.self.id });
    if (message.type === 'Release') {
      return state.holder === message.cart ? ok([{ type: 'Released' as const }]) : error('not yours');
    }
    if (state.holder !== null) return ok([{ type: 'Refused' as const }], [reply('Taken')]);
    return ok([{ type: 'Held' as const, cart: message.cart }], [reply('Reserved')]);
  },
  update: (event, _state) => ({ holder: event.type === 'Held' ? event.cart : null }),
});

const system = createSystem({ store: memoryStore(), entities: [Cart, Ticket] });
await system.call(Cart.ref('alice'), { type: 'Add', ticket: 'seat-12' });
await system.call(Cart.ref('bob'), { type: 'Add', ticket: 'seat-12' });
await system.settled();
console.log((await system.read(Cart.ref('alice'))).state);
console.log((await system.read(Cart.ref('bob'))).state);
await system.close();
