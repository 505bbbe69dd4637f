/**
 * The cost of changing safely in `npm run bench`: idempotent calls (the key looked up before the
 * decision and recorded with the commit) against the same calls without a key, and repeats of a
 * key (answered from the store, `handle` not called); activating an entity whose log was written by
 * an older `eventVersion` (every event upcast) against one of the current version; calls checked
 * by a zod `messageSchema` against unchecked ones. Runs interleaved in one process, on the same
 * store.
 */
import { randomUUID } from 'node:crypto';
import { createSystem, defineEntity, ok, type Store, silentLogger } from 'pachyderm';
import { z } from 'zod';
import { drive, fmt, type Measured, RUNS, range, type Sample, stat } from './measure.js';

const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }, _state) => ok([{ type: 'Increased' as const, amount: 1 }]),
  update: (event, state) => ({ count: state.count + event.amount }),
});

/** The log's events as version 1 wrote them, `{ n }`. */
const NotesV1 = defineEntity({
  type: 'Notes',
  init: () => ({ count: 0, sum: 0 }),
  handle: (message: { count: number }, _state) =>
    ok(Array.from({ length: message.count }, (_, n) => ({ type: 'Noted' as const, n }))),
  update: (event, state) => ({ count: state.count + 1, sum: state.sum + event.n }),
});

/** Version 2: `{ value }`, and an upcast from `{ n }`. */
const NotesV2 = defineEntity({
  type: 'Notes',
  eventVersion: 2,
  upcast: (event, storedVersion) => (storedVersion === 1 ? { type: 'Noted' as const, value: event.n } : event),
  init: () => ({ count: 0, sum: 0 }),
  handle: (message: { count: number }, _state) =>
    ok(Array.from({ length: message.count }, (_, value) => ({ type: 'Noted' as const, value }))),
  update: (event, state) => ({ count: state.count + 1, sum: state.sum + event.value }),
});

/** The counter with a zod schema for its messages: every call is checked before `handle`. */
const CheckedCounter = defineEntity({
  type: 'Counter',
  messageSchema: z.object({ type: z.literal('Increment'), by: z.number().int().positive().default(1) }),
  init: () => ({ count: 0 }),
  handle: (message, _state) => ok([{ type: 'Increased' as const, amount: message.by }]),
  update: (event, state) => ({ count: state.count + event.amount }),
});

export interface EvolutionTarget {
  readonly name: string;
  store(): Store;
  /** Calls per run. */
  readonly size: number;
}

interface KeyedResult {
  readonly store: string;
  readonly plain: Measured;
  readonly keyed: Measured;
  readonly repeats: Measured;
}
interface SchemaResult {
  readonly store: string;
  readonly plain: Measured;
  readonly checked: Measured;
}
interface UpcastResult {
  readonly store: string;
  /** Events folded per second when activating. */
  readonly current: Measured;
  readonly upcast: Measured;
}
const keyedResults: KeyedResult[] = [];
const upcastResults: UpcastResult[] = [];
const schemaResults: SchemaResult[] = [];

function measured(samples: readonly Sample[]): Measured {
  return {
    rate: stat(samples.map((s) => s.callsPerSecond)),
    p50: stat(samples.map((s) => s.p50)),
    p99: stat(samples.map((s) => s.p99)),
  };
}

/**
 * New entities, one call each at concurrency 256: without a key, with a new key, and the same keys
 * again (each answered from the store by a system that has not loaded the entity).
 */
export async function keyedCalls(target: EvolutionTarget): Promise<void> {
  const samples = { plain: [] as Sample[], keyed: [] as Sample[], repeats: [] as Sample[] };
  for (let run = 0; run < RUNS; run++) {
    const prefix = randomUUID();
    const open = () => createSystem({ store: target.store(), entities: [Counter], logger: silentLogger });
    const system = open();
    try {
      samples.plain.push(
        await drive(target.size, 256, (i) => system.call(Counter.ref(`${prefix}-p${i}`), { type: 'Increment' })),
      );
      samples.keyed.push(
        await drive(target.size, 256, (i) =>
          system.call(Counter.ref(`${prefix}-k${i}`), { type: 'Increment' }, { idempotencyKey: `req-${i}` }),
        ),
      );
    } finally {
      await system.close();
    }
    // The repeats reach a process that has not loaded the entities (a retry after a restart).
    const again = open();
    try {
      samples.repeats.push(
        await drive(target.size, 256, (i) =>
          again.call(Counter.ref(`${prefix}-k${i}`), { type: 'Increment' }, { idempotencyKey: `req-${i}` }),
        ),
      );
    } finally {
      await again.close();
    }
    process.stdout.write(
      `\r  keyed calls, ${target.name}: run ${run + 1}/${RUNS}, ${fmt(samples.plain.at(-1)?.callsPerSecond ?? 0)} plain, ${fmt(samples.keyed.at(-1)?.callsPerSecond ?? 0)} keyed, ${fmt(samples.repeats.at(-1)?.callsPerSecond ?? 0)} repeats /s   `,
    );
  }
  process.stdout.write('\n');
  keyedResults.push({
    store: target.name,
    plain: measured(samples.plain),
    keyed: measured(samples.keyed),
    repeats: measured(samples.repeats),
  });
}

