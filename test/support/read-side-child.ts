/**
 * A process that runs the read side until it is killed, for test/read-side-crash.test.ts.
 *
 *   node --import tsx test/support/read-side-child.ts '<json address>' project
 *   node --import tsx test/support/read-side-child.ts '<json address>' react [<key to die at>]
 *
 * `project` runs the balances projection. `react` runs a reactor that writes `handled <key>` to
 * stdout for each event (synchronously: the line is out before anything else happens) and, at the
 * event whose idempotency key is given, kills itself with SIGKILL right after writing the line:
 * after its handler, before its checkpoint. It never exits by itself.
 */

import { createSystem, defineReactor, silentLogger } from 'pachyderm';
import { Account, balancesProjection } from './accounts.js';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

const [addressJson, mode, dieAt] = process.argv.slice(2);
const address = JSON.parse(addressJson as string) as StorePlace['address'];

const Echo = defineReactor({
  name: 'echo',
  entities: [Account],
  handle(_event, _meta, ctx) {
    writeLine(1, `handled ${ctx.idempotencyKey}\n`);
    if (ctx.idempotencyKey === dieAt) process.kill(process.pid, 'SIGKILL');
  },
});

createSystem({
  store: storeAt(address),
  entities: [Account],
  ...(mode === 'project' ? { projections: [balancesProjection()] } : { reactors: [Echo] }),
  leaseMs: 300,
  pollIntervalMs: 20,
  logger: silentLogger,
});
writeLine(1, 'started\n');
setInterval(() => {}, 1 << 30);
