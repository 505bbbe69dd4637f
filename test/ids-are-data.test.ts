/**
 * Guarantee 6: ids and type names are data. Quotes, SQL fragments, `__proto__` and emoji are
 * stored verbatim and harm nothing, on every store (memory, SQLite, PostgreSQL).
 *
 * Each id names its own log (ids that differ only in quoting, escaping, case, Unicode
 * normalisation or white space never share one); entity types with the same id share the log by
 * design, since the id alone names it. Events come back verbatim, also after a restart, also
 * through snapshots. Invalid ids are refused with INVALID_ID before the store is touched.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  type Decision,
  defineEffect,
  defineEntity,
  type EntityRef,
  ErrorCode,
  isPachydermError,
  ok,
  type Store,
  type System,
} from 'pachyderm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from './support/entities.js';
import { type StoreKind, type StorePlace, storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

/** 255 bytes of UTF-8: the longest id allowed. */
const longestId = `${'é'.repeat(127)}x`;
/** 255 bytes again, of 4-byte characters. */
const longestEmojiId = `${'🐘'.repeat(63)}abc`;

const typeNames = [
  '__proto__',
  'constructor',
  "'; DROP TABLE x; --",
  '"quoted"',
  '🐘 Elephant',
  `${'é'.repeat(127)}t`,
] as const;

/** Valid ids, many of them differing from another only in what a careless store might fold. */
const ids = [
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'prototype',
  "' OR 1=1 --",
  "Robert'); DROP TABLE pachyderm_events;--",
  'x"; DROP TABLE "events"; --',
  '"double"',
  'double',
  "'",
  "''",
  'back\\slash',
  'back\\\\slash',
  '\\',
  '%',
  '_',
  '*',
  '?',
  '$1',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the id is the text itself
  '${id}',
  '🐘💾',
  '\u00e9', // é, composed
  'e\u0301', // é, decomposed
  'A',
  'a',
  'x',
  'x ',
  ' x',
  '\t\n\r',
  '\u0001',
  '\u2028',
  '\ufeff',
  'null',
  'undefined',
  '0',
  longestId,
  longestEmojiId,
];

interface NoteState {
  /** The type that folded this state: a snapshot read by the wrong type would show it. */
  readonly reader: string;
  readonly count: number;
  readonly notes: Readonly<Record<string, unknown>>;
  readonly by: readonly string[];
}
interface NoteMessage {
  readonly key: string;
  readonly note: unknown;
}
interface NoteEvent {
  readonly by: string;
  readonly key: string;
  readonly note: unknown;
}

interface EffectRun {
  readonly ref: EntityRef;
  readonly version: number;
  readonly key: string;
  readonly payload: unknown;
}
const Noted = defineEffect('__proto__', (payload: { key: string }, ctx) => {
  // The context is this file's own (an array), whatever the application's Register declares.
  (ctx.context as unknown as EffectRun[]).push({
    ref: ctx.ref,
    version: ctx.version,
    key: ctx.idempotencyKey,
    payload,
  });
});

/**
 * An entity of the given type that records notes under keys. Entities of every type fold events
 * the same way, so that types sharing a log agree on its state.
 */
function noteEntity(type: string, snapshotVersion: string | number = 1) {
  return defineEntity({
    type,
    snapshotVersion,
    init: (): NoteState => ({ reader: type, count: 0, notes: {}, by: [] }),
    handle(message: NoteMessage, _state: NoteState): Decision<NoteEvent, never> {
      return ok([{ by: type, key: message.key, note: message.note }], [Noted.with({ key: message.key })]);
    },
    update(event: NoteEvent, state: NoteState): NoteState {
      // A computed key makes an own property, also for "__proto__".
      const notes = { ...state.notes, [event.key]: event.note };
      return { ...state, count: state.count + 1, notes, by: [...state.by, event.by] };
    },
  });
}

const types = typeNames.map((name) => noteEntity(name));
/** The same types, reading without snapshots: they fold every event of the log. */
const typesFromEvents = typeNames.map((name) => noteEntity(name, 'ignore snapshots'));

type Note = ReturnType<typeof noteEntity>;
const typeAt = (i: number) => types[i % types.length] as Note;

/** A store that remembers every stream id that reached it. */
function watched(store: Store): { store: Store; streamIds: unknown[] } {
  const streamIds: unknown[] = [];
  return {
    streamIds,
    store: {
      ...store,
      kind: store.kind,
      open: () => store.open(),
      retain: () => store.retain(),
      release: () => store.release(),
      commit(request) {
        for (const append of request.appends) streamIds.push(append.streamId);
        return store.commit(request);
      },
      readStreams(requests, limit) {
        for (const { streamId } of requests) streamIds.push(streamId);
        return store.readStreams(requests, limit);
      },
      readLogs(requests, limit) {
        for (const { streamId } of requests) streamIds.push(streamId);
        return store.readLogs(requests, limit);
      },
      writeSnapshot(streamId, entityType, snapshot) {
        streamIds.push(streamId);
        return store.writeSnapshot(streamId, entityType, snapshot);
      },
    },
  };
}

