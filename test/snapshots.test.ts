/**
 * Snapshots: every `snapshotEvery` events (default 100) the system writes the state; activation
 * reads the latest snapshot of the definition's `snapshotVersion` and folds only the later events.
 * Replayed events are counted by counting `update` calls on a fresh system (a new store object on
 * the same place, as after a restart).
 */
import { randomUUID } from 'node:crypto';
import {
  createSystem,
  defineEntity,
  type EntityDefinition,
  ErrorCode,
  isPachydermError,
  type Logger,
  ok,
  type StoredSnapshot,
  type SystemOptions,
} from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { snapshotOf as readSnapshot, withStore } from './support/reads.js';
import { type StorePlace, storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

/** `update` calls since the last reset: the events a load folded. */
let applied = 0;

interface TallyState {
  readonly count: number;
  readonly total: number;
  readonly amounts: readonly number[];
}

type TallyMessage = { type: 'Add'; amount: number } | { type: 'AddMany'; amounts: number[] } | { type: 'Peek' };

/** A tally; `Peek` records nothing (activating the worker without changing the log). */
function tally(snapshotVersion?: number | string) {
  return defineEntity({
    type: 'Tally',
    snapshotVersion,
    init: (): TallyState => ({ count: 0, total: 0, amounts: [] }),
    handle(message: TallyMessage, _state) {
      if (message.type === 'Peek') return ok([]);
      if (message.type === 'AddMany') return ok(message.amounts.map((amount) => ({ amount })));
      return ok([{ amount: message.amount }]);
    },
    update(event, state): TallyState {
      applied++;
      return { count: state.count + 1, total: state.total + event.amount, amounts: [...state.amounts, event.amount] };
    },
  });
}

const Tally = tally();

/** The state after amounts 1..n. */
function tallyAfter(n: number): TallyState {
  const amounts = Array.from({ length: n }, (_, i) => i + 1);
  return { count: n, total: (n * (n + 1)) / 2, amounts };
}

interface LogLine {
  readonly level: keyof Logger;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const record = (level: keyof Logger) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, message, fields });
  };
  return {
    lines,
    logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
  };
}

const warningsOf = (lines: readonly LogLine[]) =>
  lines.filter((line) => line.level === 'warn' || line.level === 'error');

