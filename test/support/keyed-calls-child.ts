/**
 * A process that makes idempotent calls and exits, for test/idempotent-calls.test.ts:
 *
 *   node --import tsx test/support/keyed-calls-child.ts '<json address>' <label> <count> <entities>
 *
 * It calls `Tally` entities `t0 .. t<entities - 1>` with the keys `<label>-0 .. <label>-<count - 1>`
 * (key n goes to entity n modulo entities), all at once, and writes one line per answer:
 *
 *   answer <key> <json of the answer>
 *
 * Two such processes with the same label repeat each other's calls concurrently.
 */
import { createSystem } from 'pachyderm';
import { Tally } from './keyed.js';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

const [addressJson, label, countArg, entitiesArg] = process.argv.slice(2);
if (!addressJson || !label || !countArg || !entitiesArg) {
  writeLine(2, 'usage: keyed-calls-child.ts <json address> <label> <count> <entities>\n');
  process.exit(2);
}
const address = JSON.parse(addressJson) as StorePlace['address'];
const system = createSystem({ store: storeAt(address), entities: [Tally] });
const count = Number(countArg);
const entities = Number(entitiesArg);

await Promise.all(
  Array.from({ length: count }, async (_, n) => {
    const key = `${label}-${n}`;
    const answer = await system.call(Tally.ref(`t${n % entities}`), { type: 'Add', key }, { idempotencyKey: key });
    writeLine(1, `answer ${key} ${JSON.stringify(answer)}\n`);
  }),
);
await system.close();
process.exit(0);
