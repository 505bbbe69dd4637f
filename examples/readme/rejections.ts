import { createSystem, defineEntity, error, isPachydermError, memoryStore, ok } from 'pachyderm';

const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: { type: 'Deposit'; amount: number } | { type: 'Withdraw'; amount: number }, state) {
    if (message.amount <= 0) throw new Error('amounts are positive'); // a bug, not a domain rule
    if (message.type === 'Deposit') return ok([{ type: 'Deposited', amount: message.amount }]);
    if (state.balance < message.amount) return error({ code: 'insufficient-funds', balance: state.balance });
    return ok([{ type: 'Withdrawn', amount: message.amount }]);
  },
  update(event, state) {
    return { balance: event.type === 'Deposited' ? state.balance + event.amount : state.balance - event.amount };
  },
});

const system = createSystem({ store: memoryStore(), entities: [Account] });
const account = Account.ref('account-42');

const deposit = await system.call(account, { type: 'Deposit', amount: 50 });
if (deposit.ok) console.log({ ok: deposit.ok, state: deposit.state, version: deposit.version });
// A domain rejection is a value: nothing is committed.
console.log(await system.call(account, { type: 'Withdraw', amount: 80 }));
// A fault is a typed error with a stable code: nothing is committed either.
try {
  await system.call(account, { type: 'Withdraw', amount: -1 });
} catch (e) {
  if (isPachydermError(e)) console.log(e.code, '-', e.message);
}
console.log(await system.read(account));
await system.close();
