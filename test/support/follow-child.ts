/**
 * A process whose only work is following one account, for test/follow.test.ts: it must stay
 * alive while it waits for the next event, and print each one.
 *
 *   node --import tsx test/support/follow-child.ts '<json address>' <account id>
 */

import { createSystem } from 'pachyderm';
import { Account } from './accounts.js';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

const [addressJson, id] = process.argv.slice(2);
const address = JSON.parse(addressJson as string) as StorePlace['address'];
const system = createSystem({ store: storeAt(address), entities: [Account], pollIntervalMs: 20 });
writeLine(1, 'following\n');
for await (const { version, state } of system.follow(Account.ref(id as string))) {
  writeLine(1, `seen ${version} ${state.balance}\n`);
}
