import { createSystem, defineEntity, defineProjection, ok, sql } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle: (message: { type: 'Deposit' | 'Withdraw'; amount: number }) =>
    ok([
      { type: message.type === 'Deposit' ? ('Deposited' as const) : ('Withdrawn' as const), amount: message.amount },
    ]),
  update: (event, state) => ({ balance: state.balance + (event.type === 'Deposited' ? event.amount : -event.amount) }),
});

// Your own table in the same database, updated exactly once per event.
const Balances = defineProjection({
  name: 'balances',
  entities: [Account],
  setup: [sql`CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`],
  reset: [sql`DELETE FROM balances`],
  handle(event, meta) {
    const delta = event.type === 'Deposited' ? event.amount : -event.amount;
    return [
      sql`INSERT INTO balances (id, balance) VALUES (${meta.ref.id}, ${delta})
          ON CONFLICT (id) DO UPDATE SET balance = balances.balance + excluded.balance`,
    ];
  },
});

const system = createSystem({
  store: sqliteStore({ filename: ':memory:' }),
  entities: [Account],
  projections: [Balances],
});

// Follow one account live: every event with the state after it, as it commits.
const live = (async () => {
  for await (const { version, event, state } of system.follow(Account.ref('a1'))) {
    console.log(`a1 v${version}: ${event.type} ${event.amount} -> balance ${state.balance}`);
    if (version === 3) break;
  }
})();

await system.call(Account.ref('a1'), { type: 'Deposit', amount: 10 });
await system.call(Account.ref('b2'), { type: 'Withdraw', amount: 4 });
await system.call(Account.ref('a1'), { type: 'Withdraw', amount: 3 });
const last = await system.call(Account.ref('a1'), { type: 'Deposit', amount: 1 });
await live;

// The projection runs in the background: wait for the last call's position, then query.
if (last.ok) await system.projection(Balances).waitFor(last.position);
console.log(await system.query(sql`SELECT id, balance FROM balances WHERE balance < ${0}`));
console.log(system.projection(Balances).status().state);
await system.close();
