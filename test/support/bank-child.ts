/**
 * A process that makes random transfers between the accounts of support/bank.ts until it is
 * killed, for test/bank-transfers.test.ts.
 *
 *   node --import tsx test/support/bank-child.ts '<json address>' <label> [in flight] [cluster node name]
 *
 * It keeps `in flight` transfers (default 6) under way at all times, each from a random account to
 * another, for 1 to 100. Transfer ids are `<label>-<n>`, unique across processes because the parent
 * gives every process it starts a new label. After each transfer call resolves it writes one line
 * to stdout with one synchronous write, so a line means the call was answered before the process
 * died:
 *
 *   ack <transfer id> <from> <to> <amount> <version>   the debit is committed at this version
 *   rejected <transfer id>                              insufficient funds, nothing committed
 *   failed <transfer id> <code>                         a fault (e.g. CONFLICT_RETRIES_EXHAUSTED)
 *
 * Its system also delivers the outbox (the credits), sharing it with the other process through
 * short leases. With a node name, the system is a node of a cluster (see CLUSTER below) that
 * forwards each call to its account's owner. It never exits by itself: the parent kills it.
 */

import { createSystem, isPachydermError } from 'pachyderm';
import { Account, accountIds, CLUSTER } from './bank.js';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

const [addressJson, label, inFlightArg, nodeName] = process.argv.slice(2);
if (!addressJson || !label) {
  writeLine(2, 'usage: bank-child.ts <json address> <label> [in flight]\n');
  process.exit(2);
}
const address = JSON.parse(addressJson) as StorePlace['address'];
const inFlight = Number(inFlightArg ?? 6);

const system = createSystem({
  store: storeAt(address),
  entities: [Account],
  // A killed process's leased rows are taken over by the other one quickly.
  leaseMs: 1500,
  pollIntervalMs: 100,
  // Snapshots every few events, so that kills also land during snapshot writes.
  snapshotEvery: 10,
  ...(nodeName ? { cluster: { ...CLUSTER, name: nodeName } } : {}),
});

const pick = (count: number) => Math.floor(Math.random() * count);
let next = 0;

async function loop(): Promise<void> {
  for (;;) {
    const id = `${label}-${next++}`;
    const from = accountIds[pick(accountIds.length)] as string;
    let to = from;
    while (to === from) to = accountIds[pick(accountIds.length)] as string;
    const amount = 1 + pick(100);
    try {
      const result = await system.call(Account.ref(from), { type: 'Transfer', id, from, to, amount });
      if (result.ok) writeLine(1, `ack ${id} ${from} ${to} ${amount} ${result.version}\n`);
      else writeLine(1, `rejected ${id}\n`);
    } catch (error) {
      if (!isPachydermError(error)) throw error;
      writeLine(1, `failed ${id} ${error.code}\n`);
    }
  }
}

Promise.all(Array.from({ length: inFlight }, loop)).catch((error: unknown) => {
  writeLine(2, `bank-child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
