import { createSystem, defineEntity, ok } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

// Version 1, as it shipped: a deposit had an amount and nothing else.
const AccountV1 = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle: (message: { type: 'Deposit'; amount: number }, _state) =>
    ok([{ type: 'Deposited' as const, amount: message.amount }]),
  update: (event, state) => ({ balance: state.balance + event.amount }),
});

// Version 2: a deposit names its currency. Every deposit version 1 recorded was in euros.
const Account = defineEntity({
  type: 'Account',
  eventVersion: 2,
  upcast(event, storedVersion) {
    if (storedVersion === 1 && event.type === 'Deposited') return { ...event, currency: 'EUR' };
    return event;
  },
  // The state changed shape too: snapshots of the old shape are not used.
  snapshotVersion: 2,
  init: () => ({ balances: {} as Record<string, number> }),
  handle: (message: { type: 'Deposit'; amount: number; currency: string }, _state) =>
    ok([{ type: 'Deposited' as const, amount: message.amount, currency: message.currency }]),
  update: (event, state) => ({
    balances: { ...state.balances, [event.currency]: (state.balances[event.currency] ?? 0) + event.amount },
  }),
});

const store = sqliteStore({ filename: 'bank.db' });
const before = createSystem({ store, entities: [AccountV1] });
await before.call(AccountV1.ref('alice'), { type: 'Deposit', amount: 30 });
await before.close();

// The next release reads the same log.
const system = createSystem({ store, entities: [Account] });
await system.call(Account.ref('alice'), { type: 'Deposit', amount: 5, currency: 'USD' });
console.log((await system.read(Account.ref('alice'))).state);
for await (const { version, event } of system.events(Account.ref('alice'))) console.log(version, event);
await system.close();
