/**
 * Guarantee 4: live state equals replayed state. `update` is applied to the events as decoded from
 * their stored form, so the state after a call deep-equals the state rebuilt after a restart
 * (Dates become strings on both paths, `undefined` fields drop on both paths). A property test
 * checks this over random command sequences on every store: with snapshots disabled, with a
 * snapshot every 3 events (the rebuilt state comes from a snapshot plus later events) and with
 * the default settings.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { createSystem, type Decision, defineEntity, error, type Logger, ok } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { snapshotOf } from './support/reads.js';
import { type StorePlace, storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

/** `update` calls since the last reset: the events a load folded. */
let applied = 0;

/** In an event as `handle` returns it: a Date. In an event as `update` sees it: an ISO string. */
type Instant = Date | string;

type Command =
  | { type: 'Add'; id: string; title: string; tags?: string[]; note?: string; at: number; extra: unknown }
  | { type: 'Rename'; id: string; title: string; at: number }
  | { type: 'SetField'; id: string; key: string; value?: unknown; at: number }
  | { type: 'Tag'; id: string; tags: string[] }
  | { type: 'Score'; id: string; delta: number }
  | { type: 'Touch'; ids: string[]; at: number }
  | { type: 'Remove'; id: string; reason?: string | null; at: number }
  | { type: 'Peek' };

type NotebookEvent =
  | {
      type: 'Added';
      id: string;
      title: string;
      tags: string[];
      note?: string;
      at: Instant;
      extra: unknown;
      meta: unknown;
    }
  | { type: 'Renamed'; id: string; from: string; to: string; at: Instant }
  | { type: 'FieldSet'; id: string; key: string; value?: unknown; at: Instant }
  | { type: 'Tagged'; id: string; tags: string[] }
  | { type: 'Scored'; id: string; delta: number }
  | { type: 'Touched'; id: string; at: Instant; seq: number }
  | { type: 'FieldsCleared'; id: string; keys: string[] }
  | { type: 'Removed'; id: string; reason?: string | null; at: Instant };

type Reason = { code: 'exists' | 'missing' | 'empty-title' | 'no-new-tags' | 'overflow'; id?: string };

interface Doc {
  readonly id: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly note?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly score: number;
  readonly extra: unknown;
  readonly meta: unknown;
  readonly renames: readonly { readonly from: string; readonly to: string; readonly at: string }[];
  readonly touches: number;
}

interface NotebookState {
  readonly docs: readonly Doc[];
  readonly removed: readonly {
    readonly id: string;
    readonly title: string;
    readonly reason?: string | null;
    readonly fields: readonly string[];
    readonly at: string;
  }[];
  readonly applied: number;
  readonly lastAt: string | null;
}

/** `update` sees events as decoded from JSON: no Date, no `undefined`, no -0 anywhere. */
function assertDecoded(value: unknown, path = 'event'): void {
  if (value === undefined) throw new Error(`update saw undefined at ${path}`);
  if (value instanceof Date) throw new Error(`update saw a Date at ${path}`);
  if (Object.is(value, -0)) throw new Error(`update saw -0 at ${path}`);
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) assertDecoded(item, `${path}.${key}`);
  }
}

function iso(at: Instant): string {
  if (typeof at !== 'string') throw new Error('update saw an instant that is not a string');
  return at;
}

