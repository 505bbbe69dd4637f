/**
 * Banks for the simulation tests: a correct one (the source debits, then sends the credit) and a
 * buggy one (the target credits itself first, then asks the source for a debit it may refuse), with
 * the invariant both should keep: no money made or lost, counting messages in flight.
 */
import { defineEffect, defineEntity, error, ok, send } from 'pachyderm';
import type { Rng, SimulationView } from 'pachyderm/testing';

export const ids = ['a0', 'a1', 'a2', 'a3'];

type Message =
  | { type: 'Open'; amount: number }
  | { type: 'Transfer'; to: string; amount: number }
  | { type: 'Credit'; amount: number };
type Event = { type: 'Credited' | 'Debited'; amount: number };

/** An at-most-once notice: lost when a process crashes between the commit and it. */
export const Notice = defineEffect('Notice', (payload: { amount: number }, ctx) => {
  (ctx.context as string[]).push(`notice ${payload.amount}`);
});

export const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: Message, state, entity) {
    if (message.type !== 'Transfer') return ok([{ type: 'Credited', amount: message.amount }]);
    if (state.balance < message.amount) return error('insufficient funds');
    return ok(
      [{ type: 'Debited', amount: message.amount }],
      [
        send(entity.ref(message.to), { type: 'Credit', amount: message.amount }),
        Notice.with({ amount: message.amount }),
      ],
    );
  },
  update: (event: Event, state) => ({
    balance: state.balance + (event.type === 'Credited' ? event.amount : -event.amount),
  }),
});

export const setup = ids.map((id) => ({ ref: Account.ref(id), message: { type: 'Open', amount: 250 } as Message }));

export const workload = (rng: Rng) => ({
  ref: Account.ref(rng.pick(ids)),
  message: { type: 'Transfer', to: rng.pick(ids), amount: rng.int(1, 150) } as Message,
});

/** Balances plus credits in flight: always 1000, and no balance below 0. */
export async function moneyKept(view: SimulationView): Promise<boolean> {
  const balances = (await view.readAll(Account)).map((account) => account.balance);
  const inFlight = (await view.inFlight()).map(({ message }) => (message as { amount: number }).amount);
  return sum(balances) + sum(inFlight) === 1000 && balances.every((balance) => balance >= 0);
}

type BuggyMessage =
  | { type: 'Open'; amount: number }
  | { type: 'Transfer'; from: string; amount: number }
  | { type: 'Debit'; amount: number };

/** Credits before the debit is known to commit: a debit the source refuses has made money. */
export const BuggyAccount = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: BuggyMessage, state, entity) {
    if (message.type === 'Open') return ok([{ type: 'Credited', amount: message.amount }]);
    if (message.type === 'Transfer') {
      const debit = send(entity.ref(message.from), { type: 'Debit', amount: message.amount });
      return ok([{ type: 'Credited', amount: message.amount }], [debit]);
    }
    if (state.balance < message.amount) return error('insufficient funds');
    return ok([{ type: 'Debited', amount: message.amount }]);
  },
  update: (event: Event, state) => ({
    balance: state.balance + (event.type === 'Credited' ? event.amount : -event.amount),
  }),
});

export const buggySetup = ids.map((id) => ({
  ref: BuggyAccount.ref(id),
  message: { type: 'Open', amount: 250 } as BuggyMessage,
}));

export const buggyWorkload = (rng: Rng) => ({
  ref: BuggyAccount.ref(rng.pick(ids)),
  message: { type: 'Transfer', from: rng.pick(ids), amount: rng.int(1, 400) } as BuggyMessage,
});

/** Balances less the debits in flight: always 1000. */
export async function buggyMoneyKept(view: SimulationView): Promise<boolean> {
  const balances = (await view.readAll(BuggyAccount)).map((account) => account.balance);
  const owed = (await view.inFlight()).map(({ message }) => (message as { amount: number }).amount);
  return sum(balances) - sum(owed) === 1000;
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
