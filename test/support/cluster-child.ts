/**
 * A node of a cluster that makes calls, for test/cluster-processes.test.ts:
 *
 *   node --import tsx test/support/cluster-child.ts '<json address>' <name> <calls> <members>
 *
 * Once it sees `members` members (and two more heartbeats), it makes `calls` calls, 32 at a time:
 * a fifth to the entity `hot`, the rest to random ones of 1,000, each recording its call id
 * `<name>-<n>`. It writes one line per answer with one synchronous write, then its counters:
 *
 *   ack <entity id> <call id> <version>
 *   failed <call id> <code>
 *   stats <conflicts> <forwarded> <fallbacks> <servedForPeers>
 *
 * It never exits by itself: the parent kills it.
 */

import { createSystem, isPachydermError, silentLogger } from 'pachyderm';
import { Ledger } from './entities.js';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

const [addressJson, name, callsArg, membersArg] = process.argv.slice(2);
const address = JSON.parse(addressJson as string) as StorePlace['address'];
const calls = Number(callsArg);
const members = Number(membersArg);

const system = createSystem({
  store: storeAt(address),
  entities: [Ledger],
  logger: silentLogger,
  cluster: {
    name: name as string,
    listen: { host: '127.0.0.1', port: 0 },
    secret: 'processes-cluster-secret',
    heartbeatMs: 100,
    memberTtlMs: 600,
    partitions: 64,
  },
});

while (system.cluster.members().length < members) await new Promise((resolve) => setTimeout(resolve, 20));
await new Promise((resolve) => setTimeout(resolve, 300));

let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < calls) {
      const callId = `${name}-${next}`;
      const id = next++ % 5 === 0 ? 'hot' : `e${Math.floor(Math.random() * 1000)}`;
      try {
        const result = await system.call(Ledger.ref(id), { type: 'Record', callId });
        if (result.ok) writeLine(1, `ack ${id} ${callId} ${result.version}\n`);
        else writeLine(1, `failed ${callId} REJECTED\n`);
      } catch (error) {
        writeLine(1, `failed ${callId} ${isPachydermError(error) ? error.code : 'UNKNOWN'}\n`);
      }
    }
  }),
);
const stats = (await system.stats()).cluster;
writeLine(1, `stats ${stats?.conflicts} ${stats?.forwarded} ${stats?.fallbacks} ${stats?.servedForPeers}\n`);
setInterval(() => {}, 1 << 30);
