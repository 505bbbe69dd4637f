/**
 * The storage contract: every store (memory, SQLite, PostgreSQL) passes these cases, and a new
 * store is done when it passes them too. It runs in any test runner that has `describe`, `it` and
 * `afterEach` (Vitest, Jest, `node:test`): pass them in, or leave them out where the runner puts
 * them on `globalThis` (Jest, Vitest with `globals`). Assertions use `node:assert`.
 *
 * @example
 * import { afterEach, describe, it } from 'vitest';
 * import { describeStoreContract } from 'pachyderm/store';
 * describeStoreContract('my store', () => ({ newStore: () => myStore() }), { describe, it, afterEach });
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { describeCheckpoints } from './contract-checkpoints.js';
import { describeEvolution } from './contract-evolution.js';
import { describeFeed } from './contract-feed.js';
import { describeMembership } from './contract-membership.js';
import type {
  AppendHint,
  AppendResult,
  OutboxRecord,
  OutboxWrite,
  Store,
  StoredEvent,
  StreamAppend,
} from './port/index.js';

/** Where a store keeps its data; `newStore()` makes another store object on the same data. */
export interface StorePlace {
  /** For an in-memory store, the same object every time: the place is the object. */
  newStore(): Store;
}

/** The parts of a test runner the contract uses. */
export interface TestRunner {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  afterEach(body: () => Promise<void>): void;
}

/**
 * Called once per case: a fresh place (an empty file, a new schema), or one whose data the cases'
 * random ids keep apart; or a store, when the cases' second store object may be the same object.
 */
export type MakeStore = () => StorePlace | Store | Promise<StorePlace | Store>;

