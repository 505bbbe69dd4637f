/**
 * The storage contract: every store (memory, SQLite, PostgreSQL) passes these cases.
 * A new store is done when `describeStoreContract` passes for it.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from 'pachyderm';
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
  });
}
