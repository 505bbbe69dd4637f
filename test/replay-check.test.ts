/**
 * `checkReplay` (pachyderm/testing) on memory, SQLite and PostgreSQL: among thousands of stored
 * entities it finds the one whose log the new definition cannot fold, with the code and versions;
 * it reports every log folding when they do, replays a uniform sample when asked, compares the
 * state with the recorded snapshots, and writes nothing (no writing method called, every table as
 * it was). Options that cannot work are `INVALID_CONFIGURATION`.
 *
 * The logs are written through `store.commit`, as three versions of the code would have: two
 * events under eventVersion 1 (`{ amount }` in euros), one under eventVersion 2 (`{ cents }`).
 */
import { defineEntity, ErrorCode, isPachydermError, memoryStore, ok, type Store } from 'pachyderm';
import type { StreamAppend } from 'pachyderm/store';
import { checkReplay, type ReplayReport } from 'pachyderm/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { dumpOf } from './support/dumps.js';
import { type StorePlace, storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

const ACCOUNTS = 3000;
/** The one account with an event the strict upcast cannot read: an amount stored as text. */
const BAD = 'acc-1717';
const accountId = (i: number) => `acc-${String(i).padStart(4, '0')}`;

/** An account as the new code defines it: eventVersion 2, amounts in cents; older events upcast. */
function account(type: string, amountOf: (amount: unknown) => number) {
  return defineEntity({
    type,
    eventVersion: 2,
    init: () => ({ cents: 0, deposits: 0 }),
    handle: (message: { type: 'Deposit'; cents: number }) => ok([{ type: 'Deposited' as const, cents: message.cents }]),
    update(event, state) {
      if (event.type !== 'Deposited') throw new Error(`unknown event ${JSON.stringify(event)}`);
      return { cents: state.cents + event.cents, deposits: state.deposits + 1 };
    },
    upcast: (event, storedVersion) =>
      storedVersion === 1 ? { type: 'Deposited' as const, cents: amountOf(event.amount) * 100 } : event,
  });
}

/** The upcast as first written: an amount must be a number. */
const strict = (amount: unknown) => {
  if (typeof amount !== 'number') throw new Error(`amount ${JSON.stringify(amount)} is not a number`);
  return amount;
};
/** The upcast fixed: an amount stored as text is read as the number it says. */
const lenient = (amount: unknown) => Number(amount);

const Account = account('Account', strict);
const AccountFixed = account('Account', lenient);
/** Purses hold the snapshots; no check of accounts is given them. */
const Purse = account('Purse', strict);

/** Every account's log: 1 and 2 euros under eventVersion 1, then 300 cents under 2. */
const ACCOUNT_STATE = { cents: 600, deposits: 3 };

const v1 = (amount: unknown) => JSON.stringify({ type: 'Deposited', amount });
const v2 = (cents: number) => JSON.stringify({ type: 'Deposited', cents });

function append(entityType: string, streamId: string, expectedVersion: number, events: string[], eventVersion = 1) {
  return { entityType, streamId, expectedVersion, events, eventVersion } satisfies StreamAppend;
}

/** Commits appends (at most one per log in each) in transactions of 500. */
async function commitAll(store: Store, appends: readonly StreamAppend[]): Promise<void> {
  for (let i = 0; i < appends.length; i += 500) {
    const results = await store.commit({ appends: appends.slice(i, i + 500), recordedAt: 1_700_000_000_000 });
    expect(results.every((r) => r.ok)).toBe(true);
  }
}

/**
 * 3,000 accounts of three events, the bad one with a fourth; four purses with snapshots: one that
 * disagrees (written under eventVersion 1), one that agrees (under 2, keys in another order), one of
 * another snapshotVersion (not compared), one past the end of its log; and logs of a type no check names.
 */
async function seed(store: Store): Promise<void> {
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => accountId(i));
  await commitAll(
    store,
    ids.map((id) => append('Account', id, 0, [v1(1), v1(2)])),
  );
  await commitAll(
    store,
    ids.map((id) => append('Account', id, 2, [v2(300)], 2)),
  );
  await commitAll(store, [append('Account', BAD, 3, [v1('7')])]);
  const purses = ['p-differs', 'p-agrees', 'p-other-schema', 'p-past-end'];
  await commitAll(store, [
    ...purses.map((id) => append('Purse', id, 0, [v1(1), v1(2)])),
    ...['o-1', 'o-2'].map((id) => append('Other', id, 0, ['"anything"'])),
  ]);
  await commitAll(
    store,
    purses.map((id) => append('Purse', id, 2, [v2(300)], 2)),
  );
  await store.writeSnapshot('p-differs', 'Purse', {
    schemaVersion: '1',
    version: 2,
    state: JSON.stringify({ cents: 3, deposits: 2 }),
  });
  await store.writeSnapshot('p-agrees', 'Purse', {
    schemaVersion: '1/e2',
    version: 3,
    state: JSON.stringify({ deposits: 3, cents: 600 }),
  });
  await store.writeSnapshot('p-other-schema', 'Purse', { schemaVersion: '0', version: 3, state: '{"wrong":true}' });
  await store.writeSnapshot('p-past-end', 'Purse', {
    schemaVersion: '1/e2',
    version: 9,
    state: JSON.stringify({ cents: 9, deposits: 9 }),
  });
}

