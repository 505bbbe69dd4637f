import { createSystem, defineEffect, defineEntity, error, memoryStore, ok, send } from 'pachyderm';

type AccountMessage =
  | { type: 'Transfer'; transfer: string; to: string; amount: number }
  | { type: 'Credit'; transfer: string; amount: number };

const receipts: string[] = [];

// At least once: written to the outbox with the events, retried until it succeeds.
const Receipt = defineEffect(
  'Receipt',
  async (payload: { transfer: string; amount: number }, ctx) => {
    receipts.push(
      `receipt ${payload.transfer} for ${payload.amount} (key ${ctx.idempotencyKey}, attempt ${ctx.attempt})`,
    );
  },
  { delivery: 'at-least-once', retry: { maxAttempts: 5 } },
);

const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 100 }),
  handle(message: AccountMessage, state, entity) {
    if (message.type === 'Credit') return ok([{ type: 'Credited', amount: message.amount }]);
    if (state.balance < message.amount) return error('insufficient funds');
    return ok(
      [{ type: 'Debited', amount: message.amount }],
      [
        send(entity.ref(message.to), { type: 'Credit', transfer: message.transfer, amount: message.amount }),
        Receipt.with({ transfer: message.transfer, amount: message.amount }),
      ],
    );
  },
  update(event, state) {
    return { balance: state.balance + (event.type === 'Credited' ? event.amount : -event.amount) };
  },
});

const system = createSystem({ store: memoryStore(), entities: [Account], effects: [Receipt] });
console.log(await system.call(Account.ref('alice'), { type: 'Transfer', transfer: 't1', to: 'bob', amount: 30 }));
console.log(await system.call(Account.ref('alice'), { type: 'Transfer', transfer: 't2', to: 'bob', amount: 90 }));

// Delivery happens after the commit, off the caller's path: wait until nothing is left to do.
await system.settled();
console.log((await system.read(Account.ref('bob'))).state, receipts);
await system.close();
