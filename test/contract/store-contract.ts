/**
 * The storage contract: every store (memory, SQLite, PostgreSQL) passes these cases.
 * A new store is done when `describeStoreContract` passes for it.
 */
import { randomUUID } from 'node:crypto';
import type { OutboxRecord, OutboxWrite, Store, StreamAppend } from 'pachyderm';
import { afterEach, describe, expect, it } from 'vitest';

export interface ContractPlace {
  /** Another store object on the same data (for memory: the same object). */
  newStore(): Store;
}

export function describeStoreContract(name: string, makePlace: () => Promise<ContractPlace>): void {
  describe(`store contract: ${name}`, () => {
    const opened: Store[] = [];
    async function open(place: ContractPlace): Promise<Store> {
      const store = place.newStore();
      store.retain();
      await store.open();
      opened.push(store);
      return store;
    }
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.release();
    });

    it('reports version 0 and no events for a log never written', async () => {
      const store = await open(await makePlace());
      expect(await store.streamVersion(randomUUID())).toBe(0);
      expect(await store.readStream(randomUUID(), 1, 100)).toEqual([]);
    });

    it('appends at the expected version and reads the events back verbatim, in order', async () => {
      const store = await open(await makePlace());
      const id = randomUUID();
      const events = ['{"a":1}', '"text \\u0000 ☃ 🐘"', '[1,2,{"b":null}]'];
      const results = await store.commit({
        appends: [{ streamId: id, expectedVersion: 0, events }],
        recordedAt: 1_700_000_000_123,
      });
      expect(results).toEqual([{ ok: true, version: 3 }]);
      expect(await store.streamVersion(id)).toBe(3);
      expect(await store.readStream(id, 1, 100)).toEqual(
        events.map((data, i) => ({ version: i + 1, data, recordedAt: 1_700_000_000_123 })),
      );
      const next = await store.commit({
        appends: [{ streamId: id, expectedVersion: 3, events: ['4'] }],
        recordedAt: 5,
      });
      expect(next).toEqual([{ ok: true, version: 4 }]);
    });

    it('refuses an append whose expected version is stale or ahead, writing nothing', async () => {
      const store = await open(await makePlace());
      const id = randomUUID();
      await store.commit({ appends: [{ streamId: id, expectedVersion: 0, events: ['1', '2'] }], recordedAt: 0 });
      for (const expectedVersion of [0, 1, 3, 7]) {
        const [result] = await store.commit({
          appends: [{ streamId: id, expectedVersion, events: ['"x"'] }],
          recordedAt: 0,
        });
        expect(result).toEqual({ ok: false, conflict: { expectedVersion, actualVersion: 2 } });
      }
      expect((await store.readStream(id, 1, 100)).map((e) => e.data)).toEqual(['1', '2']);
    });

    it('commits a batch for many logs in one call; a conflict fails its own log alone', async () => {
      const store = await open(await makePlace());
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await store.commit({ appends: [{ streamId: b, expectedVersion: 0, events: ['"b1"'] }], recordedAt: 0 });
      const results = await store.commit({
        appends: [
          { streamId: c, expectedVersion: 0, events: ['"c1"', '"c2"'] },
          { streamId: b, expectedVersion: 0, events: ['"stale"'] },
          { streamId: a, expectedVersion: 0, events: ['"a1"'] },
        ],
        recordedAt: 0,
      });
      expect(results).toEqual([
        { ok: true, version: 2 },
        { ok: false, conflict: { expectedVersion: 0, actualVersion: 1 } },
        { ok: true, version: 1 },
      ]);
      expect((await store.readStream(b, 1, 10)).map((e) => e.data)).toEqual(['"b1"']);
      expect((await store.readStream(c, 1, 10)).map((e) => e.data)).toEqual(['"c1"', '"c2"']);
      expect((await store.readStream(a, 1, 10)).map((e) => e.data)).toEqual(['"a1"']);
    });

    it('reads a log from a version (inclusive), at most `limit` events', async () => {
      const store = await open(await makePlace());
      const id = randomUUID();
      const events = Array.from({ length: 25 }, (_, i) => String(i + 1));
      await store.commit({ appends: [{ streamId: id, expectedVersion: 0, events }], recordedAt: 0 });
      const page = await store.readStream(id, 10, 5);
      expect(page.map((e) => e.version)).toEqual([10, 11, 12, 13, 14]);
      expect(page.map((e) => e.data)).toEqual(['10', '11', '12', '13', '14']);
      expect(await store.readStream(id, 26, 5)).toEqual([]);
    });

    it('lets exactly one of two writers at the same expected version win', async () => {
      const place = await makePlace();
      const [first, second] = [await open(place), await open(place)];
      const id = randomUUID();
      for (let round = 0; round < 20; round++) {
        const [x, y] = await Promise.all(
          [first, second].map((store, i) =>
            store.commit({
              appends: [{ streamId: id, expectedVersion: round, events: [`"w${i}r${round}"`] }],
              recordedAt: 0,
            }),
          ),
        );
        expect([x?.[0]?.ok, y?.[0]?.ok].filter(Boolean)).toHaveLength(1);
      }
      const log = await first.readStream(id, 1, 100);
      expect(log.map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('stores ids verbatim: quotes, SQL, __proto__, emoji and long ids are distinct logs', async () => {
      const store = await open(await makePlace());
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
        await store.commit({ appends: [{ streamId: id, expectedVersion: 0, events: [String(i)] }], recordedAt: 0 });
      }
      for (const [i, id] of ids.entries()) {
        expect(await store.readStream(id, 1, 10)).toEqual([{ version: 1, data: String(i), recordedAt: 0 }]);
      }
    });

    it('keeps one snapshot per log and entity type; an older one never replaces a newer one', async () => {
      const store = await open(await makePlace());
      const id = randomUUID();
      expect(await store.readSnapshot(id, 'Counter')).toBeUndefined();
      await store.writeSnapshot(id, 'Counter', { schemaVersion: '1', version: 20, state: '{"n":20}' });
      await store.writeSnapshot(id, 'Counter', { schemaVersion: '1', version: 10, state: '{"n":10}' });
      await store.writeSnapshot(id, 'Other', { schemaVersion: '1', version: 5, state: '"other"' });
      expect(await store.readSnapshot(id, 'Counter')).toEqual({ schemaVersion: '1', version: 20, state: '{"n":20}' });
      expect(await store.readSnapshot(id, 'Other')).toEqual({ schemaVersion: '1', version: 5, state: '"other"' });
      await store.writeSnapshot(id, 'Counter', { schemaVersion: '2', version: 15, state: '{"m":15}' });
      expect(await store.readSnapshot(id, 'Counter')).toEqual({ schemaVersion: '2', version: 15, state: '{"m":15}' });
    });

    it('stays open while another user retains it, and opens again after the last release', async () => {
      const place = await makePlace();
      const store = place.newStore();
      store.retain();
      store.retain();
      await store.open();
      const id = randomUUID();
      await store.commit({ appends: [{ streamId: id, expectedVersion: 0, events: ['1'] }], recordedAt: 0 });
      await store.release();
      expect(await store.streamVersion(id)).toBe(1);
      await store.release();
      store.retain();
      await store.open();
      expect(await store.streamVersion(id)).toBe(1);
      await store.release();
    });

    it('reads the start of many logs at once: the matching snapshot and the events after it', async () => {
      const store = await open(await makePlace());
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const events = Array.from({ length: 6 }, (_, i) => String(i + 1));
      for (const id of [a, b]) {
        await store.commit({ appends: [{ streamId: id, expectedVersion: 0, events }], recordedAt: 7 });
      }
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
      const at = (version: number) => ({ version, data: String(version), recordedAt: 7 });
      expect(starts).toEqual([
        { snapshot: { schemaVersion: '2', version: 4, state: '"at 4"' }, events: [at(5), at(6)] },
        { events: [at(1), at(2), at(3)] },
        { events: [] },
        { events: [at(1), at(2), at(3)] },
      ]);
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
        store.commit({
          appends: [{ streamId: id, expectedVersion, events: ['"e"'], entityType: 'Source', ...extra }],
          recordedAt: 100,
        });

      it('writes outbox rows with the events, or not at all when the append is refused', async () => {
        const store = await open(await makePlace());
        const id = randomUUID();
        await appendWith(store, id, 0, { outbox: [effectRow(`${id}:a`)] });
        const [refused] = await appendWith(store, id, 0, { outbox: [effectRow(`${id}:b`)] });
        expect(refused?.ok).toBe(false);
        const claimed = (await store.claimOutbox({ owner: 'p1', now: 100, leaseMs: 1000, limit: 100 })).filter(
          (r) => r.sourceId === id,
        );
        expect(claimed).toEqual([
          {
            ...effectRow(`${id}:a`),
            id: expect.any(String),
            sourceType: 'Source',
            sourceId: id,
            attempts: 1,
            lastError: null,
            status: 'pending',
          },
        ]);
      });

      it('refuses an append whose message id the log already handled, and only that log', async () => {
        const store = await open(await makePlace());
        const [a, b] = [randomUUID(), randomUUID()];
        expect(await appendWith(store, a, 0, { messageId: 'm1' })).toEqual([{ ok: true, version: 1 }]);
        expect(await appendWith(store, a, 1, { messageId: 'm1' })).toEqual([{ ok: false, duplicate: true }]);
        expect(await appendWith(store, b, 0, { messageId: 'm1' })).toEqual([{ ok: true, version: 1 }]);
        expect(await appendWith(store, a, 1, { messageId: 'm2' })).toEqual([{ ok: true, version: 2 }]);
        expect(await store.streamVersion(a)).toBe(2);
      });

      it('leases a row to one owner until the lease expires, counting attempts', async () => {
        const place = await makePlace();
        const [first, second] = [await open(place), await open(place)];
        const id = randomUUID();
        await appendWith(first, id, 0, { outbox: [effectRow(`${id}:a`)] });
        const mine = (rows: readonly OutboxRecord[]) => rows.filter((r) => r.sourceId === id);
        const [x, y] = await Promise.all([
          first.claimOutbox({ owner: 'p1', now: 100, leaseMs: 1000, limit: 100 }),
          second.claimOutbox({ owner: 'p2', now: 100, leaseMs: 1000, limit: 100 }),
        ]);
        expect(mine(x).length + mine(y).length).toBe(1);
        expect(mine(await first.claimOutbox({ owner: 'p3', now: 1099, leaseMs: 1000, limit: 100 }))).toEqual([]);
        const taken = mine(await second.claimOutbox({ owner: 'p3', now: 1100, leaseMs: 1000, limit: 100 }));
        expect(taken.map((r) => r.attempts)).toEqual([2]);
        // The first owner lost its lease: its outcome is ignored.
        await first.settleOutbox((taken[0] as OutboxRecord).id, mine(x).length ? 'p1' : 'p2', { done: true });
        expect((await first.outboxStats(1100)).inFlight).toBeGreaterThanOrEqual(1);
        await first.settleOutbox((taken[0] as OutboxRecord).id, 'p3', { done: true });
        expect(mine(await first.claimOutbox({ owner: 'p4', now: 10_000, leaseMs: 1000, limit: 100 }))).toEqual([]);
      });

      it('retries at the given time, and keeps dead letters until retried', async () => {
        const store = await open(await makePlace());
        const id = randomUUID();
        await appendWith(store, id, 0, { outbox: [effectRow(`${id}:a`)] });
        const claim = async (now: number) =>
          (await store.claimOutbox({ owner: 'p', now, leaseMs: 10, limit: 100 })).filter((r) => r.sourceId === id);
        const [row] = await claim(100);
        await store.settleOutbox((row as OutboxRecord).id, 'p', { retryAt: 500, error: 'boom' });
        expect(await claim(499)).toEqual([]);
        const [again] = await claim(500);
        expect(again).toMatchObject({ attempts: 2, lastError: 'boom' });
        await store.settleOutbox((again as OutboxRecord).id, 'p', { dead: true, error: 'gave up' });
        expect(await claim(10_000)).toEqual([]);
        const dead = (await store.deadLetters(1000)).filter((r) => r.sourceId === id);
        expect(dead).toEqual([expect.objectContaining({ status: 'dead', lastError: 'gave up', attempts: 2 })]);
        expect(await store.retryDeadLetter((dead[0] as OutboxRecord).id, 20_000)).toBe(true);
        expect(await store.retryDeadLetter((dead[0] as OutboxRecord).id, 20_000)).toBe(false);
        expect(await store.retryDeadLetter('999999999', 20_000)).toBe(false);
        expect(await claim(20_000)).toEqual([expect.objectContaining({ attempts: 1, status: 'pending' })]);
      });

      it('delivers messages of one order key in order and holds later ones back until earlier ones end', async () => {
        const store = await open(await makePlace());
        const id = randomUUID();
        const orderKey = `m:${id}`;
        const message = (key: string): OutboxWrite => ({
          ...effectRow(key),
          kind: 'message',
          name: 'Target',
          targetId: 't',
          orderKey,
        });
        await appendWith(store, id, 0, { outbox: [message(`${id}:1`), message(`${id}:2`)] });
        const claim = async (now: number) =>
          (await store.claimOutbox({ owner: 'p', now, leaseMs: 10, limit: 1 })).filter((r) => r.sourceId === id);
        const [first] = await claim(100);
        expect(first?.idempotencyKey).toBe(`${id}:1`);
        expect(await claim(100)).toEqual([]);
        await store.settleOutbox((first as OutboxRecord).id, 'p', { retryAt: 200, error: 'later' });
        expect(await claim(150)).toEqual([]); // the second waits for the first
        const [retried] = await claim(200);
        expect(retried?.idempotencyKey).toBe(`${id}:1`);
        await store.settleOutbox((retried as OutboxRecord).id, 'p', { dead: true, error: 'x' });
        expect((await claim(200)).map((r) => r.idempotencyKey)).toEqual([`${id}:2`]);
      });

      it('deletes the timers an append cancels, then inserts its rows; it keeps every row it is given', async () => {
        const store = await open(await makePlace());
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
        expect((await store.outboxStats(0)).pendingTimers).toBe(3);
        expect(await store.nextDueAt(0)).toBe(1000);
        expect(await store.nextDueAt(1000)).toBeUndefined();
        await appendWith(store, id, 2, {
          cancelTimers: [{ targetId: target, key: 'expiry' }],
          outbox: [timer('t4', 2000, 'expiry')],
        });
        // Two appends in one commit: the later one's cancel removes the earlier one's row.
        const other = randomUUID();
        await store.commit({
          appends: [
            { streamId: id, expectedVersion: 3, events: ['"e"'], entityType: 'Source', outbox: [timer('t5', 1, 'x')] },
            {
              streamId: other,
              expectedVersion: 0,
              events: ['"e"'],
              entityType: 'Source',
              cancelTimers: [
                { targetId: target, key: 'x' },
                { targetId: target, key: 'other' },
              ],
            },
          ],
          recordedAt: 100,
        });
        const due = (await store.claimOutbox({ owner: 'p', now: 5000, leaseMs: 10, limit: 100 })).filter(
          (r) => r.sourceId === id,
        );
        expect(due.map((r) => r.idempotencyKey)).toEqual(['t4']);
      });

      it('reads many logs at once, each from its own version', async () => {
        const store = await open(await makePlace());
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        await store.commit({
          appends: [
            { streamId: a, expectedVersion: 0, events: ['1', '2', '3'], entityType: 'T' },
            { streamId: b, expectedVersion: 0, events: ['1', '2'], entityType: 'T' },
          ],
          recordedAt: 9,
        });
        const pages = await store.readStreams(
          [
            { streamId: a, fromVersion: 2 },
            { streamId: c, fromVersion: 1 },
            { streamId: b, fromVersion: 3 },
            { streamId: a, fromVersion: 1 },
          ],
          2,
        );
        const at = (version: number) => ({ version, data: String(version), recordedAt: 9 });
        expect(pages).toEqual([[at(2), at(3)], [], [], [at(1), at(2)]]);
      });

      it('counts the backlog', async () => {
        const store = await open(await makePlace());
        const before = await store.outboxStats(100);
        const id = randomUUID();
        await appendWith(store, id, 0, {
          outbox: [effectRow(`${id}:a`), effectRow(`${id}:b`), { ...effectRow(`${id}:t`), timer: true, dueAt: 900 }],
        });
        const [a, b] = (await store.claimOutbox({ owner: 'p', now: 100, leaseMs: 50, limit: 100 })).filter(
          (r) => r.sourceId === id,
        );
        await store.settleOutbox((b as OutboxRecord).id, 'p', { retryAt: 300, error: 'x' });
        const after = await store.outboxStats(100);
        expect(after.depth - before.depth).toBe(2);
        expect(after.inFlight - before.inFlight).toBe(1);
        expect(after.retrying - before.retrying).toBe(1);
        expect(after.pendingTimers - before.pendingTimers).toBe(1);
        await store.settleOutbox((a as OutboxRecord).id, 'p', { dead: true, error: 'y' });
        expect((await store.outboxStats(100)).deadLetters - before.deadLetters).toBe(1);
      });
    });
  });
}
