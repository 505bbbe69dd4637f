import { createSystem, defineEntity, memoryStore, ok } from 'pachyderm';
import { checkReplay } from 'pachyderm/testing';

const store = memoryStore();

// The code in production: deposits in euros. An old client once sent an amount as text.
const AccountV1 = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle: (message: { type: 'Deposit'; amount: number | string }) =>
    ok([{ type: 'Deposited' as const, amount: message.amount }]),
  update: (event, state) => ({ balance: state.balance + Number(event.amount) }),
});
const running = createSystem({ store, entities: [AccountV1] });
await running.call(AccountV1.ref('a1'), { type: 'Deposit', amount: 10 });
await running.call(AccountV1.ref('a2'), { type: 'Deposit', amount: '5' });
await running.close();

// The next version counts cents, and reads the events stored under eventVersion 1 through upcast.
const Account = defineEntity({
  type: 'Account',
  eventVersion: 2,
  init: () => ({ cents: 0 }),
  handle: (message: { type: 'Deposit'; cents: number }) => ok([{ type: 'Deposited' as const, cents: message.cents }]),
  update: (event, state) => ({ cents: state.cents + event.cents }),
  upcast(event) {
    if (typeof event.amount !== 'number') throw new Error(`amount ${JSON.stringify(event.amount)} is not a number`);
    return { type: 'Deposited' as const, cents: event.amount * 100 };
  },
});

const report = await checkReplay({ store, entities: [Account] });
console.log(report.ok, report.entities, report.events);
for (const { ref, kind, version, code, message } of report.failures) console.log(ref, kind, version, code, message);
