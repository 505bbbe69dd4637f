import { defineEntity, error, ok, send } from 'pachyderm';
import { type Rng, type SimulationView, simulate } from 'pachyderm/testing';

type Event = { type: 'Credited' | 'Debited'; amount: number };
const balanceAfter = (event: Event, state: { balance: number }) => ({
  balance: state.balance + (event.type === 'Credited' ? event.amount : -event.amount),
});

// Correct: the source debits, and sends the credit with the same commit.
type Message = { type: 'Open' | 'Credit'; amount: number } | { type: 'Transfer'; to: string; amount: number };
const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: Message, state, entity) {
    if (message.type !== 'Transfer') return ok([{ type: 'Credited', amount: message.amount }]);
    if (state.balance < message.amount) return error('insufficient funds');
    const credit = send(entity.ref(message.to), { type: 'Credit', amount: message.amount });
    return ok([{ type: 'Debited', amount: message.amount }], [credit]);
  },
  update: balanceAfter,
});

// Buggy: the target credits itself, then asks the source for a debit that may be refused.
type HastyMessage = { type: 'Open' | 'Debit'; amount: number } | { type: 'Transfer'; from: string; amount: number };
const HastyAccount = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: HastyMessage, state, entity) {
    if (message.type === 'Open') return ok([{ type: 'Credited', amount: message.amount }]);
    if (message.type === 'Transfer') {
      const debit = send(entity.ref(message.from), { type: 'Debit', amount: message.amount });
      return ok([{ type: 'Credited', amount: message.amount }], [debit]);
    }
    if (state.balance < message.amount) return error('insufficient funds');
    return ok([{ type: 'Debited', amount: message.amount }]);
  },
  update: balanceAfter,
});

const ids = ['a0', 'a1', 'a2', 'a3'];
const sum = (amounts: number[]) => amounts.reduce((total, amount) => total + amount, 0);
const amountsInFlight = async (view: SimulationView) =>
  (await view.inFlight()).map(({ message }) => (message as { amount: number }).amount);

// Four accounts of 250: balances plus credits on their way always make 1000.
const correct = await simulate({
  entities: [Account],
  setup: ids.map((id) => ({ ref: Account.ref(id), message: { type: 'Open', amount: 250 } })),
  workload: (rng: Rng) => ({
    ref: Account.ref(rng.pick(ids)),
    message: { type: 'Transfer', to: rng.pick(ids), amount: rng.int(1, 300) },
  }),
  invariant: async (view) => {
    const balances = (await view.readAll(Account)).map((account) => account.balance);
    return sum(balances) + sum(await amountsInFlight(view)) === 1000;
  },
  seed: 42,
});
console.log(correct);

// The same law for the buggy bank: balances less the debits on their way.
const hasty = {
  entities: [HastyAccount],
  setup: ids.map((id) => ({ ref: HastyAccount.ref(id), message: { type: 'Open', amount: 250 } })),
  invariant: async (view: SimulationView) => {
    const balances = (await view.readAll(HastyAccount)).map((account) => account.balance);
    return sum(balances) - sum(await amountsInFlight(view)) === 1000;
  },
};
const buggy = await simulate({
  ...hasty,
  workload: (rng: Rng) => ({
    ref: HastyAccount.ref(rng.pick(ids)),
    message: { type: 'Transfer', from: rng.pick(ids), amount: rng.int(1, 300) },
  }),
  seed: 42,
});
if (!buggy.ok) {
  console.log(buggy.report);
  // Replayed without its seed, the shortest schedule breaks the law again.
  const replayed = await simulate.replay(buggy.shortest, hasty);
  console.log(replayed.ok, replayed.ok ? '' : replayed.error.code);
}
