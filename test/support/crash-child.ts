/**
 * A process that makes calls until it is killed, for test/crash-recovery.test.ts.
 *
 *   node --import tsx test/support/crash-child.ts '<json address>' '<entity id>' [in flight]
 *
 * It records calls to one Ledger entity on the store at the address, keeping `in flight` calls
 * (default 8) under way at all times. After each call resolves it writes `ack <id> <callId> <version>`
 * to stdout synchronously, so a line on stdout means the call was acknowledged before the process
 * died. Each call id is unique across processes (the pid is part of it). It never exits by itself:
 * the parent kills it.
 */

import { createSystem } from 'pachyderm';
import { Ledger } from './entities.js';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

const [addressJson, id, inFlightArg] = process.argv.slice(2);
if (!addressJson || !id) {
  writeLine(2, 'usage: crash-child.ts <json address> <entity id> [in flight]\n');
  process.exit(2);
}
const address = JSON.parse(addressJson) as StorePlace['address'];
const inFlight = Number(inFlightArg ?? 8);

// Snapshots every few events, so that kills also land during snapshot writes.
const system = createSystem({ store: storeAt(address), entities: [Ledger], snapshotEvery: 7 });
const ref = Ledger.ref(id);
let next = 0;

async function loop(): Promise<void> {
  for (;;) {
    const callId = `${process.pid}-${next++}`;
    const result = await system.call(ref, { type: 'Record', callId });
    if (!result.ok) throw new Error(`unexpected rejection of ${callId}`);
    writeLine(1, `ack ${id} ${callId} ${result.version}\n`);
  }
}

Promise.all(Array.from({ length: inFlight }, loop)).catch((error: unknown) => {
  writeLine(2, `crash-child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
