import { emmettSqlite, retries } from './counter.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const f = join(mkdtempSync(join(tmpdir(), 'em-')), 'e.db');
const c = await emmettSqlite(f);
const t = performance.now();
let next = 0; const total = 3000;
await Promise.all(Array.from({ length: 64 }, async () => { while (next < total) { const i = next++; await c.increment(`s${i % 500}`); } }));
console.error('calls/s', (total / ((performance.now() - t) / 1000)).toFixed(0), retries);
import { getSQLiteEventStore } from '@event-driven-io/emmett-sqlite';
import { evolve, initialState, streamName } from './counter.js';
const rb = getSQLiteEventStore({ fileName: f });
let bad = 0;
for (let k = 0; k < 500; k++) { const r = await rb.aggregateStream(streamName(`s${k}`), { evolve, initialState }); if (r.currentStreamVersion !== 6n || r.state.count !== 6) bad++; }
console.error('bad streams', bad, f);