/** The failure the strict upcast gives the bad account. */
const badAccount = {
  ref: { type: 'Account', id: BAD },
  kind: 'threw',
  version: 4,
  code: ErrorCode.UpcastThrew,
  storedEventVersion: 1,
  message: expect.stringContaining('amount "7" is not a number'),
};

/** The methods of the port that write, and `sql.execute`: a store whose every one throws, and the calls made. */
const WRITING = [
  'commit',
  'writeSnapshot',
  'claimOutbox',
  'settleOutbox',
  'retryDeadLetter',
  'leaseCheckpoint',
  'writeCheckpoint',
  'markCheckpoint',
  'prune',
  'joinCluster',
  'heartbeat',
  'claimPartitions',
  'handOverPartitions',
  'leaveCluster',
];
function readOnly(store: Store): { store: Store; writes: string[] } {
  const writes: string[] = [];
  const refuse = (name: string) => () => {
    writes.push(name);
    throw new Error(`checkReplay wrote: ${name}`);
  };
  const sql =
    store.sql && new Proxy(store.sql, { get: (t, k) => (k === 'execute' ? refuse('sql.execute') : Reflect.get(t, k)) });
  const guarded = new Proxy(store, {
    get: (target, key) =>
      typeof key === 'string' && WRITING.includes(key) ? refuse(key) : key === 'sql' ? sql : Reflect.get(target, key),
  });
  return { store: guarded, writes };
}