describe.each(storeKinds)('snapshots on %s', (kind) => {
  type Options = Omit<SystemOptions, 'store' | 'entities'>;

  /** Sends `messages` one by one through a system of its own, then closes it (awaiting snapshot writes). */
  async function run<M, S>(
    place: StorePlace,
    definition: EntityDefinition<string, S, M>,
    id: string,
    messages: readonly M[],
    options: Options = {},
  ): Promise<{ state: S; version: number }> {
    const system = createSystem({ store: place.newStore(), entities: [definition], ...options });
    const ref = definition.ref(id);
    let last: { state: S; version: number } | undefined;
    try {
      for (const message of messages) {
        const result = await system.call(ref, message);
        if (!result.ok) throw new Error(`rejected: ${JSON.stringify(result.error)}`);
        last = { state: result.state as S, version: result.version };
      }
    } finally {
      await system.close();
    }
    if (!last) throw new Error('no messages');
    return last;
  }

  /**
   * Activates the entity on a fresh system twice: by `read` and by a call that records nothing
   * (loading a worker). Answers what each saw and how many events each folded.
   */
  async function activate<S>(
    place: StorePlace,
    definition: EntityDefinition<string, S, { type: 'Peek' }>,
    id: string,
    options: Options = {},
  ) {
    const system = createSystem({ store: place.newStore(), entities: [definition], ...options });
    const ref = definition.ref(id);
    try {
      applied = 0;
      const read = await system.read(ref);
      const replayedByRead = applied;
      applied = 0;
      const called = await system.call(ref, { type: 'Peek' });
      const replayedByCall = applied;
      return { read, replayedByRead, called, replayedByCall };
    } finally {
      await system.close();
    }
  }

  /** The stored snapshot under a schema version, read through a store object of its own. */
  const snapshotOf = (place: StorePlace, id: string, type: string, schemaVersion = '1') =>
    withStore(place, (store) => readSnapshot(store, id, type, schemaVersion));

  const adds = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => ({ type: 'Add' as const, amount: from + i }));

  it('after 25 calls with snapshotEvery 10, activation folds only the 5 events after the snapshot at 20', async () => {
    const place = await places.place(kind);
    const { logger, lines } = recordingLogger();
    const id = randomUUID();
    const live = await run(place, Tally, id, adds(1, 25), { snapshotEvery: 10, logger });
    expect(live).toEqual({ state: tallyAfter(25), version: 25 });

    const snapshot = await snapshotOf(place, id, 'Tally');
    expect(snapshot).toMatchObject({ schemaVersion: '1', version: 20 });
    expect(JSON.parse((snapshot as StoredSnapshot).state)).toEqual(tallyAfter(20));

    const activated = await activate(place, Tally, id, { snapshotEvery: 10, logger });
    expect(activated.read).toEqual(live);
    expect(activated.replayedByRead).toBe(5);
    expect(activated.called).toEqual({ ok: true, ...live, position: '' });
    expect(activated.replayedByCall).toBe(5);
    expect(warningsOf(lines)).toEqual([]);
  });

  it('by default writes a snapshot every 100 events: after 120 calls activation folds 20 events', async () => {
    const place = await places.place(kind);
    const { logger, lines } = recordingLogger();
    const id = randomUUID();
    const live = await run(place, Tally, id, adds(1, 120), { logger });
    expect(live).toEqual({ state: tallyAfter(120), version: 120 });

    expect(await snapshotOf(place, id, 'Tally')).toMatchObject({ schemaVersion: '1', version: 100 });
    const activated = await activate(place, Tally, id, { logger });
    expect(activated.read).toEqual(live);
    expect(activated.replayedByRead).toBe(20);
    expect(activated.called).toEqual({ ok: true, ...live, position: '' });
    expect(activated.replayedByCall).toBe(20);
    expect(warningsOf(lines)).toEqual([]);
  });

  it('writes no snapshot before the first multiple: 99 calls by default are all replayed', async () => {
    const place = await places.place(kind);
    const id = randomUUID();
    const live = await run(place, Tally, id, adds(1, 99));
    expect(await snapshotOf(place, id, 'Tally')).toBeUndefined();
    const activated = await activate(place, Tally, id);
    expect(activated.read).toEqual(live);
    expect(activated.replayedByRead).toBe(99);
  });

  it('ignores snapshots written under another snapshotVersion and replays the whole log', async () => {
    const place = await places.place(kind);
    const { logger, lines } = recordingLogger();
    const id = randomUUID();
    await run(place, Tally, id, adds(1, 25), { snapshotEvery: 10, logger });
    expect(await snapshotOf(place, id, 'Tally')).toMatchObject({ schemaVersion: '1', version: 20 });

    // The same type name, a new shape version: the snapshot at 20 is not trusted.
    const TallyV2 = tally(2);
    expect(TallyV2.type).toBe(Tally.type);
    const activated = await activate(place, TallyV2, id, { snapshotEvery: 10, logger });
    expect(activated.read).toEqual({ state: tallyAfter(25), version: 25 });
    expect(activated.replayedByRead).toBe(25);
    expect(activated.called).toEqual({ ok: true, state: tallyAfter(25), version: 25, position: '' });
    expect(activated.replayedByCall).toBe(25);

    // Crossing the next multiple under version 2 replaces the snapshot with one of version 2...
    const live = await run(place, TallyV2, id, adds(26, 31), { snapshotEvery: 10, logger });
    expect(live).toEqual({ state: tallyAfter(31), version: 31 });
    expect(await snapshotOf(place, id, 'Tally')).toBeUndefined();
    expect(await snapshotOf(place, id, 'Tally', '2')).toMatchObject({ schemaVersion: '2', version: 30 });
    const again = await activate(place, TallyV2, id, { snapshotEvery: 10, logger });
    expect(again.read).toEqual(live);
    expect(again.replayedByRead).toBe(1);

    // ...which the old definition ignores in turn.
    const old = await activate(place, Tally, id, { snapshotEvery: 10, logger });
    expect(old.read).toEqual(live);
    expect(old.replayedByRead).toBe(31);
    expect(warningsOf(lines)).toEqual([]);
  });

  it('writes no snapshot with snapshotEvery 0: activation replays every event', async () => {
    const place = await places.place(kind);
    const { logger, lines } = recordingLogger();
    const id = randomUUID();
    const live = await run(place, Tally, id, adds(1, 25), { snapshotEvery: 0, logger });
    expect(await snapshotOf(place, id, 'Tally')).toBeUndefined();
    // Even a system that would snapshot finds none to start from.
    const activated = await activate(place, Tally, id, { snapshotEvery: 10, logger });
    expect(activated.read).toEqual(live);
    expect(activated.replayedByRead).toBe(25);
    expect(activated.replayedByCall).toBe(25);
    expect(await snapshotOf(place, id, 'Tally')).toBeUndefined();
    expect(warningsOf(lines)).toEqual([]);
  });

  it('snapshots at the version of a commit of several events that crosses a multiple', async () => {
    const place = await places.place(kind);
    const id = randomUUID();
    // 8 single events, then 4 in one commit: 8 -> 12 crosses 10, so the snapshot is at 12.
    const live = await run(
      place,
      Tally,
      id,
      [...adds(1, 8), { type: 'AddMany', amounts: [9, 10, 11, 12] }, ...adds(13, 15)],
      {
        snapshotEvery: 10,
      },
    );
    expect(live).toEqual({ state: tallyAfter(15), version: 15 });
    const snapshot = await snapshotOf(place, id, 'Tally');
    expect(snapshot).toMatchObject({ schemaVersion: '1', version: 12 });
    expect(JSON.parse((snapshot as StoredSnapshot).state)).toEqual(tallyAfter(12));
    const activated = await activate(place, Tally, id, { snapshotEvery: 10 });
    expect(activated.read).toEqual(live);
    expect(activated.replayedByRead).toBe(3);
  });

  /** A state JSON cannot hold exactly is never snapshotted; the entity replays its log and a warning says so. */
  async function checkUnsnapshottable<S>(
    definition: EntityDefinition<string, S, { type: 'Add'; amount: number } | { type: 'Peek' }>,
    expected: (n: number) => S,
  ) {
    const place = await places.place(kind);
    const { logger, lines } = recordingLogger();
    const id = randomUUID();
    const other = randomUUID();
    const live = await run(place, definition, id, adds(1, 5), { snapshotEvery: 2, logger });
    expect(live).toEqual({ state: expected(5), version: 5 });
    // Another entity of the type in the same system is not snapshotted either, and no new warning.
    const system = createSystem({ store: place.newStore(), entities: [definition], snapshotEvery: 2, logger });
    for (const message of adds(1, 4)) await system.call(definition.ref(id), message);
    for (const message of adds(1, 4)) await system.call(definition.ref(other), message);
    await system.close();

    expect(await snapshotOf(place, id, definition.type)).toBeUndefined();
    expect(await snapshotOf(place, other, definition.type)).toBeUndefined();
    const warnings = warningsOf(lines);
    // One warning per system that met the state (the first run's, then the second's).
    expect(warnings).toHaveLength(2);
    for (const warning of warnings) {
      expect(warning.level).toBe('warn');
      expect(warning.message).toMatch(/snapshot/);
      expect(warning.fields?.entityType).toBe(definition.type);
      const cause = warning.fields?.error;
      expect(isPachydermError(cause) && cause.code).toBe(ErrorCode.NotSerializable);
    }

    const activated = await activate(place, definition, id, { snapshotEvery: 2, logger });
    expect(activated.read).toEqual({ state: expected(9), version: 9 });
    expect(activated.replayedByRead).toBe(9);
    expect(activated.called).toEqual({ ok: true, state: expected(9), version: 9, position: '' });
    expect(activated.replayedByCall).toBe(9);
  }

  it('never snapshots a state holding a Date object, and rebuilds it from the events', async () => {
    const epoch = Date.UTC(2030, 0, 1);
    const Dated = defineEntity({
      type: 'Dated',
      init: () => ({ stamps: [] as Date[] }),
      handle(message: { type: 'Add'; amount: number } | { type: 'Peek' }, _state) {
        if (message.type === 'Peek') return ok([]);
        return ok([{ at: new Date(epoch + message.amount) }]);
      },
      update(event, state) {
        applied++;
        // The event holds an ISO string; the state holds a Date, which JSON would turn into a string.
        return { stamps: [...state.stamps, new Date(event.at)] };
      },
    });
    await checkUnsnapshottable(Dated, (n) => ({
      stamps: [...[1, 2, 3, 4, 5], ...[1, 2, 3, 4]].slice(0, n).map((i) => new Date(epoch + i)),
    }));
  });

  it('never snapshots a state holding a Map, and rebuilds it from the events', async () => {
    const Mapped = defineEntity({
      type: 'Mapped',
      init: () => ({ byAmount: new Map<number, number>() }),
      handle(message: { type: 'Add'; amount: number } | { type: 'Peek' }, _state) {
        if (message.type === 'Peek') return ok([]);
        return ok([{ amount: message.amount }]);
      },
      update(event, state) {
        applied++;
        const byAmount = new Map(state.byAmount);
        byAmount.set(event.amount, (byAmount.get(event.amount) ?? 0) + 1);
        return { byAmount };
      },
    });
    await checkUnsnapshottable(Mapped, (n) => {
      const byAmount = new Map<number, number>();
      for (const amount of [...[1, 2, 3, 4, 5], ...[1, 2, 3, 4]].slice(0, n)) {
        byAmount.set(amount, (byAmount.get(amount) ?? 0) + 1);
      }
      return { byAmount };
    });
  });

  it('never snapshots a state holding undefined in an array, and rebuilds it from the events', async () => {
    const Memos = defineEntity({
      type: 'Memos',
      init: () => ({ memos: [] as (string | undefined)[] }),
      handle(message: { type: 'Add'; amount: number } | { type: 'Peek' }, _state) {
        if (message.type === 'Peek') return ok([]);
        return ok([{ memo: message.amount % 2 === 0 ? `even ${message.amount}` : undefined }]);
      },
      update(event, state) {
        applied++;
        // An optional field appended to an array: undefined live, null after a JSON round trip.
        return { memos: [...state.memos, event.memo] };
      },
    });
    await checkUnsnapshottable(Memos, (n) => ({
      memos: [...[1, 2, 3, 4, 5], ...[1, 2, 3, 4]].slice(0, n).map((i) => (i % 2 === 0 ? `even ${i}` : undefined)),
    }));
  });

  it('never snapshots a state holding a class instance, and rebuilds it from the events', async () => {
    class Money {
      constructor(readonly cents: number) {}
      plus(cents: number): Money {
        return new Money(this.cents + cents);
      }
    }
    const Wallet = defineEntity({
      type: 'Wallet',
      init: () => ({ balance: new Money(0) }),
      handle(message: { type: 'Add'; amount: number } | { type: 'Peek' }, _state) {
        if (message.type === 'Peek') return ok([]);
        return ok([{ cents: message.amount }]);
      },
      update(event, state) {
        applied++;
        return { balance: state.balance.plus(event.cents) };
      },
    });
    await checkUnsnapshottable(Wallet, (n) => ({
      balance: new Money([...[1, 2, 3, 4, 5], ...[1, 2, 3, 4]].slice(0, n).reduce((a, b) => a + b, 0)),
    }));
  });
});
