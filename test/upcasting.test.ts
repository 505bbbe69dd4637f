/**
 * Changing events: every event is stored with the `eventVersion` of the definition that wrote it,
 * and events of an older version are brought to the current shape by `upcast` on every read path
 * (activation, catch-up after a conflict, snapshots, time travel, `system.events`, follow,
 * subscribe, projections, reactors). An upcast that throws, or an event newer than the code, is a
 * typed error that commits nothing. On memory, SQLite and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import {
  defineEntity,
  defineProjection,
  defineReactor,
  ErrorCode,
  isPachydermError,
  ok,
  sql,
  UpcastError,
} from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { eventsOf, withStore } from './support/reads.js';
import { storeKinds, useSystems } from './support/systems.js';

/** Version 1: deposits in euros, `{ amount }`. */
const WalletV1 = defineEntity({
  type: 'Wallet',
  init: () => ({ cents: 0, deposits: 0 }),
  handle: (message: { type: 'Deposit'; amount: number }, _state) =>
    ok([{ type: 'Deposited' as const, amount: message.amount }]),
  update: (event, state) => ({ cents: state.cents + event.amount * 100, deposits: state.deposits + 1 }),
});

/** Upcasts seen, and a switch that makes the upcast of a 13 throw. */
const upcasts: { storedVersion: number; amount: unknown }[] = [];
let refuseThirteen = false;

/**
 * Version 2: deposits in cents with a currency, `{ cents, currency }`. Its `update` refuses the old
 * shape, so an event that reaches it without `upcast` fails loudly. The state keeps its shape.
 */
const WalletV2 = defineEntity({
  type: 'Wallet',
  eventVersion: 2,
  upcast(event, storedVersion) {
    upcasts.push({ storedVersion, amount: event.amount });
    if (refuseThirteen && event.amount === 13) throw new Error('thirteen is unlucky');
    return { type: 'Deposited' as const, cents: event.amount * 100, currency: 'EUR' };
  },
  init: () => ({ cents: 0, deposits: 0 }),
  handle: (message: { type: 'Deposit'; cents: number; currency: string }, _state) =>
    ok([{ type: 'Deposited' as const, cents: message.cents, currency: message.currency }]),
  update(event, state) {
    if (typeof event.cents !== 'number' || typeof event.currency !== 'string' || 'amount' in event) {
      throw new Error(`update saw an event of the old shape: ${JSON.stringify(event)}`);
    }
    return { cents: state.cents + event.cents, deposits: state.deposits + 1 };
  },
});

const v2 = (cents: number) => ({ type: 'Deposited' as const, cents, currency: 'EUR' });