for (const kind of storeKinds) {
  describe(`checkReplay on ${kind}`, () => {
    let place: StorePlace;
    /** A store object of the place's, for each check: what a CI job would make. */
    const store = () => place.newStore();

    beforeAll(async () => {
      place = await places.place(kind);
      const writer = store();
      writer.retain();
      await writer.open();
      await seed(writer);
      await writer.release();
    });

    it('finds the one entity among thousands whose log the new definition cannot fold, with the code and versions', async () => {
      const report = await checkReplay({ store: store(), entities: [Account] });
      expect(report).toEqual({ ok: false, entities: ACCOUNTS, events: ACCOUNTS * 3, failures: [badAccount] });
    });

    it('reports every log folding, with the counts, once the definition reads them all (types not given left out)', async () => {
      const report = await checkReplay({ store: store(), entities: [AccountFixed] });
      expect(report).toEqual({ ok: true, entities: ACCOUNTS, events: ACCOUNTS * 3 + 1, failures: [] });
    });

    it('replays a sample of that many entities; a sample past the count replays them all', async () => {
      const report = await checkReplay({ store: store(), entities: [AccountFixed], sample: 1000 });
      expect(report.entities).toBe(1000);
      expect(report.events).toBeGreaterThanOrEqual(3000);
      expect(report.events).toBeLessThanOrEqual(3001);
      expect(await checkReplay({ store: store(), entities: [Account], sample: ACCOUNTS + 5 })).toEqual({
        ok: false,
        entities: ACCOUNTS,
        events: ACCOUNTS * 3,
        failures: [badAccount],
      });
    });

    it('reports a state that differs from its snapshot, under any eventVersion of the snapshotVersion', async () => {
      const report = await checkReplay({ store: store(), entities: [Purse] });
      expect(report).toEqual({
        ok: false,
        entities: 4,
        events: 12,
        failures: [
          {
            ref: { type: 'Purse', id: 'p-differs' },
            kind: 'state-differs',
            version: 2,
            message: 'the replayed state differs from the snapshot (schema "1") at cents: recorded 3, replayed 300',
            recorded: { cents: 3, deposits: 2 },
            replayed: { cents: 300, deposits: 2 },
          },
          {
            ref: { type: 'Purse', id: 'p-past-end' },
            kind: 'state-differs',
            version: 9,
            message: 'the snapshot (schema "1/e2") is at version 9, past the end of the log (version 3)',
            recorded: { cents: 9, deposits: 9 },
            replayed: ACCOUNT_STATE,
          },
        ],
      } satisfies ReplayReport);
    });

    it('writes nothing: no writing method of the store is called', async () => {
      const { store: guarded, writes } = readOnly(store());
      const report = await checkReplay({ store: guarded, entities: [Account, Purse] });
      expect(writes).toEqual([]);
      expect(report.entities).toBe(ACCOUNTS + 4);
      expect(report.failures.map((f) => [f.ref.id, f.kind])).toEqual([
        [BAD, 'threw'],
        ['p-differs', 'state-differs'],
        ['p-past-end', 'state-differs'],
      ]);
    });

    if (kind !== 'memory') {
      it('writes nothing: every table of the store is as it was', async () => {
        const before = await dumpOf(place);
        expect(Object.keys(before).length).toBeGreaterThan(3);
        await checkReplay({ store: store(), entities: [Account, Purse] });
        await checkReplay({ store: store(), entities: [AccountFixed], sample: 10 });
        expect(await dumpOf(place)).toEqual(before);
      });

      it('releases what it retained: a store object it used alone is closed after, a shared one stays open', async () => {
        const alone = store();
        await checkReplay({ store: alone, entities: [Purse] });
        await expect(alone.readStreams([{ streamId: BAD, fromVersion: 1 }], 10)).rejects.toThrow();
        const shared = store();
        shared.retain();
        await shared.open();
        try {
          await checkReplay({ store: shared, entities: [Purse] });
          const [events] = await shared.readStreams([{ streamId: BAD, fromVersion: 1 }], 10);
          expect(events).toHaveLength(4);
        } finally {
          await shared.release();
        }
      });
    }
  });
}

