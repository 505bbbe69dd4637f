/**
 * Compile-time checks of the public types (run by `tsc` in `npm run check`, not by Vitest).
 * Each `@ts-expect-error` fails the type check if the line it guards starts to compile.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  type CallResult,
  cancelTimer,
  createSystem,
  defineEffect,
  defineEntity,
  defineProjection,
  defineReactor,
  type EffectCall,
  type EntityRef,
  type EntitySelf,
  error,
  inline,
  type MessageOf,
  memoryStore,
  ok,
  refsOf,
  type StateOf,
  send,
  sendAfter,
  sql,
} from 'pachyderm';
import * as v from 'valibot';
import { z } from 'zod';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_value?: T): void {}

const AdminMailer = defineEffect('AdminMailer', async (payload: { threshold: number }, ctx) => {
  assertType<Equal<typeof ctx.idempotencyKey, string>>();
  assertType<Equal<typeof ctx.version, number>>();
  void payload.threshold;
});

// The example, with no annotation beyond the message type.
const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle(message: { type: 'Increment' } | { type: 'Reset' }, state) {
    assertType<Equal<typeof state, { count: number }>>();
    if (message.type === 'Reset') return error('cannot reset' as const);
    const events = [{ type: 'Increased' as const, amount: 1 }];
    if (state.count === 9) return ok(events, [AdminMailer.with({ threshold: 10 })]);
    return ok(events);
  },
  update(event, state) {
    assertType<Equal<typeof event, { type: 'Increased'; amount: number }>>();
    return { count: state.count + event.amount };
  },
});

// @ts-expect-error the payload type is checked
AdminMailer.with({ threshold: 'ten' });

const ref = Counter.ref('id');
assertType<Equal<typeof ref.type, 'Counter'>>();

async function calls() {
  const system = createSystem({ store: memoryStore(), entities: [Counter], effects: [AdminMailer] });
  const result = await system.call(ref, { type: 'Increment' });
  assertType<Equal<typeof result, CallResult<{ count: number }, 'cannot reset'>>>();
  if (result.ok) {
    const count: number = result.state.count;
    void count;
  } else {
    const reason: 'cannot reset' = result.error;
    void reason;
  }
  // @ts-expect-error only the entity's own messages are accepted
  await system.call(ref, { type: 'Decrement' });
  const read = await system.read(ref);
  assertType<Equal<typeof read.state, { count: number }>>();
  for await (const recorded of system.events(ref)) {
    assertType<Equal<typeof recorded.event, { type: 'Increased'; amount: number }>>();
  }
}
void calls;

// An entity without init starts from undefined.
const Tally = defineEntity({
  type: 'Tally',
  handle: (message: { add: number }, _state: number | undefined) => ok([{ add: message.add }]),
  update: (event, state) => (state ?? 0) + event.add,
});
void Tally;

// Branches returning different events give update their union, discriminated by `type`.
const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: { type: 'Deposit'; amount: number } | { type: 'Withdraw'; amount: number }, state) {
    if (message.type === 'Deposit') return ok([{ type: 'Deposited', amount: message.amount }]);
    if (state.balance < message.amount) return error({ code: 'insufficient', balance: state.balance });
    return ok([{ type: 'Withdrawn', amount: message.amount, at: new Date().toISOString() }]);
  },
  update(event, state) {
    switch (event.type) {
      case 'Deposited':
        return { balance: state.balance + event.amount };
      case 'Withdrawn':
        assertType<Equal<typeof event.at, string>>();
        return { balance: state.balance - event.amount };
    }
  },
});
async function account() {
  const system = createSystem({ store: memoryStore(), entities: [Account] });
  const result = await system.call(Account.ref('a'), { type: 'Withdraw', amount: 5 });
  if (!result.ok) {
    const code: 'insufficient' = result.error.code;
    void code;
  }
}
void account;

// An entity can address its own type inside handle through the third argument, without naming
// itself in its own initializer.
const Wallet = defineEntity({
  type: 'Wallet',
  init: () => ({ balance: 0 }),
  handle(message: { type: 'Pay'; to: string; amount: number } | { type: 'Receive'; amount: number }, state, entity) {
    assertType<Equal<typeof entity.self.type, 'Wallet'>>();
    if (message.type === 'Receive') return ok([{ type: 'Received', amount: message.amount }]);
    if (state.balance < message.amount) return error('insufficient');
    return ok(
      [{ type: 'Paid', amount: message.amount }],
      [
        send(entity.ref(message.to), { type: 'Receive', amount: message.amount }),
        sendAfter(entity.self, { type: 'Receive', amount: 0 }, 1_000, { key: 'nudge' }),
        // @ts-expect-error only the target's own messages can be sent
        send(entity.ref(message.to), { type: 'Refund' }),
      ],
    );
  },
  update(event, state) {
    return { balance: state.balance + (event.type === 'Received' ? event.amount : -event.amount) };
  },
});
void Wallet;

// Two entity types whose handlers send to each other. TypeScript cannot infer two definitions
// whose initializers name each other (TS7022); Cart names Ticket through refs declared ahead by
// the message type, which needs nothing of Ticket's definition. One side is enough: Ticket names
// Cart's definition.
type TicketMessage = { type: 'Reserve'; cart: string } | { type: 'Release' };
const Tickets = refsOf<TicketMessage>('Ticket');

const Cart = defineEntity({
  type: 'Cart',
  init: () => ({ tickets: [] as string[] }),
  handle(message: { type: 'Add'; ticket: string } | { type: 'Reserved'; ticket: string }, _state, entity) {
    if (message.type === 'Reserved') return ok([{ type: 'Confirmed', ticket: message.ticket }]);
    return ok(
      [{ type: 'Added', ticket: message.ticket }],
      [
        send(Tickets.ref(message.ticket), { type: 'Reserve', cart: entity.self.id }),
        // @ts-expect-error the message is still checked at the send site
        send(Tickets.ref(message.ticket), { type: 'Refund' }),
      ],
    );
  },
  update(event, state) {
    assertType<
      Equal<
        typeof event,
        { readonly type: 'Added'; readonly ticket: string } | { readonly type: 'Confirmed'; readonly ticket: string }
      >
    >();
    return event.type === 'Added' ? { tickets: [...state.tickets, event.ticket] } : state;
  },
});

const Ticket = defineEntity({
  type: 'Ticket',
  init: () => ({ cart: null as string | null }),
  handle(message: TicketMessage, state, entity) {
    if (message.type === 'Release') return ok([{ type: 'Released' }]);
    if (state.cart !== null) return ok([]);
    return ok(
      [{ type: 'Held', cart: message.cart }],
      [
        send(Cart.ref(message.cart), { type: 'Reserved', ticket: entity.self.id }),
        // @ts-expect-error Cart's own messages only
        send(Cart.ref(message.cart), { type: 'Reserve', cart: message.cart }),
      ],
    );
  },
  update: (event, _state) => ({ cart: event.type === 'Held' ? event.cart : null }),
});
assertType<Equal<ReturnType<typeof Tickets.ref>, EntityRef<string, TicketMessage>>>();
// @ts-expect-error refs declared with another message type are other refs
const otherRef: EntityRef<string, { type: 'Other' }> = Tickets.ref('t');
void otherRef;
async function carts() {
  const system = createSystem({ store: memoryStore(), entities: [Cart, Ticket] });
  const result = await system.call(Cart.ref('c'), { type: 'Add', ticket: 't' });
  if (result.ok) assertType<Equal<typeof result.state, { tickets: string[] }>>();
}
void carts;

// A state whose shape changes is a union that init alone cannot show: declare it on init.
// update's returns are then checked against it, literals included.
type Basket = { status: 'open'; items: string[] } | { status: 'checkedOut'; items: string[]; at: number };
const Checkout = defineEntity({
  type: 'Checkout',
  init: (): Basket => ({ status: 'open', items: [] }),
  handle(message: { type: 'Add'; item: string } | { type: 'Checkout'; at: number }, state) {
    assertType<Equal<typeof state, Basket>>();
    if (state.status === 'checkedOut') return error('checked out');
    if (message.type === 'Add') return ok([{ type: 'Added', item: message.item }]);
    return ok([{ type: 'CheckedOut', at: message.at }]);
  },
  update(event, state) {
    if (event.type === 'Added') return { ...state, items: [...state.items, event.item] };
    return { status: 'checkedOut', items: state.items, at: event.at };
  },
});
assertType<Equal<StateOf<typeof Checkout>, Basket>>();
defineEntity({
  type: 'Checkout',
  init: (): Basket => ({ status: 'open', items: [] }),
  handle: (message: { type: 'Checkout' }, _state) => ok([{ type: 'CheckedOut', at: 1 }]),
  // @ts-expect-error a state outside the declared union
  update: (event, state) => ({ status: 'closed', items: state.items }),
});

// Effects of any kind mix in one list, however it is built.
const Mail = defineEffect('Mail', async (_payload: { to: string }) => {});
const Charge = defineEffect('Charge', async (_payload: { cents: number }) => {}, { delivery: 'at-least-once' });
const Shop = defineEntity({
  type: 'Shop',
  init: () => ({ orders: 0 }),
  handle(message: { type: 'Order'; kind: 1 | 2 | 3 | 4 | 5 }, state, entity) {
    const events = [{ type: 'Ordered' as const }];
    if (message.kind === 1) {
      return ok(events, [send(entity.self, message), Mail.with({ to: 'a' }), Charge.with({ cents: 1 })]);
    }
    if (message.kind === 2) {
      const effects = [Mail.with({ to: 'a' })];
      effects.push(Charge.with({ cents: 2 }), cancelTimer(entity.self, 'reminder'));
      return ok(events, effects);
    }
    if (message.kind === 3) {
      const effects = [];
      if (state.orders > 0) effects.push(Mail.with({ to: 'a' }));
      effects.push(sendAfter(entity.self, message, 1_000));
      return ok(events, effects);
    }
    if (message.kind === 4) {
      const effects = state.orders > 0 ? [Mail.with({ to: 'a' })] : [Mail.with({ to: 'a' }), Charge.with({ cents: 4 })];
      return ok(events, effects);
    }
    if (state.orders > 9) return error('sold out');
    return state.orders > 0 ? ok(events, [...['a', 'b'].map((to) => Mail.with({ to }))]) : ok(events);
  },
  update: (_event, state) => ({ orders: state.orders + 1 }),
});
void Shop;
const requested: EffectCall = Charge.with({ cents: 1 });
void requested;

// Without a context declared in Register, context is optional and of any type.
createSystem({ store: memoryStore(), entities: [] });
createSystem({ store: memoryStore(), entities: [], context: { anything: true } });

// The read side: handlers, follow and subscribe infer the entities' event and state types.
const Notes = defineEntity({
  type: 'Notes',
  init: () => ({ text: '' }),
  handle: (message: { text: string }) => ok([{ type: 'Written' as const, text: message.text }]),
  update: (event, _state) => ({ text: event.text }),
});
const Both = defineProjection({
  name: 'both',
  entities: [Counter, Notes],
  handle(event, meta) {
    assertType<Equal<typeof meta.position, string>>();
    if (event.type === 'Written') return [sql`SELECT ${event.text}`];
    return [sql`SELECT ${event.amount}`];
  },
});
defineReactor({
  name: 'reactor',
  entities: [Notes],
  handle(event, _meta, ctx) {
    assertType<Equal<typeof event.text, string>>();
    assertType<Equal<typeof ctx.idempotencyKey, string>>();
  },
});
defineProjection({
  name: 'bad',
  entities: [Notes],
  // @ts-expect-error handle returns statements
  handle: () => 'DELETE FROM x',
});
// @ts-expect-error a value that is not a parameter type is refused
sql`SELECT ${{ an: 'object' }}`;
async function readSide() {
  const system = createSystem({ store: memoryStore(), entities: [Counter, Notes], projections: [inline(Both)] });
  const result = await system.call(Counter.ref('c'), { type: 'Increment' });
  if (result.ok) assertType<Equal<typeof result.position, string>>();
  for await (const { state, event } of system.follow(Counter.ref('c'))) {
    assertType<Equal<typeof state, { count: number }>>();
    void event.amount;
  }
  for await (const { event, ref } of system.subscribe({ entities: [Notes] })) {
    assertType<Equal<typeof event.text, string>>();
    void ref.id;
  }
}
void readSide;

// Changing events: `upcast` before `handle` (as the docs show it) neither breaks nor loosens inference.
const Purse = defineEntity({
  type: 'Purse',
  eventVersion: 2,
  upcast(event, storedVersion) {
    if (storedVersion === 1 && event.type === 'Deposited') return { ...event, currency: 'EUR' };
    return event;
  },
  init: () => ({ cents: 0, currency: 'EUR' }),
  handle(message: { type: 'Deposit'; cents: number; currency: string }, _state) {
    return ok([{ type: 'Deposited' as const, cents: message.cents, currency: message.currency }]);
  },
  update(event, state) {
    assertType<
      Equal<typeof event, { readonly type: 'Deposited'; readonly cents: number; readonly currency: string }>
    >();
    return { cents: state.cents + event.cents, currency: event.currency };
  },
});
assertType<Equal<typeof Purse.eventVersion, number>>();

defineEntity({
  type: 'WrongUpcast',
  init: () => ({ n: 0 }),
  handle: (_message: { type: 'Add' }, _state) => ok([{ type: 'Added' as const, n: 1 }]),
  update: (event, state) => ({ n: state.n + event.n }),
  // @ts-expect-error what upcast returns is the current event type
  upcast: (_event, _storedVersion) => ({ type: 'Added' as const, n: 'one' }),
});

async function keyedCalls() {
  const system = createSystem({ store: memoryStore(), entities: [Purse] });
  const result = await system.call(
    Purse.ref('w'),
    { type: 'Deposit', cents: 5, currency: 'EUR' },
    { idempotencyKey: 'req-1' },
  );
  if (result.ok) assertType<Equal<typeof result.state, { cents: number; currency: string }>>();
  // @ts-expect-error the key is a string
  await system.call(Purse.ref('w'), { type: 'Deposit', cents: 5, currency: 'EUR' }, { idempotencyKey: 7 });
}
void keyedCalls;

// With a messageSchema (any Standard Schema), the message type is the schema's output: `handle`'s
// `message` needs no annotation, and refs, `system.call` and `send` take that type.
const BasketMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('AddItem'), itemId: z.string(), quantity: z.number().int().positive() }),
  z.object({ type: z.literal('Clear'), note: z.string().default('') }),
]);
type BasketMessage = z.output<typeof BasketMessage>;
const Basket = defineEntity({
  type: 'Basket',
  messageSchema: BasketMessage,
  init: () => ({ items: {} as Record<string, number> }),
  handle(message, state, entity) {
    assertType<Equal<typeof message, BasketMessage>>();
    assertType<Equal<typeof state, { items: Record<string, number> }>>();
    assertType<Equal<typeof entity.sender, EntityRef | undefined>>();
    if (message.type === 'Clear') return ok([{ type: 'Cleared' as const, note: message.note }]);
    if (message.quantity > 99) return error('too many' as const);
    return ok([{ type: 'Added' as const, itemId: message.itemId, quantity: message.quantity }]);
  },
  update(event, state) {
    if (event.type === 'Cleared') return { items: {} };
    assertType<Equal<typeof event.quantity, number>>();
    return { items: { ...state.items, [event.itemId]: event.quantity } };
  },
});
assertType<Equal<MessageOf<typeof Basket>, BasketMessage>>();
assertType<Equal<StateOf<typeof Basket>, { items: Record<string, number> }>>();
async function basket() {
  const system = createSystem({ store: memoryStore(), entities: [Basket] });
  const result = await system.call(Basket.ref('b'), { type: 'AddItem', itemId: 'x', quantity: 1 });
  assertType<Equal<typeof result, CallResult<{ items: Record<string, number> }, 'too many'>>>();
  // @ts-expect-error a message the schema's type does not allow fails to compile (no quantity)
  await system.call(Basket.ref('b'), { type: 'AddItem', itemId: 'x' });
  // @ts-expect-error nor a type the schema does not know
  await system.call(Basket.ref('b'), { type: 'Remove', itemId: 'x' });
}
void basket;

// valibot too, with `handle` written before the schema, as an arrow; and a hand-written schema.
const Meter = defineEntity({
  type: 'Meter',
  handle: (message, _state) => {
    assertType<Equal<typeof message, { reading: number }>>();
    return ok([{ type: 'Read' as const, reading: message.reading }]);
  },
  messageSchema: v.object({ reading: v.number() }),
  init: () => 0,
  update: (event, _state) => event.reading,
});
const handWritten: StandardSchemaV1<unknown, { ping: true }> = {
  '~standard': {
    version: 1,
    vendor: 'hand',
    validate: async (value) => ({ value: value as { ping: true } }),
  },
};
const Pinged = defineEntity({
  type: 'Pinged',
  messageSchema: handWritten,
  handle: (message) => ok([{ type: 'Pinged' as const, ping: message.ping }]),
  update: (_event, state) => state,
});
async function otherSchemas() {
  const system = createSystem({ store: memoryStore(), entities: [Meter, Pinged] });
  await system.call(Meter.ref('m'), { reading: 3 });
  // @ts-expect-error a reading is a number
  await system.call(Meter.ref('m'), { reading: '3' });
  await system.call(Pinged.ref('p'), { ping: true });
  // @ts-expect-error ping is true
  await system.call(Pinged.ref('p'), { ping: false });
}
void otherSchemas;

// `entity.sender` is a ref whose message type is unknown: a reply to it is any JSON, once checked.
const Echo = defineEntity({
  type: 'Echo',
  handle(message: { text: string }, _state, entity) {
    // @ts-expect-error the sender may be undefined (a call, a timer)
    send(entity.sender, { text: message.text });
    if (!entity.sender) return ok([{ type: 'Heard' as const }]);
    return ok([{ type: 'Echoed' as const }], [send(entity.sender, { echo: message.text, at: [1, 2] })]);
  },
  update: (_event, state) => state,
});
void Echo;
const withSender: EntitySelf['sender'] = { type: 'Echo', id: 'e' };
void withSender;
