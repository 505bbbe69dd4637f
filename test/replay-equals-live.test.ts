/**
 * Guarantee 4: live state equals replayed state. `update` is applied to the events as decoded from
 * their stored form, so the state after a call deep-equals the state rebuilt after a restart
 * (Dates become strings on both paths, `undefined` fields drop on both paths). A property test
 * checks this over random command sequences on every store: with snapshots disabled, with a
 * snapshot every 3 events (the rebuilt state comes from a snapshot plus later events) and with
 * the default settings; and across a change of the definition's `eventVersion` half way (the events
 * written before it are upcast; a snapshot written before it is not used).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { createSystem, defineEntity, type Logger, ok } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import {
  appliedCount,
  type Command,
  command,
  Notebook,
  type NotebookState,
  notebook,
  resetApplied,
} from './support/notebook.js';
import { eventsOf, snapshotOf, withStore } from './support/reads.js';
import { type StorePlace, storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

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

    resetApplied();
    const read = await rebuiltSystem.read(ref);
    expect(appliedCount()).toBe(live.version - snapshotAt);
    resetApplied();
    // Activates a worker: it loads the same way, and answers without committing.
    const peeked = await rebuiltSystem.call(ref, { type: 'Peek' });
    expect(appliedCount()).toBe(live.version - snapshotAt);

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

/**
 * Runs `commands` up to `split` through the notebook at eventVersion 1, the rest through a new
 * system at eventVersion 2 on the same place, then rebuilds it at eventVersion 2: the version-2
 * system's first load equals the version-1 live state, and the rebuilt state the final live one.
 */
async function checkAcrossVersions(
  place: StorePlace,
  snapshotEvery: number,
  commands: readonly Command[],
  split: number,
  stats: { runs: number; upcastTagged: number; newTagged: number },
): Promise<void> {
  const { logger, warnings } = recordingLogger();
  const id = randomUUID();
  const ref = Notebook.ref(id);
  let live: { state: NotebookState; version: number } = { state: Notebook.init(), version: 0 };
  let oldEvents = 0;
  for (const [eventVersion, part] of [
    [1, commands.slice(0, split)],
    [2, commands.slice(split)],
  ] as const) {
    const system = createSystem({ store: place.newStore(), entities: [notebook(eventVersion)], snapshotEvery, logger });
    try {
      if (eventVersion === 2) {
        oldEvents = live.version;
        expect(await system.read(ref), 'the upcast log folds to the state version 1 left').toEqual(live);
      }
      for (const message of part) {
        const result = await system.call(ref, message);
        if (result.ok) live = { state: result.state, version: result.version };
      }
    } finally {
      await system.close();
    }
  }
  const stored = await withStore(place, (store) => eventsOf(store, id));
  expect(stored.map((event) => event.eventVersion)).toEqual(
    stored.map((event) => (event.version <= oldEvents ? 1 : 2)),
  );
  const tagged = stored.filter((event) => (JSON.parse(event.data) as { type: string }).type === 'Tagged');
  if (tagged.some((event) => event.eventVersion === 1)) stats.upcastTagged++;
  if (tagged.some((event) => event.eventVersion === 2)) stats.newTagged++;

  const rebuilt = createSystem({ store: place.newStore(), entities: [notebook(2)], snapshotEvery, logger });
  try {
    expect(await rebuilt.read(ref)).toEqual(live);
    expect(await rebuilt.call(ref, { type: 'Peek' })).toEqual({ ok: true, ...live, position: '' });
  } finally {
    await rebuilt.close();
  }
  expect(warnings).toEqual([]);
  stats.runs++;
}

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

describe.each(storeKinds)('replayed state equals live state across an eventVersion change on %s', (kind) => {
  it.each([
    { label: 'with snapshots disabled', snapshotEvery: 0 },
    { label: 'with a snapshot every 3 events', snapshotEvery: 3 },
  ])(
    'holds for random command sequences $label',
    async ({ snapshotEvery }) => {
      const place = await places.place(kind);
      const stats = { runs: 0, upcastTagged: 0, newTagged: 0 };
      const tagged = (...tags: string[]) => ({ type: 'Tag' as const, id: 'a', tags });
      const added: Command = { type: 'Add', id: 'a', title: 't', at: 0, extra: null };
      await fc.assert(
        fc.asyncProperty(
          fc.array(command, { minLength: 2, maxLength: 30, size: 'medium' }),
          fc.array(command, { minLength: 2, maxLength: 30, size: 'medium' }),
          (before, after) =>
            // A tag before and after the change, so that both kinds of Tagged event are there.
            checkAcrossVersions(
              place,
              snapshotEvery,
              [added, tagged('x', 'y'), ...before, ...after, tagged('z')],
              2 + before.length,
              stats,
            ),
        ),
        { numRuns: 30 },
      );
      expect(stats.runs).toBe(30);
      expect(stats.upcastTagged).toBe(30);
      expect(stats.newTagged).toBeGreaterThan(0);
    },
    120_000,
  );
});
