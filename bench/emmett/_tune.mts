import { CommandHandler, isExpectedVersionConflictError } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { evolve, initialState, streamName, type CounterState, type Increased } from './counter.js';
const [minTimeout, maxTimeout, factor] = process.argv.slice(2).map(Number);
const n = 256;
const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres'); await admin.connect();
const db = `emmett_tune_${Date.now()}`; await admin.query(`CREATE DATABASE ${db}`);
let conflicts = 0;
const handle = CommandHandler<CounterState, Increased>({ evolve, initialState, mapToStreamId: streamName,
  retry: { onVersionConflict: { retries: 1000, minTimeout, maxTimeout, factor, randomize: true, shouldRetryError: (e) => { const c = isExpectedVersionConflictError(e); if (c) conflicts++; return c; } } } });
const store = getPostgreSQLEventStore(`postgres://postgres@127.0.0.1:5432/${db}`);
await store.schema.migrate();
const res: number[] = [];
for (let run = 0; run < 3; run++) {
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, () => handle(store, `hot${run}`, () => ({ type: 'Increased', data: { amount: 1 } }))));
  res.push(n / ((performance.now() - t) / 1000));
}
console.log(minTimeout, maxTimeout, factor, 'calls/s', res.map((r) => r.toFixed(0)).join(' '), 'conflicts/run', (conflicts / 3).toFixed(0));
await store.close(); await new Promise((r) => setTimeout(r, 300));
await admin.query(`DROP DATABASE ${db} WITH (FORCE)`).catch(() => {}); await admin.end();