/** Every event in the place, counted with the database's own client (undefined for memory). */
async function countAllEvents(place: StorePlace): Promise<number | undefined> {
  const { address } = place;
  if (address.kind === 'sqlite') {
    const db = new Database(address.filename as string, { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM pachyderm_events').pluck().get() as number;
    } finally {
      db.close();
    }
  }
  if (address.kind === 'postgres') {
    const client = new pg.Client({ connectionString: address.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${address.schema}".events`);
      return rows[0]?.n;
    } finally {
      await client.end();
    }
  }
  return undefined;
}

async function eventsOf(system: System, ref: EntityRef<string, never, unknown, NoteEvent>) {
  const events: { version: number; event: NoteEvent }[] = [];
  for await (const { version, event } of system.events(ref)) events.push({ version, event });
  return events;
}

/** The error an operation fails with, whether it throws at once or rejects later. */
async function failure(operation: () => unknown): Promise<unknown> {
  try {
    const result = operation();
    if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
      for await (const _ of result as AsyncIterable<unknown>) {
        // drain
      }
    } else {
      await result;
    }
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to fail');
}

/** A payload of strings and keys that trip up quoting, escaping, JSON and prototypes. */
function nastyPayload(): unknown {
  const strings = [
    ...ids,
    ...typeNames,
    '\u0000',
    'a\u0000b',
    '\ud800', // lone surrogates survive: JSON escapes them
    'x\udfffy',
    '\udc00\ud800',
    '\\u0000', // the six characters, not NUL
    '\\ud800',
    '\u2028\u2029',
    '\u007f\u0080\u009f',
    '\b\f\n\r\t\v',
    '</script>',
    '\'"`',
    '',
  ];
  // JSON.parse makes own "__proto__" keys, as a payload from the wire would.
  const tricky = JSON.parse(
    '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, "prototype": null,' +
      ' "hasOwnProperty": "not a function", "toString": 1, "": "empty key", "\\u0000": "NUL key", "🐘": ["💾"]}',
  ) as Record<string, unknown>;
  return {
    strings,
    keys: Object.fromEntries(strings.map((s, i) => [s, i])),
    tricky,
    nested: [[tricky, { [ids[0] as string]: tricky }], -0.5, 1e21, true, null],
  };
}

const isPolluted = () => 'polluted' in {} || 'polluted' in Object.prototype;

describe.each(storeKinds)('ids and type names are data on %s', (kind: StoreKind) => {
  const effectErrors: unknown[] = [];
  afterEach(() => {
    expect(effectErrors.splice(0)).toEqual([]);
  });
  function start(place: StorePlace, options: { fromEvents?: boolean; effects?: EffectRun[] } = {}) {
    const system = running.start({
      store: place.newStore(),
      entities: options.fromEvents ? typesFromEvents : types,
      effects: [Noted],
      context: (options.effects ?? []) as never,
      snapshotEvery: 2,
      onEffectError: (error) => effectErrors.push(error),
    });
    return system;
  }

  it('accepts every such id as valid', () => {
    expect(new Set(ids).size).toBe(ids.length);
    expect(Buffer.byteLength(longestId)).toBe(255);
    expect(Buffer.byteLength(longestEmojiId)).toBe(255);
    for (const id of ids) expect(typeAt(0).ref(id)).toStrictEqual({ type: '__proto__', id });
  });

  it('gives each id its own log, verbatim, also after a restart', async () => {
    const place = await running.place(kind);
    const effects: EffectRun[] = [];
    const system = start(place, { effects });
    // Id i gets (i % 4) + 1 events from type i: ids that shared a log would show each other's.
    const calls = (i: number) => (i % 4) + 1;
    const expectedEvents = (i: number) =>
      Array.from({ length: calls(i) }, (_, n) => ({
        version: n + 1,
        event: { by: typeAt(i).type, key: `k${n}`, note: { id: ids[i], n } },
      }));
    await Promise.all(
      ids.map(async (id, i) => {
        for (let n = 0; n < calls(i); n++) {
          const result = await system.call(typeAt(i).ref(id), { key: `k${n}`, note: { id, n } });
          expect(result).toMatchObject({ ok: true, version: n + 1 });
        }
      }),
    );

    const expectedState = (i: number) => ({
      state: {
        reader: typeAt(i).type,
        count: calls(i),
        notes: Object.fromEntries(Array.from({ length: calls(i) }, (_, n) => [`k${n}`, { id: ids[i], n }])),
        by: Array.from({ length: calls(i) }, () => typeAt(i).type),
      },
      version: calls(i),
    });
    for (const [i, id] of ids.entries()) {
      const events = await eventsOf(system, typeAt(i).ref(id));
      expect(events, JSON.stringify(id)).toEqual(expectedEvents(i));
      expect(await system.read(typeAt(i).ref(id))).toEqual(expectedState(i));
    }
    await system.close();

    // Effects saw the ref exactly as called, and keys made of the id verbatim.
    expect(effects).toHaveLength(ids.reduce((sum, _, i) => sum + calls(i), 0));
    for (const run of effects) {
      const i = ids.indexOf(run.ref.id);
      expect(run.ref).toStrictEqual({ type: typeAt(i).type, id: ids[i] });
      expect(run.key).toBe(`${ids[i]}:${run.version}:0`);
    }
    if (kind !== 'memory') expect(await countAllEvents(place)).toBe(effects.length);

    // A new store object on the same place: same logs, same state (from snapshots and from events).
    const restarted = start(place);
    const fromEvents = start(place, { fromEvents: true });
    for (const [i, id] of ids.entries()) {
      expect(await eventsOf(restarted, typeAt(i).ref(id))).toEqual(expectedEvents(i));
      expect(await restarted.read(typeAt(i).ref(id))).toEqual(expectedState(i));
      const replayed = typesFromEvents[i % types.length] as Note;
      expect(await fromEvents.read(replayed.ref(id))).toEqual(expectedState(i));
    }
    // And the logs keep growing where they stopped.
    for (const [i, id] of ids.entries()) {
      expect(await restarted.call(typeAt(i).ref(id), { key: 'again', note: id })).toMatchObject({
        ok: true,
        version: calls(i) + 1,
      });
    }
  });

  it('lets entity types with the same id share its log, since the id alone names it', async () => {
    const place = await running.place(kind);
    const system = start(place);
    const shared = ["Robert'); DROP TABLE pachyderm_events;--", '__proto__', '🐘💾', longestId];
    for (const id of shared) {
      for (const [t, type] of types.entries()) {
        expect(await system.call(type.ref(id), { key: type.type, note: t })).toMatchObject({
          ok: true,
          version: t + 1,
        });
      }
    }
    const expected = (reader: string) => ({
      state: {
        reader,
        count: types.length,
        notes: Object.fromEntries(typeNames.map((name, t) => [name, t])),
        by: [...typeNames],
      },
      version: types.length,
    });
    // Own keys named "__proto__" and "constructor": compare the JSON too, key order included.
    const same = (actual: unknown, reader: string) => {
      expect(actual).toEqual(expected(reader));
      expect(JSON.stringify(actual)).toBe(JSON.stringify(expected(reader)));
    };
    for (const id of shared) {
      for (const type of types) same(await system.read(type.ref(id)), type.type);
      expect((await eventsOf(system, typeAt(0).ref(id))).map((e) => e.event.by)).toEqual([...typeNames]);
    }
    await system.close();

    const restarted = start(place);
    const fromEvents = start(place, { fromEvents: true });
    for (const id of shared) {
      for (const [t, type] of types.entries()) {
        same(await restarted.read(type.ref(id)), type.type);
        same(await fromEvents.read((typesFromEvents[t] as Note).ref(id)), type.type);
      }
    }
    expect(isPolluted()).toBe(false);
  });

  it('returns payloads of such strings and keys verbatim, and pollutes no prototype', async () => {
    const place = await running.place(kind);
    const system = start(place);
    const payload = nastyPayload();
    const text = JSON.stringify(payload);
    const refs = ids.slice(0, 12).map((id, i) => typeAt(i).ref(id));
    for (const ref of refs) {
      // Under the key "__proto__": an own property of the state's notes, not its prototype.
      const result = await system.call(ref, { key: '__proto__', note: payload });
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      expect(JSON.stringify(result.state.notes)).toBe(`{"__proto__":${text}}`);
      expect(Object.getPrototypeOf(result.state.notes)).toBe(Object.prototype);
      expect(Object.hasOwn(result.state.notes, '__proto__')).toBe(true);
    }
    const check = async (reader: System) => {
      for (const ref of refs) {
        const [recorded, ...rest] = await eventsOf(reader, ref);
        expect(rest).toEqual([]);
        const event = recorded?.event as NoteEvent;
        expect(JSON.stringify(event.note)).toBe(text);
        expect(event.note).toEqual(payload);
        const tricky = (event.note as { tricky: object }).tricky;
        expect(Object.getPrototypeOf(tricky)).toBe(Object.prototype);
        expect(Object.getOwnPropertyDescriptor(tricky, '__proto__')?.value).toEqual({ polluted: 'yes' });
        const { state } = await reader.read(ref);
        expect(JSON.stringify(state.notes)).toBe(`{"__proto__":${text}}`);
        expect(Object.getPrototypeOf(state.notes)).toBe(Object.prototype);
      }
      expect(isPolluted()).toBe(false);
    };
    await check(system);
    await system.close();
    await check(start(place));
    await check(start(place, { fromEvents: true }));
  });

  it('answers unregistered type names such as "constructor" with UNKNOWN_ENTITY_TYPE', async () => {
    const place = await running.place(kind);
    const system = running.start({ store: place.newStore(), entities: [Ledger] });
    for (const type of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', "Ledger' --"]) {
      const ref = { type, id: 'x' } as unknown as ReturnType<typeof Ledger.ref>;
      const called = await failure(() => system.call(ref, { type: 'Record', callId: 'c' }));
      expect(isPachydermError(called, ErrorCode.UnknownEntityType), String(called)).toBe(true);
      const read = await failure(() => system.read(ref));
      expect(isPachydermError(read, ErrorCode.UnknownEntityType), String(read)).toBe(true);
    }
    expect(await system.read(Ledger.ref('x'))).toEqual({ state: { count: 0 }, version: 0 });
    expect(await system.call(Ledger.ref('x'), { type: 'Record', callId: 'c' })).toMatchObject({ version: 1 });
  });

  it('refuses invalid ids with INVALID_ID, commits nothing and keeps serving', async () => {
    const place = await running.place(kind);
    const { store, streamIds } = watched(place.newStore());
    const system = running.start({
      store,
      entities: [Ledger, ...types],
      effects: [Noted],
      context: [] as never,
      onEffectError: (error) => effectErrors.push(error),
    });
    const ref = Ledger.ref(randomUUID());
    await system.call(ref, { type: 'Record', callId: 'before' });
    const invalid: [string, unknown][] = [
      ['empty', ''],
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
      ['an object', {}],
      ['a String object', new String('x')],
      ['256 bytes', `${'é'.repeat(127)}xy`],
      ['256 ASCII bytes', 'x'.repeat(256)],
      ['256 emoji bytes', '🐘'.repeat(64)],
      ['very long', 'x'.repeat(100_000)],
      ['NUL', 'a\u0000b'],
      ['only NUL', '\u0000'],
      ['a lone high surrogate', '\ud800'],
      ['a lone low surrogate', 'a\udc00'],
      ['reversed surrogates', '\udc00\ud800'],
    ];
    expect(Buffer.byteLength(invalid[6]?.[1] as string)).toBe(256);
    let valid = 1;
    for (const [what, id] of invalid) {
      for (const definition of [Ledger, typeAt(0)]) {
        // A ref is plain data and never throws; the system refuses the id when the ref is used.
        const bad = definition.ref(id as string) as unknown as typeof ref;
        expect(bad).toStrictEqual({ type: definition.type, id });
        const message = definition === Ledger ? { type: 'Record', callId: what } : { key: what, note: what };
        // Valid calls run alongside the refused ones, and are unaffected by them.
        const outcomes = await Promise.all([
          failure(() => system.call(bad, message as never)),
          failure(() => system.read(bad)),
          failure(() => system.events(bad)),
          system.call(ref, { type: 'Record', callId: `${what} ${definition.type}` }),
        ]);
        for (const outcome of outcomes.slice(0, 3)) {
          expect(isPachydermError(outcome, ErrorCode.InvalidId), `${what}: ${String(outcome)}`).toBe(true);
        }
        expect(outcomes[3]).toMatchObject({ ok: true, version: ++valid });
      }
    }
    const nullRef = await failure(() => system.call(null as unknown as typeof ref, { type: 'Record', callId: 'n' }));
    expect(isPachydermError(nullRef, ErrorCode.InvalidId)).toBe(true);

    // No invalid id reached the store; only the valid calls were committed.
    expect(new Set(streamIds)).toEqual(new Set([ref.id]));
    expect(await system.read(ref)).toEqual({ state: { count: valid }, version: valid });
    const logged = (await eventsOf(system, ref as never)).map((e) => e.version);
    expect(logged).toEqual(Array.from({ length: valid }, (_, i) => i + 1));
    if (kind !== 'memory') expect(await countAllEvents(place)).toBe(valid);
    // And it keeps serving, also ids that look like the refused ones made valid.
    for (const id of ['x', 'ab', `${'é'.repeat(127)}x`, '\ud800\udc00']) {
      expect(await system.call(typeAt(0).ref(id), { key: 'k', note: id })).toMatchObject({ ok: true, version: 1 });
    }
  });
});