function handleNotebook(message: Command, state: NotebookState): Decision<NotebookEvent, Reason> {
  const find = (id: string) => state.docs.find((doc) => doc.id === id);
  switch (message.type) {
    case 'Peek':
      return ok([]);
    case 'Add': {
      if (message.title === '') return error({ code: 'empty-title' });
      if (find(message.id)) return error({ code: 'exists', id: message.id });
      const at = new Date(message.at);
      return ok([
        {
          type: 'Added',
          id: message.id,
          title: message.title,
          tags: message.tags ?? [],
          note: message.note,
          at,
          extra: message.extra,
          meta: {
            by: 'handle',
            nothing: undefined,
            when: [at, undefined, null],
            nested: { deeper: { at, tagCount: (message.tags ?? []).length, none: undefined } },
          },
        },
      ]);
    }
    case 'Rename': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      if (doc.title === message.title) return ok([]);
      return ok([{ type: 'Renamed', id: doc.id, from: doc.title, to: message.title, at: new Date(message.at) }]);
    }
    case 'SetField': {
      if (!find(message.id)) return error({ code: 'missing', id: message.id });
      return ok([
        { type: 'FieldSet', id: message.id, key: message.key, value: message.value, at: new Date(message.at) },
      ]);
    }
    case 'Tag': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      const fresh = [...new Set(message.tags)].filter((tag) => !doc.tags.includes(tag));
      if (fresh.length === 0) return error({ code: 'no-new-tags', id: doc.id });
      return ok([{ type: 'Tagged', id: doc.id, tags: fresh }]);
    }
    case 'Score': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      if (!Number.isFinite(doc.score + message.delta)) return error({ code: 'overflow', id: doc.id });
      return ok([{ type: 'Scored', id: doc.id, delta: message.delta }]);
    }
    case 'Touch': {
      // One event per existing id (duplicates included); none: accepted with no events.
      const at = new Date(message.at);
      const touched = message.ids.filter((id) => find(id));
      return ok(touched.map((id, seq) => ({ type: 'Touched' as const, id, at, seq })));
    }
    case 'Remove': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      return ok([
        { type: 'FieldsCleared', id: doc.id, keys: Object.keys(doc.fields) },
        { type: 'Removed', id: doc.id, reason: message.reason, at: new Date(message.at) },
      ]);
    }
  }
}

function updateNotebook(event: NotebookEvent, state: NotebookState): NotebookState {
  applied++;
  assertDecoded(event);
  const change = (id: string, f: (doc: Doc) => Doc) => {
    if (!state.docs.some((doc) => doc.id === id)) throw new Error(`no document ${JSON.stringify(id)}`);
    return state.docs.map((doc) => (doc.id === id ? f(doc) : doc));
  };
  const next = { applied: state.applied + 1 };
  switch (event.type) {
    case 'Added': {
      const at = iso(event.at);
      const doc: Doc = {
        id: event.id,
        title: event.title,
        tags: event.tags,
        note: event.note,
        createdAt: at,
        updatedAt: at,
        fields: {},
        score: 0,
        extra: event.extra,
        meta: event.meta,
        renames: [],
        touches: 0,
      };
      return { ...state, ...next, docs: [...state.docs, doc], lastAt: at };
    }
    case 'Renamed': {
      const at = iso(event.at);
      const docs = change(event.id, (doc) => ({
        ...doc,
        title: event.to,
        renames: [...doc.renames, { from: event.from, to: event.to, at }],
        updatedAt: at,
      }));
      return { ...state, ...next, docs, lastAt: at };
    }
    case 'FieldSet': {
      const at = iso(event.at);
      const docs = change(event.id, (doc) => {
        // An undefined value was dropped from the stored event: it clears the field.
        const { [event.key]: _old, ...rest } = doc.fields;
        const fields = 'value' in event ? { ...rest, [event.key]: event.value } : rest;
        return { ...doc, fields, updatedAt: at };
      });
      return { ...state, ...next, docs, lastAt: at };
    }
    case 'Tagged':
      return { ...state, ...next, docs: change(event.id, (doc) => ({ ...doc, tags: [...doc.tags, ...event.tags] })) };
    case 'Scored':
      return { ...state, ...next, docs: change(event.id, (doc) => ({ ...doc, score: doc.score + event.delta })) };
    case 'Touched': {
      const at = iso(event.at);
      const docs = change(event.id, (doc) => ({ ...doc, touches: doc.touches + 1, updatedAt: at }));
      return { ...state, ...next, docs, lastAt: at };
    }
    case 'FieldsCleared':
      return { ...state, ...next, docs: change(event.id, (doc) => ({ ...doc, fields: {} })) };
    case 'Removed': {
      const at = iso(event.at);
      const doc = state.docs.find((d) => d.id === event.id);
      if (!doc) throw new Error(`no document ${JSON.stringify(event.id)}`);
      if (Object.keys(doc.fields).length > 0) throw new Error('fields were not cleared first');
      return {
        ...state,
        ...next,
        docs: state.docs.filter((d) => d.id !== event.id),
        removed: [
          ...state.removed,
          { id: doc.id, title: doc.title, reason: event.reason, fields: Object.keys(doc.fields), at },
        ],
        lastAt: at,
      };
    }
  }
}

