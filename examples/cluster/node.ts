/**
 * One node of the local three-node cluster (started by run.ts):
 *
 *   node --import tsx examples/cluster/node.ts <name> <port> <database file>
 *
 * Once it sees all three members, it deposits 10 into each of five accounts, through itself: the
 * calls for accounts another node owns are forwarded there. SIGTERM closes it gracefully.
 */
import { Account, bank } from './bank.js';

const [name, port, filename] = process.argv.slice(2) as [string, string, string];
const system = bank(filename, {
  name,
  listen: { host: '127.0.0.1', port: Number(port) },
  secret: 'example-secret: shared by every node',
  heartbeatMs: 200,
  memberTtlMs: 1000,
});
while (system.cluster.members().length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
await new Promise((resolve) => setTimeout(resolve, 500)); // two heartbeats: partitions have moved

for (let i = 0; i < 5; i++) await system.call(Account.ref(`acct-${i}`), { type: 'Deposit', amount: 10 });
const stats = (await system.stats()).cluster;
console.log(`${name} done: ${stats?.forwarded ?? 0} of 5 forwarded, owns ${stats?.partitionsOwned} partitions`);

process.on('SIGTERM', () => {
  void system.close().then(() => process.exit(0));
});
setInterval(() => {}, 1 << 30);
