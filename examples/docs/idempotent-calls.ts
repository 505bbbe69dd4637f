import { createSystem, defineEntity, error, ok } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: { type: 'Deposit' | 'Withdraw'; amount: number }, state) {
    if (message.type === 'Deposit') return ok([{ type: 'Deposited' as const, amount: message.amount }]);
    if (state.balance < message.amount) return error('insufficient funds');
    return ok([{ type: 'Withdrawn' as const, amount: message.amount }]);
  },
  update: (event, state) => ({ balance: state.balance + (event.type === 'Deposited' ? event.amount : -event.amount) }),
});

const account = Account.ref('alice');
const first = createSystem({ store: sqliteStore({ filename: 'payments.db' }), entities: [Account] });
// A client sends its request id along; its HTTP request times out after the commit.
console.log(await first.call(account, { type: 'Deposit', amount: 5 }, { idempotencyKey: 'req-81f3' }));
console.log(await first.call(account, { type: 'Withdraw', amount: 50 }, { idempotencyKey: 'req-81f4' }));
await first.close();

// It retries both, and reaches another process (here: after a restart). Nothing is handled twice.
const second = createSystem({ store: sqliteStore({ filename: 'payments.db' }), entities: [Account] });
console.log(await second.call(account, { type: 'Deposit', amount: 5 }, { idempotencyKey: 'req-81f3' }));
console.log(await second.call(account, { type: 'Withdraw', amount: 50 }, { idempotencyKey: 'req-81f4' }));
console.log(await second.read(account));
await second.close();
