/**
 * The bank of test/bank-transfers.test.ts, shared by the test and its child processes
 * (support/bank-child.ts).
 *
 * A transfer is two decisions on two entities joined by a message: `Transfer` on the paying
 * account records `Debited` and sends `Credit` to the payee, which records `Credited`. The payee
 * handles the message once even when delivery is repeated, so every debit has exactly one credit.
 */
import { defineEntity, error, ok, send } from 'pachyderm';

export const ACCOUNT_COUNT = 20;
export const INITIAL_BALANCE = 1000;

/** The ids of the accounts: `account-00` to `account-19`. */
export const accountIds: readonly string[] = Array.from(
  { length: ACCOUNT_COUNT },
  (_, i) => `account-${String(i).padStart(2, '0')}`,
);

/**
 * `from` is the paying account's own id: `handle` does not see the entity's id, so the caller
 * passes it on for the payee's `Credited` event.
 */
export type TransferMessage = { type: 'Transfer'; id: string; from: string; to: string; amount: number };
export type CreditMessage = { type: 'Credit'; transfer: string; from: string; amount: number };
export type AccountMessage = TransferMessage | CreditMessage;

export type AccountEvent =
  | { type: 'Debited'; transfer: string; to: string; amount: number }
  | { type: 'Credited'; transfer: string; from: string; amount: number };

export interface AccountState {
  readonly balance: number;
  /** Events folded, to compare with the log's length. */
  readonly events: number;
}

export const Account = defineEntity({
  type: 'Account',
  init: (): AccountState => ({ balance: INITIAL_BALANCE, events: 0 }),
  handle(message: AccountMessage, state, entity) {
    if (message.type === 'Credit') {
      const credited: AccountEvent = {
        type: 'Credited',
        transfer: message.transfer,
        from: message.from,
        amount: message.amount,
      };
      return ok([credited]);
    }
    if (state.balance < message.amount) return error('insufficient funds' as const);
    const debited: AccountEvent = { type: 'Debited', transfer: message.id, to: message.to, amount: message.amount };
    const credit: CreditMessage = { type: 'Credit', transfer: message.id, from: message.from, amount: message.amount };
    return ok([debited], [send(entity.ref(message.to), credit)]);
  },
  update: applyAccountEvent,
});

/** The fold, also used by the test to recompute each state from its log. */
export function applyAccountEvent(event: AccountEvent, state: AccountState): AccountState {
  const delta = event.type === 'Debited' ? -event.amount : event.amount;
  return { balance: state.balance + delta, events: state.events + 1 };
}

/** The cluster the bank's processes form when the test asks for one (bank-child.ts). */
export const CLUSTER = {
  listen: { host: '127.0.0.1', port: 0 },
  secret: 'bank-cluster-secret',
  heartbeatMs: 200,
  memberTtlMs: 1000,
  partitions: 64,
  // Calls forwarded to a paused node give up after this (OWNER_UNREACHABLE) instead of 30 s.
  forwardTimeoutMs: 2000,
} as const;
