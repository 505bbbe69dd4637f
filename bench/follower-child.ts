/**
 * A process that follows one entity and prints when each event arrived, for the cross-process
 * follow latency in bench/read-side.ts.
 *
 *   node --import tsx bench/follower-child.ts '<json address>' <entity id> <poll interval ms>
 */
import { writeSync } from 'node:fs';
import { createSystem, defineEntity, ok, silentLogger } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { sqliteStore } from 'pachyderm/sqlite';

const [addressJson, id, poll] = process.argv.slice(2);
const address = JSON.parse(addressJson as string) as { filename?: string; url?: string; schema?: string };
const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }) => ok([{ type: 'Increased' as const, amount: 1 }]),
  update: (event, state) => ({ count: state.count + event.amount }),
});
const store = address.url
  ? postgresStore({ connectionString: address.url, ...(address.schema ? { schema: address.schema } : {}) })
  : sqliteStore({ filename: address.filename as string });
const system = createSystem({ store, entities: [Counter], pollIntervalMs: Number(poll), logger: silentLogger });
writeSync(1, 'ready\n');
for await (const { version } of system.follow(Counter.ref(id as string))) {
  writeSync(1, `seen ${version} ${performance.timeOrigin + performance.now()}\n`);
}
