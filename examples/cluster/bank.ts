/** The accounts of the local cluster example, on one SQLite file shared by the processes. */
import { type ClusterOptions, createSystem, defineEntity, ok } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

export const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle: (message: { type: 'Deposit'; amount: number }) => ok([{ type: 'Deposited', amount: message.amount }]),
  update: (event, state) => ({ balance: state.balance + event.amount }),
});

export const bank = (filename: string, cluster?: ClusterOptions) =>
  createSystem({ store: sqliteStore({ filename }), entities: [Account], ...(cluster ? { cluster } : {}) });
