import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystem, defineEntity, ok, type System } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle: (message: { type: 'Deposit'; amount: number }) => ok([{ type: 'Deposited', amount: message.amount }]),
  update: (event, state) => ({ balance: state.balance + event.amount }),
});

// Three nodes on one database (here a SQLite file; processes on one machine, or PostgreSQL for many).
// Each would be its own process; here they share one, each with its own store object and endpoint.
const filename = join(mkdtempSync(join(tmpdir(), 'cluster-')), 'bank.db');
const node = (name: string) =>
  createSystem({
    store: sqliteStore({ filename }),
    entities: [Account],
    cluster: {
      name,
      listen: { host: '127.0.0.1', port: 0 }, // 0: any free port; give a fixed one in production
      secret: 'change-me: shared by every node',
      heartbeatMs: 200,
      memberTtlMs: 1000,
    },
  });
const nodes = [node('node-a'), node('node-b'), node('node-c')];
const agree = (ref: ReturnType<typeof Account.ref>) =>
  new Set(nodes.map((n) => n.cluster.ownerOf(ref)?.name)).size === 1 && nodes[0]?.cluster.ownerOf(ref) !== undefined;
while (!nodes.every((n) => n.cluster.members().length === 3) || !agree(Account.ref('acct-1'))) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(nodes[0]?.cluster.members().map((m) => `${m.name} ${m.status}`));

// A call may arrive at any node: a node that does not own the entity forwards it to the owner.
for (let i = 0; i < 30; i++) {
  const through = nodes[i % 3] as System;
  await through.call(Account.ref(`acct-${i % 5}`), { type: 'Deposit', amount: 10 });
}
const owner = nodes[0]?.cluster.ownerOf(Account.ref('acct-1'))?.name;
console.log('every node routes acct-1 to its owner:', agree(Account.ref('acct-1')) && owner !== undefined);
const stats = await Promise.all(nodes.map(async (n) => (await n.stats()).cluster));
console.log('calls forwarded:', stats.reduce((sum, s) => sum + (s?.forwarded ?? 0), 0) > 0);

// Closing a node hands its partitions to the others; their callers see no error.
await nodes[0]?.close();
console.log((await nodes[1]?.read(Account.ref('acct-1')))?.state);
await Promise.all(nodes.slice(1).map((n) => n.close()));