/** A small document store whose events carry Dates, `undefined`, nested values and unicode. */
const Notebook = defineEntity<'Notebook', NotebookState, Command, Decision<NotebookEvent, Reason>>({
  type: 'Notebook',
  init: () => ({ docs: [], removed: [], applied: 0, lastAt: null }),
  handle: handleNotebook,
  update: updateNotebook,
});

// Arbitraries.

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(
    '',
    'é',
    'e\u0301',
    '🐘',
    '👩‍👩‍👧',
    '中文',
    'ß',
    '\u0000',
    '\ud800',
    'a\udfffb',
    '\u2028\u2029',
    '"\\/',
    '__proto__',
    'constructor',
  ),
);
const finite = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 0.1, 1e21, 1e-7, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2),
);
/** Milliseconds any Date can hold. */
const instant = fc.integer({ min: -8.64e15, max: 8.64e15 });
const leaf = fc.oneof(
  text,
  finite,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: true }),
);
const { value } = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
}));
/** Few document ids, so that commands meet each other's documents. */
const docId = fc.constantFrom('a', 'b', 'ü', '🐘', '');
const key = fc.oneof(fc.constantFrom('a', 'b', 'ключ', '🔑', '', '__proto__'), text);

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record(
      {
        type: fc.constant('Add' as const),
        id: docId,
        title: text,
        tags: fc.array(text, { maxLength: 3 }),
        note: fc.option(text, { nil: undefined }),
        at: instant,
        extra: value,
      },
      { requiredKeys: ['type', 'id', 'title', 'at', 'extra'] },
    ),
    weight: 4,
  },
  { arbitrary: fc.record({ type: fc.constant('Rename' as const), id: docId, title: text, at: instant }), weight: 2 },
  {
    arbitrary: fc.record(
      { type: fc.constant('SetField' as const), id: docId, key, value, at: instant },
      { requiredKeys: ['type', 'id', 'key', 'at'] },
    ),
    weight: 3,
  },
  {
    arbitrary: fc.record({ type: fc.constant('Tag' as const), id: docId, tags: fc.array(text, { maxLength: 3 }) }),
    weight: 1,
  },
  { arbitrary: fc.record({ type: fc.constant('Score' as const), id: docId, delta: finite }), weight: 1 },
  {
    arbitrary: fc.record({
      type: fc.constant('Touch' as const),
      ids: fc.array(docId, { maxLength: 5 }),
      at: instant,
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record(
      {
        type: fc.constant('Remove' as const),
        id: docId,
        reason: fc.option(fc.option(text, { nil: null }), { nil: undefined }),
        at: instant,
      },
      { requiredKeys: ['type', 'id', 'at'] },
    ),
    weight: 1,
  },
  { arbitrary: fc.constant({ type: 'Peek' as const }), weight: 1 },
);

function recordingLogger(): { logger: Logger; warnings: { message: string; fields?: unknown }[] } {
  const warnings: { message: string; fields?: unknown }[] = [];
  const record = (message: string, fields?: Record<string, unknown>) => {
    warnings.push({ message, fields });
  };
  return { warnings, logger: { debug() {}, info() {}, warn: record, error: record } };
}

/** The path of the first Date instance inside a value, if any. */
function findDate(value: unknown, path = 'state'): string | undefined {
  if (value instanceof Date) return path;
  if (value !== null && typeof value === 'object') {
    for (const [k, item] of Object.entries(value)) {
      const found = findDate(item, `${path}.${k}`);
      if (found) return found;
    }
  }
  return undefined;
}

interface Stats {
  runs: number;
  accepted: number;
  rejected: number;
  multiEventCommits: number;
  /** Runs whose rebuilt state came from a snapshot plus later events. */
  snapshotPlusEvents: number;
  /** Runs whose rebuilt state came from a snapshot alone. */
  snapshotOnly: number;
}

/**
 * Runs the commands through one system, then rebuilds the entity in a new system on a new store
 * object on the same place, and checks that the rebuilt state and version equal the live ones.
 */
async function checkReplayEqualsLive(
  place: StorePlace,
  snapshotEvery: number | undefined,
  commands: readonly Command[],
  stats: Stats,
): Promise<void> {
  const { logger, warnings } = recordingLogger();
  const options = snapshotEvery === undefined ? { logger } : { snapshotEvery, logger };
  const every = snapshotEvery ?? 100;
  const id = randomUUID();
  const ref = Notebook.ref(id);

  const liveSystem = createSystem({ store: place.newStore(), entities: [Notebook], ...options });
  let live: { state: NotebookState; version: number } = { state: Notebook.init(), version: 0 };
  const states = new Map<number, NotebookState>([[0, live.state]]);
  let snapshotAt = 0;
  try {
    for (const message of commands) {
      const result = await liveSystem.call(ref, message);
      if (!result.ok) {
        stats.rejected++;
        continue;
      }
      stats.accepted++;
      if (result.version > live.version + 1) stats.multiEventCommits++;
      if (every > 0 && Math.floor(result.version / every) > Math.floor(live.version / every)) {
        snapshotAt = result.version;
      }
      live = { state: result.state, version: result.version };
      states.set(live.version, live.state);
    }
  } finally {
    // Waits for snapshot writes too.
    await liveSystem.close();
  }
  expect(findDate(live.state)).toBeUndefined();

  const store = place.newStore();
  const rebuiltSystem = createSystem({ store, entities: [Notebook], ...options });
  try {
    await store.open();
    const snapshot = await snapshotOf(store, id, Notebook.type, Notebook.snapshotVersion);
    if (snapshotAt === 0) {
      expect(snapshot).toBeUndefined();
    } else {
      expect(snapshot).toMatchObject({ schemaVersion: Notebook.snapshotVersion, version: snapshotAt });
      expect(JSON.parse(snapshot?.state ?? 'null')).toEqual(states.get(snapshotAt));
      if (snapshotAt < live.version) stats.snapshotPlusEvents++;
      else stats.snapshotOnly++;
    }

    applied = 0;
    const read = await rebuiltSystem.read(ref);
    expect(applied).toBe(live.version - snapshotAt);
    applied = 0;
    // Activates a worker: it loads the same way, and answers without committing.
    const peeked = await rebuiltSystem.call(ref, { type: 'Peek' });
    expect(applied).toBe(live.version - snapshotAt);

    expect(read).toEqual(live);
    expect(peeked).toEqual({ ok: true, ...live, position: '' });
    if (snapshotAt === 0) {
      // Rebuilt from the events alone: the same `update` on the same decoded events, so equal
      // strictly too (own keys holding undefined included). Node's check, not toStrictEqual:
      // that one compares `.constructor`, which a generated key "constructor" shadows.
      expect(isDeepStrictEqual(read, live), 'read strictly equals live').toBe(true);
      expect(isDeepStrictEqual(peeked, { ok: true, ...live, position: '' }), 'peek strictly equals live').toBe(true);
    }
  } finally {
    await rebuiltSystem.close();
  }
  expect(warnings).toEqual([]);
  stats.runs++;
}

/** 98 events in two commits, so that random commands after it cross the default 100. */
const nearlyHundred: readonly Command[] = [
  { type: 'Add', id: 'a', title: 'prefix', at: 0, extra: { big: 'x'.repeat(1000), when: new Date(0) } },
  { type: 'Touch', ids: Array.from({ length: 97 }, () => 'a'), at: 1 },
];

const settings: readonly {
  label: string;
  snapshotEvery: number | undefined;
  prefix: readonly Command[];
  numRuns: number;
}[] = [
  { label: 'with snapshots disabled', snapshotEvery: 0, prefix: [], numRuns: 50 },
  { label: 'with a snapshot every 3 events', snapshotEvery: 3, prefix: [], numRuns: 50 },
  { label: 'with the default settings, after 98 events', snapshotEvery: undefined, prefix: nearlyHundred, numRuns: 30 },
];

describe.each(storeKinds)('replayed state equals live state on %s', (kind) => {
  it.each(settings)(
    'holds for random command sequences $label',
    async ({ snapshotEvery, prefix, numRuns }) => {
      const place = await places.place(kind);
      const stats: Stats = {
        runs: 0,
        accepted: 0,
        rejected: 0,
        multiEventCommits: 0,
        snapshotPlusEvents: 0,
        snapshotOnly: 0,
      };
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40, size: 'medium' }), (commands) =>
          checkReplayEqualsLive(place, snapshotEvery, [...prefix, ...commands], stats),
        ),
        { numRuns },
      );
      // The generator reaches the interesting cases.
      expect(stats.runs).toBe(numRuns);
      expect(stats.accepted).toBeGreaterThan(0);
      expect(stats.rejected).toBeGreaterThan(0);
      expect(stats.multiEventCommits).toBeGreaterThan(0);
      if (snapshotEvery !== 0) expect(stats.snapshotPlusEvents).toBeGreaterThan(0);
    },
    120_000,
  );

  it('hands update a Date in an event as its ISO string on the live path, and drops undefined fields', async () => {
    const place = await places.place(kind);
    const seen: unknown[] = [];
    const at = Date.UTC(2026, 1, 3, 4, 5, 6, 789);
    const Stamp = defineEntity({
      type: 'Stamp',
      init: () => ({ at: null as unknown, kind: 'none', hasNote: false }),
      handle: (message: { at: number; note?: string }, _state) =>
        ok([
          {
            at: new Date(message.at),
            note: message.note,
            nested: { when: new Date(message.at), gone: undefined },
            list: [new Date(message.at), undefined],
          },
        ]),
      update(event, _state) {
        seen.push(event);
        return { at: event.at as unknown, kind: typeof event.at, hasNote: 'note' in event };
      },
    });
    const system = createSystem({ store: place.newStore(), entities: [Stamp] });
    const ref = Stamp.ref(randomUUID());
    const expectedState = { at: '2026-02-03T04:05:06.789Z', kind: 'string', hasNote: false };
    try {
      const result = await system.call(ref, { at, note: undefined });
      expect(seen).toStrictEqual([
        {
          at: '2026-02-03T04:05:06.789Z',
          nested: { when: '2026-02-03T04:05:06.789Z' },
          list: ['2026-02-03T04:05:06.789Z', null],
        },
      ]);
      expect(result).toStrictEqual({ ok: true, state: expectedState, version: 1, position: expect.any(String) });
      const events = [];
      for await (const recorded of system.events(ref)) events.push(recorded.event);
      expect(events).toStrictEqual(seen);
    } finally {
      await system.close();
    }

    // The replay path sees the same event and rebuilds the same state.
    seen.length = 0;
    const again = createSystem({ store: place.newStore(), entities: [Stamp] });
    try {
      expect(await again.read(ref)).toStrictEqual({ state: expectedState, version: 1 });
      expect(seen).toStrictEqual([
        {
          at: '2026-02-03T04:05:06.789Z',
          nested: { when: '2026-02-03T04:05:06.789Z' },
          list: ['2026-02-03T04:05:06.789Z', null],
        },
      ]);
    } finally {
      await again.close();
    }
  });
});