describe.each(storeKinds)('upcasting on %s', (kind) => {
  const { place, start } = useSystems();

  /** A wallet with deposits of these euros written by version 1, on a fresh place. */
  async function writtenByV1(amounts: readonly number[], options: { snapshotEvery?: number } = {}) {
    const where = await place(kind);
    const old = start({ store: where.newStore(), entities: [WalletV1], ...options });
    const id = randomUUID();
    for (const amount of amounts) await old.call(WalletV1.ref(id), { type: 'Deposit', amount });
    await old.close();
    upcasts.length = 0;
    return { where, ref: WalletV2.ref(id) };
  }

  it('folds events of version 1 through upcast on activation, and stores new events under version 2', async () => {
    const { where, ref } = await writtenByV1([1, 2, 3]);
    const system = start({ store: where.newStore(), entities: [WalletV2] });
    expect(await system.read(ref)).toEqual({ state: { cents: 600, deposits: 3 }, version: 3 });
    expect(upcasts).toEqual([1, 2, 3].map((amount) => ({ storedVersion: 1, amount })));
    const result = await system.call(ref, { type: 'Deposit', cents: 50, currency: 'EUR' });
    expect(result).toMatchObject({ ok: true, state: { cents: 650, deposits: 4 }, version: 4 });
    const stored = await withStore(where, (store) => eventsOf(store, ref.id));
    expect(stored.map((event) => [event.version, event.eventVersion])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
    // Only older events are upcast: the new one is read as it was written.
    upcasts.length = 0;
    const again = start({ store: where.newStore(), entities: [WalletV2] });
    expect(await again.read(ref)).toEqual({ state: { cents: 650, deposits: 4 }, version: 4 });
    expect(upcasts).toHaveLength(3);
  });

  it('does not use a snapshot written under an older eventVersion', async () => {
    // Version 1 snapshots every 2 events: at version 2, { cents: 300 }. Version 2 means the same
    // state, but a fix in its upcast (below) gives the old events another meaning: the snapshot
    // folded by the old code must not be used.
    const { where, ref } = await writtenByV1([1, 2, 3], { snapshotEvery: 2 });
    const Fixed = defineEntity({ ...configOf(WalletV2), upcast: (event) => v2(event.amount * 10) });
    const system = start({ store: where.newStore(), entities: [Fixed], snapshotEvery: 2 });
    expect(await system.read(ref)).toEqual({ state: { cents: 60, deposits: 3 }, version: 3 });
    // Its own snapshots are used: at version 4 one is written under version 2's schema.
    await system.call(ref, { type: 'Deposit', cents: 4, currency: 'EUR' });
    await system.settled();
    let folded = 0;
    const Counting = defineEntity({
      ...configOf(Fixed),
      update: (event, state) => {
        folded++;
        return Fixed.update(event, state);
      },
    });
    const later = start({ store: where.newStore(), entities: [Counting], snapshotEvery: 2 });
    expect(await later.read(ref)).toEqual({ state: { cents: 64, deposits: 4 }, version: 4 });
    expect(folded).toBe(0);
  });

  it('upcasts what another writer appended when a loaded copy catches up after a conflict', async () => {
    const { where, ref } = await writtenByV1([1]);
    // A store object with a second user: the system cannot tell that others commit, so its loaded
    // copy goes stale unnoticed and its next append conflicts.
    const shared = where.newStore();
    shared.retain();
    try {
      const system = start({ store: shared, entities: [WalletV2], snapshotEvery: 0 });
      await system.call(ref, { type: 'Deposit', cents: 5, currency: 'EUR' });
      // Code of version 1 still runs somewhere (a rolling deploy) and appends behind this copy's back.
      await withStore(where, (store) =>
        store.commit({
          appends: [
            {
              streamId: ref.id,
              expectedVersion: 2,
              events: ['{"type":"Deposited","amount":7}'],
              entityType: 'Wallet',
              eventVersion: 1,
            },
          ],
          recordedAt: Date.now(),
        }),
      );
      upcasts.length = 0;
      const result = await system.call(ref, { type: 'Deposit', cents: 1, currency: 'EUR' });
      expect(result).toMatchObject({ ok: true, state: { cents: 100 + 5 + 700 + 1, deposits: 4 }, version: 4 });
      expect((await system.stats()).conflicts).toBe(1);
      expect(upcasts).toEqual([{ storedVersion: 1, amount: 7 }]);
      // The old code cannot read the new events: it refuses rather than fold what it does not know.
      const old = start({ store: where.newStore(), entities: [WalletV1] });
      const refused = await old.call(WalletV1.ref(ref.id), { type: 'Deposit', amount: 7 }).catch((error) => error);
      expect(isPachydermError(refused, ErrorCode.EventVersionAhead)).toBe(true);
    } finally {
      await shared.release();
    }
  });

  it('gives upcast events to time travel, system.events, follow and subscribe', async () => {
    const { where, ref } = await writtenByV1([1, 2]);
    const system = start({ store: where.newStore(), entities: [WalletV2] });
    await system.call(ref, { type: 'Deposit', cents: 3, currency: 'EUR' });
    expect(await system.read(ref, { at: 1 })).toEqual({ state: { cents: 100, deposits: 1 }, version: 1 });
    const events = [];
    for await (const recorded of system.events(ref)) events.push(recorded.event);
    expect(events).toEqual([v2(100), v2(200), v2(3)]);
    const followed = [];
    const stop = new AbortController();
    for await (const event of system.follow(ref, { signal: stop.signal })) {
      followed.push([event.event, event.state.cents]);
      if (followed.length === 3) stop.abort();
    }
    expect(followed).toEqual([
      [v2(100), 100],
      [v2(200), 300],
      [v2(3), 303],
    ]);
    const subscribed = [];
    for await (const event of system.subscribe({ entities: [WalletV2] })) {
      if (event.ref.id === ref.id) subscribed.push(event.event);
      if (subscribed.length === 3) break;
    }
    expect(subscribed).toEqual([v2(100), v2(200), v2(3)]);
  });

  it('gives upcast events to reactors', async () => {
    const { where, ref } = await writtenByV1([4, 5]);
    const seen: unknown[] = [];
    const Auditor = defineReactor({
      name: `auditor-${randomUUID()}`,
      entities: [WalletV2],
      handle(event, meta) {
        if (meta.ref.id === ref.id) seen.push(event);
      },
    });
    const system = start({ store: where.newStore(), entities: [WalletV2], reactors: [Auditor] });
    const last = await system.call(ref, { type: 'Deposit', cents: 6, currency: 'EUR' });
    await system.projection(Auditor).waitFor(last.ok ? last.position : '');
    expect(seen).toEqual([v2(400), v2(500), v2(6)]);
  });

  it.skipIf(kind === 'memory')('gives upcast events to projections', async () => {
    const { where, ref } = await writtenByV1([8, 9]);
    const Cents = defineProjection({
      name: `cents-${randomUUID()}`,
      entities: [WalletV2],
      setup: [
        sql`CREATE TABLE IF NOT EXISTS wallet_cents (id TEXT NOT NULL, version INTEGER NOT NULL, cents INTEGER NOT NULL)`,
      ],
      handle: (event, meta) => [
        sql`INSERT INTO wallet_cents (id, version, cents) VALUES (${meta.ref.id}, ${meta.version}, ${event.cents})`,
      ],
    });
    const system = start({ store: where.newStore(), entities: [WalletV2], projections: [Cents] });
    const last = await system.call(ref, { type: 'Deposit', cents: 10, currency: 'EUR' });
    await system.projection(Cents).waitFor(last.ok ? last.position : '');
    const rows = await system.query(sql`SELECT version, cents FROM wallet_cents WHERE id = ${ref.id} ORDER BY version`);
    expect(rows.map((row) => [Number(row.version), Number(row.cents)])).toEqual([
      [1, 800],
      [2, 900],
      [3, 10],
    ]);
  });

  it('reports an upcast that throws as UPCAST_THREW with the entity and versions, commits nothing, and serves the next message', async () => {
    const { where, ref } = await writtenByV1([5, 13]);
    const system = start({ store: where.newStore(), entities: [WalletV2] });
    refuseThirteen = true;
    try {
      const failed = await system.call(ref, { type: 'Deposit', cents: 1, currency: 'EUR' }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(UpcastError);
      expect(failed).toMatchObject({
        code: 'UPCAST_THREW',
        ref: { type: 'Wallet', id: ref.id },
        version: 2,
        storedEventVersion: 1,
        eventVersion: 2,
      });
      const message = (failed as Error).message;
      for (const part of ['Wallet', ref.id, 'event 2', 'eventVersion 1', 'thirteen is unlucky']) {
        expect(message).toContain(part);
      }
      expect((failed as Error).cause).toBeInstanceOf(Error);
      expect(await withStore(where, (store) => eventsOf(store, ref.id))).toHaveLength(2);
      // Other entities of the type are served meanwhile.
      const other = await system.call(WalletV2.ref(randomUUID()), { type: 'Deposit', cents: 2, currency: 'EUR' });
      expect(other).toMatchObject({ ok: true, version: 1 });
    } finally {
      refuseThirteen = false;
    }
    const next = await system.call(ref, { type: 'Deposit', cents: 1, currency: 'EUR' });
    expect(next).toMatchObject({ ok: true, state: { cents: 1801, deposits: 3 }, version: 3 });
  });

  it('hands update what upcast returns as JSON gives it back, on the first load and after a restart alike', async () => {
    const { where, ref } = await writtenByV1([2]);
    const seen: unknown[] = [];
    const Dated = defineEntity({
      ...configOf(WalletV2),
      // A Date, and a field holding undefined: as a stored event, a string and no field.
      upcast: (event) => ({ ...v2(event.amount * 100), at: new Date(Date.UTC(2026, 0, 2)), note: undefined }),
      update: (event, state) => {
        seen.push(event);
        return WalletV2.update(event, state);
      },
    });
    const expected = { ...v2(200), at: '2026-01-02T00:00:00.000Z' };
    expect(await start({ store: where.newStore(), entities: [Dated] }).read(ref)).toMatchObject({ version: 1 });
    expect(await start({ store: where.newStore(), entities: [Dated] }).read(ref)).toMatchObject({ version: 1 });
    expect(seen).toStrictEqual([expected, expected]);
    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('refuses an event stored under a newer eventVersion than the code knows (EVENT_VERSION_AHEAD)', async () => {
    const where = await place(kind);
    const ref = WalletV2.ref(randomUUID());
    const system = start({ store: where.newStore(), entities: [WalletV2] });
    await system.call(ref, { type: 'Deposit', cents: 1, currency: 'EUR' });
    const old = start({ store: where.newStore(), entities: [WalletV1] });
    const failed = await old.read(WalletV1.ref(ref.id)).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'EVENT_VERSION_AHEAD', version: 1, storedEventVersion: 2, eventVersion: 1 });
    expect((failed as Error).message).toContain('newer');
  });
});

describe('eventVersion and upcast in a definition', () => {
  it('refuses an eventVersion that is not a whole number >= 1, and an upcast that is not a function', () => {
    for (const eventVersion of [0, -1, 1.5, Number.NaN, '2', null]) {
      expect(() => defineEntity({ ...configOf(WalletV1), eventVersion: eventVersion as number })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
      );
    }
    expect(() => defineEntity({ ...configOf(WalletV1), upcast: 'no' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
    );
    expect(WalletV1.eventVersion).toBe(1);
    expect(WalletV1.upcast({ a: 1 }, 1)).toEqual({ a: 1 });
  });
});

/** A definition's config, to define a variant of it. */
function configOf<T extends { type: string }>(definition: T): Omit<T, 'kind' | 'ref' | 'snapshotVersion'> {
  const {
    kind: _kind,
    ref: _ref,
    snapshotVersion: _snapshot,
    ...config
  } = definition as T & {
    kind: unknown;
    ref: unknown;
    snapshotVersion: unknown;
  };
  return config;
}