/** One hot entity, 256 callers: a counter without a message schema, and with a zod one. */
export async function schemaCost(target: EvolutionTarget): Promise<void> {
  const samples = { plain: [] as Sample[], checked: [] as Sample[] };
  for (let run = 0; run < RUNS; run++) {
    const id = randomUUID();
    const plain = createSystem({ store: target.store(), entities: [Counter], logger: silentLogger });
    samples.plain.push(await drive(target.size, 256, () => plain.call(Counter.ref(id), { type: 'Increment' })));
    await plain.close();
    const checked = createSystem({ store: target.store(), entities: [CheckedCounter], logger: silentLogger });
    const ref = CheckedCounter.ref(`${id}-checked`);
    samples.checked.push(await drive(target.size, 256, () => checked.call(ref, { type: 'Increment', by: 1 })));
    await checked.close();
    process.stdout.write(
      `\r  message schema, ${target.name}: run ${run + 1}/${RUNS}, ${fmt(samples.plain.at(-1)?.callsPerSecond ?? 0)} vs ${fmt(samples.checked.at(-1)?.callsPerSecond ?? 0)} calls/s   `,
    );
  }
  process.stdout.write('\n');
  schemaResults.push({ store: target.name, plain: measured(samples.plain), checked: measured(samples.checked) });
}

/**
 * Activations of entities with `events` events each, no snapshot: written by version 1 and read by
 * version 2 (every event upcast), against written and read by version 1.
 */
export async function upcastActivation(target: EvolutionTarget, events: number, entities: number): Promise<void> {
  const write = async (definition: typeof NotesV1 | typeof NotesV2, ids: readonly string[]) => {
    const system = createSystem({
      store: target.store(),
      entities: [definition],
      snapshotEvery: 0,
      logger: silentLogger,
    });
    try {
      for (const id of ids) {
        for (let written = 0; written < events; written += 1000) {
          await (system.call as (ref: unknown, message: unknown) => Promise<unknown>)(definition.ref(id), {
            count: Math.min(1000, events - written),
          });
        }
      }
    } finally {
      await system.close();
    }
  };
  const activate = async (definition: typeof NotesV1 | typeof NotesV2, ids: readonly string[]): Promise<Sample> => {
    const system = createSystem({
      store: target.store(),
      entities: [definition],
      snapshotEvery: 0,
      logger: silentLogger,
    });
    try {
      await system.read(definition.ref(randomUUID()));
      const started = performance.now();
      for (const id of ids) await system.read(definition.ref(id));
      const ms = performance.now() - started;
      return { callsPerSecond: (events * ids.length * 1000) / ms, p50: ms / ids.length, p99: ms / ids.length };
    } finally {
      await system.close();
    }
  };
  const samples = { current: [] as Sample[], upcast: [] as Sample[] };
  for (let run = 0; run < RUNS; run++) {
    const ids = Array.from({ length: entities }, () => randomUUID());
    await write(NotesV1, ids);
    samples.current.push(await activate(NotesV1, ids));
    samples.upcast.push(await activate(NotesV2, ids));
    process.stdout.write(
      `\r  upcast activation, ${target.name}: run ${run + 1}/${RUNS}, ${fmt(samples.current.at(-1)?.callsPerSecond ?? 0)} vs ${fmt(samples.upcast.at(-1)?.callsPerSecond ?? 0)} events/s   `,
    );
  }
  process.stdout.write('\n');
  upcastResults.push({ store: target.name, current: measured(samples.current), upcast: measured(samples.upcast) });
}

const ratio = (a: Measured, b: Measured) => `${fmt(a.rate.median / b.rate.median, 2)}×`;

/** The BENCHMARKS.md section. */
export function evolutionSection(): string {
  if (keyedResults.length === 0 && upcastResults.length === 0 && schemaResults.length === 0) return '';
  const schema = schemaResults.map(
    (r) =>
      `| ${r.store} | ${range(r.plain.rate)} | ${range(r.checked.rate)} (${ratio(r.checked, r.plain)}) | ${fmt(r.plain.p50.median, 1)} / ${fmt(r.checked.p50.median, 1)} ms |`,
  );
  const keyed = keyedResults.map(
    (r) =>
      `| ${r.store} | ${range(r.plain.rate)} | ${range(r.keyed.rate)} (${ratio(r.keyed, r.plain)}) | ${range(r.repeats.rate)} (${ratio(r.repeats, r.plain)}) | ${fmt(r.plain.p50.median, 1)} / ${fmt(r.keyed.p50.median, 1)} / ${fmt(r.repeats.p50.median, 1)} ms |`,
  );
  const upcast = upcastResults.map(
    (r) =>
      `| ${r.store} | ${range(r.current.rate)} | ${range(r.upcast.rate)} (${ratio(r.upcast, r.current)}) | ${fmt(r.current.p50.median, 1)} / ${fmt(r.upcast.p50.median, 1)} ms |`,
  );
  return `## Changing safely

Idempotent calls: new entities, one \`Increment\` each at concurrency 256, without a key, with a new
key (looked up before the decision, recorded with the commit), and the same keys again from a
system that has not loaded the entities (answered from the store: a key lookup and a fold of the
log to the answer's version; \`handle\` is not called). Ratios to the calls without a key.

| Store | Without a key (calls/s) | With a key | Repeats | p50 plain / keyed / repeat |
| --- | --- | --- | --- | --- |
${keyed.join('\n')}

Upcasting: activating entities of 2,000 events each without a snapshot, written by version 1,
read by version 1 (no upcast) and by version 2 (every event upcast to a new shape, which then goes
through JSON like any event). Events folded per second.

| Store | Current version | Upcast from version 1 | Per activation, current / upcast |
| --- | --- | --- | --- |
${upcast.join('\n')}

Message schemas: one hot entity, 256 concurrent callers, the same counter without a
\`messageSchema\` and with a zod one (\`z.object\` with a literal and a defaulted integer),
checked in \`system.call\` before routing.

| Store | Without a schema (calls/s) | With a zod schema | p50 without / with |
| --- | --- | --- | --- |
${schema.join('\n')}
`;
}
