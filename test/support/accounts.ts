/** An account and its read side, shared by the read-side tests. */
import { defineEntity, defineProjection, error, ok, sql } from 'pachyderm';

export const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(
    message: { type: 'Deposit'; amount: number } | { type: 'Withdraw'; amount: number } | { type: 'Peek' },
    state,
  ) {
    if (message.type === 'Peek') return ok([]);
    if (message.type === 'Withdraw' && message.amount > state.balance) return error('insufficient funds' as const);
    return ok([
      { type: message.type === 'Deposit' ? ('Deposited' as const) : ('Withdrawn' as const), amount: message.amount },
    ]);
  },
  update(event, state) {
    return { balance: state.balance + (event.type === 'Deposited' ? event.amount : -event.amount) };
  },
});

/** Another entity type, whose events the account projections must not see. */
export const Note = defineEntity({
  type: 'Note',
  init: () => ({ text: '' }),
  handle(message: { text: string }) {
    return ok([{ type: 'Written' as const, text: message.text }]);
  },
  update(event) {
    return { text: event.text };
  },
});

/** Balances, and a row per applied event: an event applied twice shows as a duplicate key. */
export function balancesProjection(name = 'balances', options: { version?: number; onError?: 'stop' | 'skip' } = {}) {
  return defineProjection({
    name,
    entities: [Account],
    version: options.version ?? 1,
    ...(options.onError ? { onError: options.onError } : {}),
    retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 },
    setup: [
      sql`CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`,
      sql`CREATE TABLE IF NOT EXISTS applied (id TEXT NOT NULL, version INTEGER NOT NULL, position TEXT NOT NULL, PRIMARY KEY (id, version))`,
    ],
    reset: [sql`DELETE FROM balances`, sql`DELETE FROM applied`],
    handle(event, meta) {
      const delta = event.type === 'Deposited' ? event.amount : -event.amount;
      return [
        sql`INSERT INTO balances (id, balance) VALUES (${meta.ref.id}, ${delta})
            ON CONFLICT (id) DO UPDATE SET balance = balances.balance + excluded.balance`,
        sql`INSERT INTO applied (id, version, position) VALUES (${meta.ref.id}, ${meta.version}, ${meta.position})`,
      ];
    },
  });
}