describe('checkReplay, whatever the store', () => {
  /** A memory store with these logs of Account, each committed under its eventVersion. */
  async function storeWith(logs: Record<string, readonly (readonly [string, number])[]>): Promise<Store> {
    const store = memoryStore();
    store.retain();
    await store.open();
    for (const [id, events] of Object.entries(logs)) {
      for (const [i, [data, eventVersion]] of events.entries()) {
        await commitAll(store, [append('Account', id, i, [data], eventVersion)]);
      }
    }
    return store;
  }

  it('names the code of each way a fold fails, and goes on with the other entities', async () => {
    const store = await storeWith({
      ahead: [
        [v1(1), 1],
        [v2(5), 3],
      ],
      closed: [
        [v2(5), 2],
        ['{"type":"Closed"}', 2],
      ],
      fine: [[v1(1), 1]],
    });
    const report = await checkReplay({ store, entities: [Account] });
    expect(report).toMatchObject({ ok: false, entities: 3, events: 3 });
    expect(report.failures).toEqual([
      expect.objectContaining({
        ref: { type: 'Account', id: 'ahead' },
        version: 2,
        storedEventVersion: 3,
        code: ErrorCode.EventVersionAhead,
      }),
      expect.objectContaining({
        ref: { type: 'Account', id: 'closed' },
        version: 2,
        storedEventVersion: 2,
        code: ErrorCode.UpdateThrew,
      }),
    ]);
    const Broken = defineEntity({
      type: 'Account',
      init: (): number => {
        throw new Error('init is broken');
      },
      handle: () => ok([]),
      update: (_event, state) => state,
    });
    const broken = await checkReplay({ store, entities: [Broken] });
    expect(broken).toMatchObject({ ok: false, entities: 3, events: 0 });
    expect(broken.failures.map((f) => [f.ref.id, f.kind, f.version, f.code])).toEqual([
      ['ahead', 'threw', 0, ErrorCode.InitThrew],
      ['closed', 'threw', 0, ErrorCode.InitThrew],
      ['fine', 'threw', 0, ErrorCode.InitThrew],
    ]);
  });

  it('folds logs longer than a read, to the end: an event at version 1,100 of 1,200 that cannot fold', async () => {
    const store = await storeWith({});
    const ones = (n: number) => Array.from({ length: n }, () => v2(1));
    await commitAll(store, [append('Account', 'long', 0, ones(1099), 2), append('Account', 'short', 0, ones(1), 2)]);
    await commitAll(store, [append('Account', 'long', 1099, [v1('7')], 1)]);
    await commitAll(store, [append('Account', 'long', 1100, ones(100), 2)]);
    const fixed = await checkReplay({ store, entities: [AccountFixed] });
    expect(fixed).toEqual({ ok: true, entities: 2, events: 1201, failures: [] });
    const report = await checkReplay({ store, entities: [Account] });
    expect(report).toEqual({
      ok: false,
      entities: 2,
      events: 1100,
      failures: [
        expect.objectContaining({ ref: { type: 'Account', id: 'long' }, version: 1100, storedEventVersion: 1 }),
      ],
    });
  });

  it('chooses a sample uniformly: each of ten entities in about three tenths of 300 samples of 3', async () => {
    const store = await storeWith(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`e${i}`, [[v1('x'), 1]]])));
    const chosen = new Map<string, number>();
    for (let run = 0; run < 300; run++) {
      const report = await checkReplay({ store, entities: [Account], sample: 3 });
      expect(report.entities).toBe(3);
      for (const { ref } of report.failures) chosen.set(ref.id, (chosen.get(ref.id) ?? 0) + 1);
    }
    // Each is chosen 90 times on average (a standard deviation of 8): far outside these bounds, it is not uniform.
    expect(chosen.size).toBe(10);
    for (const [id, times] of chosen) {
      expect(times, id).toBeGreaterThan(45);
      expect(times, id).toBeLessThan(135);
    }
  });

  it('reports a store that fails as STORE_UNAVAILABLE, and releases it', async () => {
    const store = await storeWith({ a: [[v1(1), 1]] });
    let released = 0;
    const failing = new Proxy(store, {
      get: (target, key) =>
        key === 'readFeed'
          ? () => Promise.reject(new Error('connection reset'))
          : key === 'release'
            ? () => {
                released++;
                return target.release();
              }
            : Reflect.get(target, key),
    });
    const error = await checkReplay({ store: failing, entities: [Account] }).catch((e: unknown) => e);
    expect(isPachydermError(error, ErrorCode.StoreUnavailable), String(error)).toBe(true);
    expect((error as Error).message).toContain('connection reset');
    expect(released).toBe(1);
  });

  it('refuses options that cannot work with INVALID_CONFIGURATION, touching no store', async () => {
    const { store, writes } = readOnly(memoryStore());
    const touched: string[] = [];
    const watched = new Proxy(store, {
      get: (target, key) => {
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          touched.push(String(key));
          return value(...args);
        };
      },
    });
    const refused = [
      undefined,
      { entities: [Account] },
      { store: {}, entities: [Account] },
      { store: watched },
      { store: watched, entities: [] },
      { store: watched, entities: Account },
      { store: watched, entities: [{ type: 'Account' }] },
      { store: watched, entities: [Account, AccountFixed] },
      ...[0, -1, 1.5, '10', Number.NaN, Number.POSITIVE_INFINITY].map((sample) => ({
        store: watched,
        entities: [Account],
        sample,
      })),
    ];
    for (const options of refused) {
      const error = await checkReplay(options as never).catch((e: unknown) => e);
      expect(isPachydermError(error, ErrorCode.InvalidConfiguration), JSON.stringify(options)).toBe(true);
    }
    expect(touched).toEqual([]);
    expect(writes).toEqual([]);
  });
});