/** Declares the contract's cases for a store. */
export function describeStoreContract(make: MakeStore, runner?: TestRunner): void;
export function describeStoreContract(name: string, make: MakeStore, runner?: TestRunner): void;
export function describeStoreContract(...args: [MakeStore, TestRunner?] | [string, MakeStore, TestRunner?]): void {
  const [name, make, given] = (typeof args[0] === 'string' ? args : ['store', ...args]) as [
    string,
    MakeStore,
    TestRunner | undefined,
  ];
  const { describe, it, afterEach } = given ?? globalRunner();
  const makePlace = async (): Promise<StorePlace> => {
    const made = await make();
    return 'newStore' in made ? made : { newStore: () => made };
  };
  describe(`store contract: ${name}`, () => {
    const opened: Store[] = [];
    async function open(place: StorePlace): Promise<Store> {
      const store = place.newStore();
      store.retain();
      await store.open();
      opened.push(store);
      return store;
    }
    const openNew = async () => open(await makePlace());
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.release();
    });
    const read = async (store: Store, id: string, from = 1, limit = 100): Promise<readonly StoredEvent[]> =>
      (await store.readStreams([{ streamId: id, fromVersion: from }], limit))[0] as readonly StoredEvent[];
    const data = async (store: Store, id: string) => (await read(store, id)).map((e) => e.data);
    /** Positions are the store's own: compared apart, in the feed cases. */
    const plain = (events: readonly StoredEvent[]) => events.map(({ position: _, ...event }) => event);
    const outcomes = (results: readonly AppendResult[]) =>
      results.map((r) => (r.ok ? { ok: r.ok, version: r.version } : r));
    const append = (streamId: string, expectedVersion: number, events: string[], extra: Partial<StreamAppend> = {}) =>
      ({ streamId, expectedVersion, events, entityType: 'Source', eventVersion: 1, ...extra }) satisfies StreamAppend;

    describe('event log', () => {
      it('reads no events from a log never written', async () => {
        const store = await openNew();
        assert.deepEqual(await read(store, randomUUID()), []);
      });

      it('appends at the expected version and reads the events back verbatim, in order', async () => {
        const store = await openNew();
        const id = randomUUID();
        const events = ['{"a":1}', '"text \\u0000 ☃ 🐘"', '[1,2,{"b":null}]'];
        const results = await store.commit({ appends: [append(id, 0, events)], recordedAt: 1_700_000_000_123 });
        assert.deepEqual(outcomes(results), [{ ok: true, version: 3 }]);
        assert.deepEqual(
          plain(await read(store, id)),
          events.map((data, i) => ({ version: i + 1, data, eventVersion: 1, recordedAt: 1_700_000_000_123 })),
        );
        assert.deepEqual(outcomes(await store.commit({ appends: [append(id, 3, ['4'])], recordedAt: 5 })), [
          { ok: true, version: 4 },
        ]);
      });

      it('refuses an append whose expected version is stale or ahead, writing nothing', async () => {
        const store = await openNew();
        const id = randomUUID();
        await store.commit({ appends: [append(id, 0, ['1', '2'])], recordedAt: 0 });
        for (const expectedVersion of [0, 1, 3, 7]) {
          const [result] = await store.commit({ appends: [append(id, expectedVersion, ['"x"'])], recordedAt: 0 });
          assert.deepEqual(result, { ok: false, conflict: { expectedVersion, actualVersion: 2 } });
        }
        assert.deepEqual(await data(store, id), ['1', '2']);
      });

      it('commits a batch for many logs in one call; a conflict fails its own log alone', async () => {
        const store = await openNew();
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        await store.commit({ appends: [append(b, 0, ['"b1"'])], recordedAt: 0 });
        const results = await store.commit({
          appends: [append(c, 0, ['"c1"', '"c2"']), append(b, 0, ['"stale"']), append(a, 0, ['"a1"'])],
          recordedAt: 0,
        });
        assert.deepEqual(outcomes(results), [
          { ok: true, version: 2 },
          { ok: false, conflict: { expectedVersion: 0, actualVersion: 1 } },
          { ok: true, version: 1 },
        ]);
        assert.deepEqual(await data(store, b), ['"b1"']);
        assert.deepEqual(await data(store, c), ['"c1"', '"c2"']);
        assert.deepEqual(await data(store, a), ['"a1"']);
      });

      it('reads a log from a version (inclusive), at most `limit` events', async () => {
        const store = await openNew();
        const id = randomUUID();
        const events = Array.from({ length: 25 }, (_, i) => String(i + 1));
        await store.commit({ appends: [append(id, 0, events)], recordedAt: 0 });
        const page = await read(store, id, 10, 5);
        assert.deepEqual(
          page.map((e) => e.version),
          [10, 11, 12, 13, 14],
        );
        assert.deepEqual(
          page.map((e) => e.data),
          ['10', '11', '12', '13', '14'],
        );
        assert.deepEqual(await read(store, id, 26, 5), []);
      });

      it('reads many logs at once, each from its own version', async () => {
        const store = await openNew();
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        await store.commit({ appends: [append(a, 0, ['1', '2', '3']), append(b, 0, ['1', '2'])], recordedAt: 9 });
        const pages = await store.readStreams(
          [
            { streamId: a, fromVersion: 2 },
            { streamId: c, fromVersion: 1 },
            { streamId: b, fromVersion: 3 },
            { streamId: a, fromVersion: 1 },
          ],
          2,
        );
        const at = (version: number) => ({ version, data: String(version), eventVersion: 1, recordedAt: 9 });
        assert.deepEqual(pages.map(plain), [[at(2), at(3)], [], [], [at(1), at(2)]]);
      });

      it('lets exactly one of two writers at the same expected version win', async () => {
        const place = await makePlace();
        const [first, second] = [await open(place), await open(place)];
        const id = randomUUID();
        for (let round = 0; round < 20; round++) {
          const [x, y] = await Promise.all(
            [first, second].map((store, i) =>
              store.commit({ appends: [append(id, round, [`"w${i}r${round}"`])], recordedAt: 0 }),
            ),
          );
          assert.equal([x?.[0]?.ok, y?.[0]?.ok].filter(Boolean).length, 1);
        }
        assert.deepEqual(
          (await read(first, id)).map((e) => e.version),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
      });

      it('stores ids verbatim: quotes, SQL, __proto__, emoji and long ids are distinct logs', async () => {
        const store = await openNew();
        const ids = [
          `'; DROP TABLE events; --`,
          '"quoted"',
          '__proto__',
          'constructor',
          '🐘 emoji',
          'é'.repeat(127),
          'x',
        ];
        for (const [i, id] of ids.entries()) {
          await store.commit({ appends: [append(id, 0, [String(i)])], recordedAt: 0 });
        }
        for (const [i, id] of ids.entries()) {
          assert.deepEqual(plain(await read(store, id)), [
            { version: 1, data: String(i), eventVersion: 1, recordedAt: 0 },
          ]);
        }
      });

      it('keeps its change token, if it has one, only while nothing but its one user commits', async () => {
        const place = await makePlace();
        const store = await open(place);
        const before = store.changeToken?.();
        if (before === undefined) return; // optional: this store cannot tell cheaply
        await store.commit({ appends: [append(randomUUID(), 0, ['1'])], recordedAt: 0 });
        assert.equal(store.changeToken?.(), before, 'its own user committed');
        const other = await open(place);
        await other.commit({ appends: [append(randomUUID(), 0, ['1'])], recordedAt: 0 });
        assert.notEqual(store.changeToken?.(), before, 'another user or connection committed');
        await other.release();
        opened.splice(opened.indexOf(other), 1);
        assert.notEqual(store.changeToken?.(), before, 'and stays changed');
      });

      it('hints, if it watches appends, each append another store object commits, and none it refused', async () => {
        const place = await makePlace();
        const store = await open(place);
        if (!store.watchAppends) return; // optional: this store gives no hints
        const heard: AppendHint[] = [];
        let flowing = false;
        const watch = store.watchAppends({
          appended: (hints) => heard.push(...hints),
          live: (now) => {
            flowing = now;
          },
        });
        try {
          await until(() => flowing, 'the hints never started flowing');
          const other = await open(place);
          const [a, b] = [`${randomUUID()} "\\ \n</script> 🐘`, randomUUID()];
          await other.commit({ appends: [append(a, 0, ['1', '2']), append(b, 0, ['1'])], recordedAt: 0 });
          await other.commit({ appends: [append(b, 0, ['again'])], recordedAt: 0 }); // refused: a conflict
          await other.commit({ appends: [append(b, 1, ['2'])], recordedAt: 0 });
          await until(() => heard.some((hint) => hint.streamId === b && hint.version === 2), 'no hint came');
          const mine = heard.filter((hint) => hint.streamId === a || hint.streamId === b);
          assert.deepEqual(mine, [
            { streamId: a, version: 2 },
            { streamId: b, version: 1 },
            { streamId: b, version: 2 },
          ]);
        } finally {
          await watch.close();
        }
      });

      it('refuses an append whose message id the log already handled, and only that log', async () => {
        const store = await openNew();
        const [a, b] = [randomUUID(), randomUUID()];
        const commit = (id: string, expectedVersion: number, ...messageIds: string[]) =>
          store.commit({ appends: [append(id, expectedVersion, ['"e"'], { messageIds })], recordedAt: 0 });
        assert.deepEqual(outcomes(await commit(a, 0, 'm1')), [{ ok: true, version: 1 }]);
        assert.deepEqual(outcomes(await commit(a, 1, 'm1')), [{ ok: false, duplicate: true, messageIds: ['m1'] }]);
        assert.deepEqual(outcomes(await commit(b, 0, 'm1')), [{ ok: true, version: 1 }]);
        assert.deepEqual(outcomes(await commit(a, 1, 'm2', 'm3')), [{ ok: true, version: 2 }]);
        // Many ids in one append (a mailbox batch): refused when any was handled, naming those in order.
        assert.deepEqual(outcomes(await commit(a, 2, 'm4', 'm3', 'm1')), [
          { ok: false, duplicate: true, messageIds: ['m3', 'm1'] },
        ]);
        assert.deepEqual(outcomes(await commit(a, 2, 'm4')), [{ ok: true, version: 3 }]);
        assert.equal((await read(store, a)).length, 3);
      });
    });

    describe('snapshots', () => {
      it('keeps one snapshot per log and entity type; an older one never replaces a newer one', async () => {
        const store = await openNew();
        const id = randomUUID();
        const snapshotOf = async (entityType: string, schemaVersion: string) =>
          (await store.readLogs([{ streamId: id, entityType, schemaVersion }], 0))[0]?.snapshot;
        assert.equal(await snapshotOf('Counter', '1'), undefined);
        await store.writeSnapshot(id, 'Counter', { schemaVersion: '1', version: 20, state: '{"n":20}' });
        await store.writeSnapshot(id, 'Counter', { schemaVersion: '1', version: 10, state: '{"n":10}' });
        await store.writeSnapshot(id, 'Other', { schemaVersion: '1', version: 5, state: '"other"' });
        assert.deepEqual(await snapshotOf('Counter', '1'), { schemaVersion: '1', version: 20, state: '{"n":20}' });
        assert.deepEqual(await snapshotOf('Other', '1'), { schemaVersion: '1', version: 5, state: '"other"' });
        await store.writeSnapshot(id, 'Counter', { schemaVersion: '2', version: 15, state: '{"m":15}' });
        assert.deepEqual(await snapshotOf('Counter', '2'), { schemaVersion: '2', version: 15, state: '{"m":15}' });
        assert.equal(await snapshotOf('Counter', '1'), undefined);
      });

      it('reads the start of many logs at once: the matching snapshot and the events after it', async () => {
        const store = await openNew();
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const events = Array.from({ length: 6 }, (_, i) => String(i + 1));
        for (const id of [a, b]) await store.commit({ appends: [append(id, 0, events)], recordedAt: 7 });
        await store.writeSnapshot(a, 'T', { schemaVersion: '2', version: 4, state: '"at 4"' });
        await store.writeSnapshot(b, 'T', { schemaVersion: 'old', version: 5, state: '"stale"' });
        const starts = await store.readLogs(
          [
            { streamId: a, entityType: 'T', schemaVersion: '2' },
            { streamId: b, entityType: 'T', schemaVersion: '2' },
            { streamId: c, entityType: 'T', schemaVersion: '2' },
            { streamId: a, entityType: 'Other', schemaVersion: '2' },
          ],
          3,
        );
        const at = (version: number) => ({ version, data: String(version), eventVersion: 1, recordedAt: 7 });
        assert.deepEqual(
          starts.map((start) => ({ ...start, events: plain(start.events) })),
          [
            { snapshot: { schemaVersion: '2', version: 4, state: '"at 4"' }, events: [at(5), at(6)] },
            { events: [at(1), at(2), at(3)] },
            { events: [] },
            { events: [at(1), at(2), at(3)] },
          ],
        );
      });
    });

    describeFeed({ describe, it, openNew, append });
    describeEvolution({ describe, it, openNew, append });
    describeCheckpoints({ describe, it, openNew, makePlace, open });
    describeMembership({ describe, it, makePlace, open });

    describe('lifecycle', () => {
      it('stays open while another user retains it, and opens again after the last release', async () => {
        const place = await makePlace();
        const store = place.newStore();
        store.retain();
        store.retain();
        await store.open();
        const id = randomUUID();
        await store.commit({ appends: [append(id, 0, ['1'])], recordedAt: 0 });
        await store.release();
        assert.equal((await read(store, id)).length, 1);
        await store.release();
        store.retain();
        await store.open();
        assert.equal((await read(store, id)).length, 1);
        await store.release();
      });
    });

    describe('outbox', () => {
      const effectRow = (key: string, extra: Partial<OutboxWrite> = {}): OutboxWrite => ({
        kind: 'effect',
        name: 'Mail',
        payload: `{"key":${JSON.stringify(key)}}`,
        idempotencyKey: key,
        sourceVersion: 1,
        dueAt: 100,
        timer: false,
        orderKey: null,
        ...extra,
      });
      const appendWith = (store: Store, id: string, expectedVersion: number, extra: Partial<StreamAppend>) =>
        store.commit({ appends: [append(id, expectedVersion, ['"e"'], extra)], recordedAt: 100 });
      const claimFor = async (store: Store, id: string, now: number, leaseMs = 1000, limit = 100, owner = 'p') =>
        (await store.claimOutbox({ owner, now, leaseMs, limit })).filter((r) => r.sourceId === id);

      it('writes outbox rows with the events, or not at all when the append is refused', async () => {
        const store = await openNew();
        const id = randomUUID();
        await appendWith(store, id, 0, { outbox: [effectRow(`${id}:a`)] });
        const [refused] = await appendWith(store, id, 0, { outbox: [effectRow(`${id}:b`)] });
        assert.equal(refused?.ok, false);
        const claimed = await claimFor(store, id, 100);
        assert.equal(claimed.length, 1);
        const { id: rowId, ...rest } = claimed[0] as OutboxRecord;
        assert.equal(typeof rowId, 'string');
        assert.deepEqual(rest, {
          ...effectRow(`${id}:a`),
          sourceType: 'Source',
          sourceId: id,
          attempts: 1,
          lastError: null,
          status: 'pending',
        });
      });

      it('leases a row to one owner until the lease expires, counting attempts', async () => {
        const place = await makePlace();
        const [first, second] = [await open(place), await open(place)];
        const id = randomUUID();
        await appendWith(first, id, 0, { outbox: [effectRow(`${id}:a`)] });
        const [x, y] = await Promise.all([
          claimFor(first, id, 100, 1000, 100, 'p1'),
          claimFor(second, id, 100, 1000, 100, 'p2'),
        ]);
        assert.equal(x.length + y.length, 1);
        assert.deepEqual(await claimFor(first, id, 1099, 1000, 100, 'p3'), []);
        const taken = await claimFor(second, id, 1100, 1000, 100, 'p3');
        assert.deepEqual(
          taken.map((r) => r.attempts),
          [2],
        );
        // The first owner lost its lease: its outcome is ignored.
        await first.settleOutbox(x.length ? 'p1' : 'p2', [
          { id: (taken[0] as OutboxRecord).id, outcome: { done: true } },
        ]);
        assert.ok((await first.outboxStats(1100)).inFlight >= 1);
        await first.settleOutbox('p3', [{ id: (taken[0] as OutboxRecord).id, outcome: { done: true } }]);
        assert.deepEqual(await claimFor(first, id, 10_000, 1000, 100, 'p4'), []);
      });

      it('retries at the given time, and keeps dead letters until retried', async () => {
        const store = await openNew();
        const id = randomUUID();
        await appendWith(store, id, 0, { outbox: [effectRow(`${id}:a`)] });
        const claim = (now: number) => claimFor(store, id, now, 10);
        const [row] = await claim(100);
        await store.settleOutbox('p', [{ id: (row as OutboxRecord).id, outcome: { retryAt: 500, error: 'boom' } }]);
        assert.deepEqual(await claim(499), []);
        const [again] = await claim(500);
        assert.equal(again?.attempts, 2);
        assert.equal(again?.lastError, 'boom');
        await store.settleOutbox('p', [{ id: (again as OutboxRecord).id, outcome: { dead: true, error: 'gave up' } }]);
        assert.deepEqual(await claim(10_000), []);
        const dead = (await store.deadLetters(1000)).filter((r) => r.sourceId === id);
        assert.equal(dead.length, 1);
        assert.equal(dead[0]?.status, 'dead');
        assert.equal(dead[0]?.lastError, 'gave up');
        assert.equal(dead[0]?.attempts, 2);
        assert.equal(await store.retryDeadLetter((dead[0] as OutboxRecord).id, 20_000), true);
        assert.equal(await store.retryDeadLetter((dead[0] as OutboxRecord).id, 20_000), false);
        assert.equal(await store.retryDeadLetter('999999999', 20_000), false);
        const revived = await claim(20_000);
        assert.deepEqual(
          revived.map((r) => [r.attempts, r.status]),
          [[1, 'pending']],
        );
      });

      it('delivers messages of one order key in order and holds later ones back until earlier ones end', async () => {
        const store = await openNew();
        const id = randomUUID();
        const message = (key: string): OutboxWrite => ({
          ...effectRow(key),
          kind: 'message',
          name: 'Target',
          targetId: 't',
          orderKey: `m:${id}`,
        });
        await appendWith(store, id, 0, { outbox: [message(`${id}:1`), message(`${id}:2`)] });
        const claim = (now: number) => claimFor(store, id, now, 10, 1);
        const [first] = await claim(100);
        assert.equal(first?.idempotencyKey, `${id}:1`);
        assert.deepEqual(await claim(100), []);
        await store.settleOutbox('p', [{ id: (first as OutboxRecord).id, outcome: { retryAt: 200, error: 'later' } }]);
        assert.deepEqual(await claim(150), []); // the second waits for the first
        const [retried] = await claim(200);
        assert.equal(retried?.idempotencyKey, `${id}:1`);
        await store.settleOutbox('p', [{ id: (retried as OutboxRecord).id, outcome: { dead: true, error: 'x' } }]);
        assert.deepEqual(
          (await claim(200)).map((r) => r.idempotencyKey),
          [`${id}:2`],
        );
      });

      const laneMessage = (id: string, n: number, extra: Partial<OutboxWrite> = {}): OutboxWrite => ({
        ...effectRow(`${id}:${n}`),
        kind: 'message',
        name: 'Target',
        targetId: 't',
        orderKey: `m:${id}`,
        ...extra,
      });
      const keys = (rows: readonly OutboxRecord[]) => rows.map((r) => r.idempotencyKey);

      it('claims the waiting rows of a lane with its first one, in order, up to the limit', async () => {
        const store = await openNew();
        const id = randomUUID();
        await appendWith(store, id, 0, { outbox: [1, 2, 3].map((n) => laneMessage(id, n)) });
        await appendWith(store, id, 1, { outbox: [4, 5].map((n) => laneMessage(id, n)) });
        const two = await claimFor(store, id, 100, 1000, 2);
        assert.deepEqual(keys(two), [`${id}:1`, `${id}:2`]);
        assert.deepEqual(await claimFor(store, id, 100), []); // the rest wait behind rows in delivery
        await store.settleOutbox('p', [
          { id: (two[0] as OutboxRecord).id, outcome: { done: true } },
          { id: (two[1] as OutboxRecord).id, outcome: { released: true } },
        ]);
        const rest = await claimFor(store, id, 100);
        assert.deepEqual(
          keys(rest),
          [2, 3, 4, 5].map((n) => `${id}:${n}`),
        );
        // Released: back as it was, its attempt not counted.
        assert.deepEqual(
          rest.map((r) => r.attempts),
          [1, 1, 1, 1],
        );
      });

      it('settles many rows in one call, each only if the owner still holds it, and frees the next row of each lane', async () => {
        const store = await openNew();
        const [id, other] = [randomUUID(), randomUUID()];
        await appendWith(store, id, 0, { outbox: [effectRow(`${id}:a`), effectRow(`${id}:b`), effectRow(`${id}:c`)] });
        const [a, b, c] = await claimFor(store, id, 100);
        await appendWith(store, other, 0, { outbox: [1, 2].map((n) => laneMessage(other, n)) });
        const [first, second] = await claimFor(store, other, 100);
        await store.settleOutbox('p', [
          { id: (a as OutboxRecord).id, outcome: { done: true } },
          { id: (b as OutboxRecord).id, outcome: { retryAt: 300, error: 'x' } },
          { id: (c as OutboxRecord).id, outcome: { dead: true, error: 'y' } },
          { id: (first as OutboxRecord).id, outcome: { dead: true, error: 'z' } },
          { id: (second as OutboxRecord).id, outcome: { released: true } },
        ]);
        await store.settleOutbox('someone else', [{ id: (b as OutboxRecord).id, outcome: { done: true } }]);
        // The lane's first row is dead: the next one goes.
        assert.deepEqual(keys(await claimFor(store, other, 100)), [`${other}:2`]);
        assert.deepEqual(keys(await claimFor(store, id, 299)), []);
        assert.deepEqual(keys(await claimFor(store, id, 300)), [`${id}:b`]);
        assert.deepEqual(
          (await store.deadLetters(10_000))
            .filter((r) => r.sourceId === id || r.sourceId === other)
            .map((r) => r.lastError),
          ['y', 'z'],
        );
      });

      it('starts an effect once the effects before it of its lane have started, not ended, one a claim', async () => {
        const store = await openNew();
        const id = randomUUID();
        const effect = (n: number) => effectRow(`${id}:${n}`, { orderKey: `e:${id}` });
        await appendWith(store, id, 0, { outbox: [effect(1), effect(2)] });
        // One at a time: each effect of a lane runs under a lease of its own.
        const [one, ...more] = await claimFor(store, id, 100);
        assert.equal(one?.idempotencyKey, `${id}:1`);
        assert.deepEqual(more, []);
        assert.deepEqual(await claimFor(store, id, 100), []);
        await store.settleOutbox('p', [{ id: (one as OutboxRecord).id, outcome: { retryAt: 500, error: 'x' } }]);
        assert.deepEqual(keys(await claimFor(store, id, 100)), [`${id}:2`]); // the first started once
        // Written behind started effects: free at once.
        await appendWith(store, id, 1, { outbox: [effect(3)] });
        assert.deepEqual(keys(await claimFor(store, id, 100)), [`${id}:3`]);
        assert.deepEqual(keys(await claimFor(store, id, 500)), [`${id}:1`]);
      });

      it('is not woken by rows waiting behind others of their lane', async () => {
        const store = await openNew();
        const id = randomUUID();
        await appendWith(store, id, 0, { outbox: [laneMessage(id, 1), laneMessage(id, 2, { dueAt: 200 })] });
        const [head] = await claimFor(store, id, 100, 500, 1);
        assert.equal(head?.idempotencyKey, `${id}:1`);
        assert.equal(await store.nextDueAt(100), 600);
        await store.settleOutbox('p', [{ id: (head as OutboxRecord).id, outcome: { done: true } }]);
        assert.equal(await store.nextDueAt(100), 200);
      });

      it('delivers every row of a lane in order while its source appends and a deliverer settles at once', async () => {
        const store = await openNew();
        const id = randomUUID();
        const total = 300;
        const delivered: string[] = [];
        let written = false;
        const write = async () => {
          for (let n = 0; n < total; n++) await appendWith(store, id, n, { outbox: [laneMessage(id, n)] });
          written = true;
        };
        const deliver = async () => {
          let idle = 0;
          for (let round = 0; idle < 3; round++) {
            const rows = await claimFor(store, id, 100, 60_000, 7);
            idle = written && rows.length === 0 ? idle + 1 : 0;
            if (rows.length === 0) await new Promise((resolve) => setImmediate(resolve));
            // Settled in one call; every other round the last of two or more is released (it must
            // come again, in order), else the lane is emptied while its source writes to it.
            const released = round % 2 === 0 && rows.length > 1 ? rows[rows.length - 1] : undefined;
            delivered.push(...keys(released ? rows.slice(0, -1) : rows));
            await store.settleOutbox('p', [
              ...rows.map((r) => ({
                id: r.id,
                outcome: r === released ? { released: true as const } : { done: true as const },
              })),
            ]);
          }
        };
        await Promise.all([write(), deliver()]);
        assert.deepEqual(
          delivered,
          Array.from({ length: total }, (_, k) => `${id}:${k}`),
        );
      });

      it('deletes the timers an append cancels, then inserts its rows; it keeps every row it is given', async () => {
        const store = await openNew();
        const id = randomUUID();
        const target = randomUUID();
        const timer = (key: string, dueAt: number, timerKey: string): OutboxWrite => ({
          ...effectRow(key),
          kind: 'message',
          name: 'Target',
          targetId: target,
          dueAt,
          timer: true,
          timerKey,
        });
        // Which timer stands is decided above the store (the commit plan); the store executes.
        await appendWith(store, id, 0, { outbox: [timer('t1', 1000, 'expiry'), timer('t2', 1000, 'expiry')] });
        await appendWith(store, id, 1, { outbox: [timer('t3', 1000, 'other')] });
        assert.equal((await store.outboxStats(0)).pendingTimers, 3);
        await appendWith(store, id, 2, {
          cancelTimers: [{ targetId: target, key: 'expiry' }],
          outbox: [timer('t4', 2000, 'expiry')],
        });
        // Two appends in one commit: the later one's cancel removes the earlier one's row.
        await store.commit({
          appends: [
            append(id, 3, ['"e"'], { outbox: [timer('t5', 1, 'x')] }),
            append(randomUUID(), 0, ['"e"'], {
              cancelTimers: [
                { targetId: target, key: 'x' },
                { targetId: target, key: 'other' },
              ],
            }),
          ],
          recordedAt: 100,
        });
        assert.deepEqual(
          (await claimFor(store, id, 5000, 10)).map((r) => r.idempotencyKey),
          ['t4'],
        );
      });

      it('says when to look again: the next time a row falls due or its lease ends, after a given time', async () => {
        const store = await openNew();
        const id = randomUUID();
        assert.equal(await store.nextDueAt(0), undefined);
        await appendWith(store, id, 0, {
          outbox: [effectRow(`${id}:a`, { dueAt: 100 }), effectRow(`${id}:b`, { dueAt: 300, timer: true })],
        });
        assert.equal(await store.nextDueAt(0), 100);
        assert.equal(await store.nextDueAt(100), 300);
        await claimFor(store, id, 100, 500); // the row due at 100 is leased until 600
        assert.equal(await store.nextDueAt(300), 600);
        assert.equal(await store.nextDueAt(600), undefined);
      });

      it('counts the backlog', async () => {
        const store = await openNew();
        const before = await store.outboxStats(100);
        const id = randomUUID();
        await appendWith(store, id, 0, {
          outbox: [effectRow(`${id}:a`), effectRow(`${id}:b`), { ...effectRow(`${id}:t`), timer: true, dueAt: 900 }],
        });
        const [a, b] = await claimFor(store, id, 100, 50);
        await store.settleOutbox('p', [{ id: (b as OutboxRecord).id, outcome: { retryAt: 300, error: 'x' } }]);
        const after = await store.outboxStats(100);
        assert.equal(after.depth - before.depth, 2);
        assert.equal(after.inFlight - before.inFlight, 1);
        assert.equal(after.retrying - before.retrying, 1);
        assert.equal(after.pendingTimers - before.pendingTimers, 1);
        await store.settleOutbox('p', [{ id: (a as OutboxRecord).id, outcome: { dead: true, error: 'y' } }]);
        assert.equal((await store.outboxStats(100)).deadLetters - before.deadLetters, 1);
      });

      it('answers the due time of the oldest row waiting, not counting timers whose time has not come', async () => {
        const store = await openNew();
        const id = randomUUID();
        // Older than any row the other cases write: the oldest on a shared place too.
        await appendWith(store, id, 0, {
          outbox: [{ ...effectRow(`${id}:t`), timer: true, dueAt: -5000 }, effectRow(`${id}:a`, { dueAt: -4000 })],
        });
        assert.equal((await store.outboxStats(-6000)).oldestDueAt, -4000);
        assert.equal((await store.outboxStats(100)).oldestDueAt, -5000);
        const [timer, effect] = await claimFor(store, id, 100);
        await store.settleOutbox('p', [
          { id: (timer as OutboxRecord).id, outcome: { done: true } },
          { id: (effect as OutboxRecord).id, outcome: { dead: true, error: 'x' } },
        ]);
        const after = (await store.outboxStats(100)).oldestDueAt;
        assert.ok(after === null || after > -4000, `dead and delivered rows are not waiting (got ${after})`);
      });

      it('answers the rows of an entity still in the outbox: written by its decisions or messages for it, with their trace context', async () => {
        const store = await openNew();
        const [id, other] = [randomUUID(), randomUUID()];
        const traceContext = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const message = (key: string, targetId: string, extra: Partial<OutboxWrite> = {}): OutboxWrite => ({
          ...effectRow(key),
          kind: 'message',
          name: 'Source',
          targetId,
          ...extra,
        });
        await appendWith(store, id, 0, {
          outbox: [effectRow(`${id}:mail`, { traceContext }), message(`${id}:m`, other)],
        });
        await appendWith(store, other, 0, {
          outbox: [message(`${other}:reply`, id), message(`${other}:timer`, id, { timer: true, dueAt: 9000 })],
        });
        // A message for another entity type with the same id is not this entity's.
        await appendWith(store, randomUUID(), 0, { outbox: [message('elsewhere', id, { name: 'Other' })] });
        const mine = await store.outboxOf({ type: 'Source', id }, 100);
        assert.deepEqual(
          mine.map((r) => r.idempotencyKey),
          [`${id}:mail`, `${id}:m`, `${other}:reply`, `${other}:timer`],
        );
        assert.equal(mine[0]?.traceContext, traceContext);
        assert.equal(mine[1]?.traceContext, undefined);
        assert.equal((await store.outboxOf({ type: 'Source', id }, 2)).length, 2);
        const [claimed] = (await claimFor(store, id, 100)).filter((r) => r.kind === 'effect');
        assert.equal(claimed?.traceContext, traceContext);
        await store.settleOutbox('p', [{ id: (claimed as OutboxRecord).id, outcome: { dead: true, error: 'gone' } }]);
        assert.deepEqual(
          (await store.deadLetters(10_000)).find((r) => r.id === claimed?.id)?.traceContext,
          traceContext,
        );
        assert.equal((await store.outboxOf({ type: 'Source', id }, 100))[0]?.status, 'dead');
      });
    });
  });
}

/** The runner a test framework puts on `globalThis` (Jest; Vitest with `globals: true`; Mocha). */
function globalRunner(): TestRunner {
  const runner = globalThis as Partial<TestRunner>;
  if (
    typeof runner.describe === 'function' &&
    typeof runner.it === 'function' &&
    typeof runner.afterEach === 'function'
  ) {
    return runner as TestRunner;
  }
  throw new ConfigurationError(
    "describeStoreContract: pass your test runner's { describe, it, afterEach } (from 'vitest', 'node:test' or '@jest/globals')",
  );
}

/** Waits until `test` is true, for up to 10 s (hints arrive soon after a commit, not with it). */
async function until(test: () => boolean, failure: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!test()) {
    if (Date.now() > deadline) assert.fail(failure);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
