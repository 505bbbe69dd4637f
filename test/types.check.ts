/**
 * Compile-time checks of the public types (run by `tsc` in `npm run check`, not by Vitest).
 * Each `@ts-expect-error` fails the type check if the line it guards starts to compile.
 */
import {
  type CallResult,
  createSystem,
  defineEffect,
  defineEntity,
  error,
  memoryStore,
  ok,
  send,
  sendAfter,
} from 'pachyderm';

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
