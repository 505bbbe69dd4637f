/**
 * The storage contract, the part that changing safely needs: the `eventVersion` stored with every
 * event, the answers of idempotent calls recorded under their keys (with appends, or by an append
 * without events), and pruning what is past its retention. (Part of `describeStoreContract`.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AppendResult, KeyedAnswer, Store, StreamAppend } from './port/index.js';

interface EvolutionCases {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  openNew(): Promise<Store>;
  append(streamId: string, expectedVersion: number, events: string[], extra?: Partial<StreamAppend>): StreamAppend;
}

export function describeEvolution({ describe, it, openNew, append }: EvolutionCases): void {
  const outcomes = (results: readonly AppendResult[]) =>
    results.map((r) => (r.ok ? { ok: r.ok, version: r.version } : r));
  const read = async (store: Store, id: string) =>
    ((await store.readStreams([{ streamId: id, fromVersion: 1 }], 100))[0] ?? []).map((e) => e.data);
  const answersOf = async (store: Store, id: string, keys: string[], since: number) =>
    [...((await store.readAnswers([{ streamId: id, keys }], since))[0] ?? [])].sort((a, b) => (a.key < b.key ? -1 : 1));
  const keyed = (since: number, ...answers: KeyedAnswer[]) => ({ idempotency: { since, answers } });

  describe('event versions', () => {
    it('stores the eventVersion of each append with its events, and reads it back on every read', async () => {
      const store = await openNew();
      const id = randomUUID();
      const type = `Versioned-${randomUUID()}`;
      await store.commit({ appends: [append(id, 0, ['"v1"'], { entityType: type })], recordedAt: 1 });
      await store.commit({
        appends: [append(id, 1, ['"v3a"', '"v3b"'], { entityType: type, eventVersion: 3 })],
        recordedAt: 2,
      });
      const versions = (events: readonly { data: string; eventVersion: number }[]) =>
        events.map(({ data, eventVersion }) => [data, eventVersion]);
      const expected = [
        ['"v1"', 1],
        ['"v3a"', 3],
        ['"v3b"', 3],
      ];
      assert.deepEqual(versions((await store.readStreams([{ streamId: id, fromVersion: 1 }], 10))[0] ?? []), expected);
      const [start] = await store.readLogs([{ streamId: id, entityType: type, schemaVersion: '1' }], 10);
      assert.deepEqual(versions(start?.events ?? []), expected);
      let feed: readonly { data: string; eventVersion: number }[] = [];
      for (let tries = 0; feed.length < 3 && tries < 200; tries++) {
        feed = await store.readFeed({ after: '', entityTypes: [type], limit: 10 });
        if (feed.length < 3) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.deepEqual(versions(feed), expected);
    });
  });

  describe('idempotency keys', () => {
    it('records answers with the events that carry them, with the position the append answered', async () => {
      const store = await openNew();
      const id = randomUUID();
      const first = { key: 'k1', version: 1 };
      const rejected = { key: `k2 '; DROP TABLE x; -- __proto__ 🐘`, version: 1, rejection: '{"code":"no"}' };
      const [result] = await store.commit({
        appends: [append(id, 0, ['"e1"', '"e2"'], keyed(0, first, rejected))],
        recordedAt: 100,
      });
      assert.ok(result?.ok && result.position !== '');
      const { position } = result;
      assert.deepEqual(await answersOf(store, id, ['k1', rejected.key, 'never'], 100), [
        { ...first, position },
        { ...rejected, position },
      ]);
      // Recorded at 100: not live for a reader whose window starts after it; other logs have none.
      assert.deepEqual(await answersOf(store, id, ['k1'], 101), []);
      assert.deepEqual(await answersOf(store, randomUUID(), ['k1'], 0), []);
    });

    it('refuses an append with a live key, writing nothing of it, and replaces an expired one', async () => {
      const store = await openNew();
      const id = randomUUID();
      const outbox = [
        {
          kind: 'effect' as const,
          name: 'Mail',
          payload: null,
          idempotencyKey: `${id}:2:0`,
          sourceVersion: 2,
          dueAt: 0,
          timer: false,
          orderKey: null,
        },
      ];
      await store.commit({
        appends: [append(id, 0, ['"e1"'], keyed(0, { key: 'k', version: 1 }))],
        recordedAt: 50,
      });
      const again = append(id, 1, ['"e2"'], {
        ...keyed(50, { key: 'other', version: 2 }, { key: 'k', version: 2 }),
        outbox,
        messageIds: ['m1'],
      });
      assert.deepEqual(outcomes(await store.commit({ appends: [again], recordedAt: 60 })), [
        { ok: false, duplicate: true, messageIds: [], keys: ['k'] },
      ]);
      assert.deepEqual(await read(store, id), ['"e1"']);
      assert.deepEqual(await answersOf(store, id, ['other'], 0), []);
      assert.equal((await store.outboxStats(0)).depth, 0);
      // The message id was not recorded either: it is still accepted.
      const later = append(id, 1, ['"e2"'], { ...keyed(51, { key: 'k', version: 2 }), messageIds: ['m1'] });
      const [replaced] = await store.commit({ appends: [later], recordedAt: 70 });
      assert.ok(replaced?.ok && replaced.version === 2);
      const answer = { key: 'k', version: 2, position: replaced.position };
      assert.deepEqual(await answersOf(store, id, ['k'], 0), [answer]);
      assert.deepEqual(await answersOf(store, id, ['k'], 70), [answer]);
    });

    it('records answers alone with an append without events, checked against the version', async () => {
      const store = await openNew();
      const [fresh, used] = [randomUUID(), randomUUID()];
      const rejection = { key: 'r', version: 0, rejection: '"insufficient"' };
      const [alone] = await store.commit({ appends: [append(fresh, 0, [], keyed(0, rejection))], recordedAt: 5 });
      assert.deepEqual(alone, { ok: true, version: 0, position: '' });
      assert.deepEqual(await read(store, fresh), []);
      assert.deepEqual(await answersOf(store, fresh, ['r'], 0), [{ ...rejection, position: '' }]);
      // The log's first events still go at version 1 after it; a stale one is a conflict.
      assert.deepEqual(outcomes(await store.commit({ appends: [append(fresh, 0, ['"e1"'])], recordedAt: 6 })), [
        { ok: true, version: 1 },
      ]);
      const stale = append(fresh, 0, [], keyed(0, { key: 's', version: 0 }));
      assert.deepEqual(outcomes(await store.commit({ appends: [stale], recordedAt: 7 })), [
        { ok: false, conflict: { expectedVersion: 0, actualVersion: 1 } },
      ]);
      assert.deepEqual(await answersOf(store, fresh, ['s'], 0), []);
      await store.commit({ appends: [append(used, 0, ['"a"', '"b"'])], recordedAt: 8 });
      const current = append(used, 2, [], keyed(0, { key: 's', version: 2 }));
      assert.deepEqual(outcomes(await store.commit({ appends: [current], recordedAt: 9 })), [{ ok: true, version: 2 }]);
      assert.deepEqual(outcomes(await store.commit({ appends: [append(used, 2, ['"c"'])], recordedAt: 10 })), [
        { ok: true, version: 3 },
      ]);
    });

    it('lets one of two appends with the same key win, also when neither moves the version', async () => {
      const store = await openNew();
      for (let round = 0; round < 6; round++) {
        const id = randomUUID();
        if (round % 2 === 1) await store.commit({ appends: [append(id, 0, ['"e"'])], recordedAt: 1 });
        const version = round % 2;
        // Rejections recorded alone keep the version: only the key tells the two apart.
        const rejection = (n: number) => append(id, version, [], keyed(0, { key: 'k', version, rejection: String(n) }));
        const withEvents = append(id, version, ['"a"'], keyed(0, { key: 'k', version: version + 1 }));
        const rivals = round < 4 ? [rejection(1), rejection(2)] : [withEvents, rejection(3)];
        const results = await Promise.all(rivals.map((a) => store.commit({ appends: [a], recordedAt: 2 })));
        assert.equal(results.filter(([result]) => result?.ok).length, 1, 'exactly one records the key');
        assert.equal((await answersOf(store, id, ['k'], 0)).length, 1);
      }
    });
  });

  describe('retention', () => {
    it('forgets handled message ids and answers recorded before their times, at most `limit` at once', async () => {
      const store = await openNew();
      const id = randomUUID();
      for (let i = 0; i < 5; i++) {
        const answers = { since: 0, answers: [{ key: `k${i}`, version: i + 1 }] };
        await store.commit({
          appends: [append(id, i, [`"e${i}"`], { messageIds: [`m${i}`], idempotency: answers })],
          recordedAt: 1000 + i,
        });
      }
      // Until nothing is left to forget (rows of other cases on the same store go too).
      let rounds = 0;
      for (; rounds < 10_000; rounds++) {
        const pruned = await store.prune({ messageIdsBefore: 1003, keysBefore: 1002, limit: 2 });
        assert.ok(pruned.messageIds <= 2 && pruned.keys <= 2, 'at most limit of each');
        if (pruned.messageIds === 0 && pruned.keys === 0) break;
      }
      assert.ok(rounds >= 2, 'three message ids take two rounds of two');
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
      assert.deepEqual(
        (await answersOf(store, id, keys, 0)).map((answer) => answer.key),
        ['k2', 'k3', 'k4'],
      );
      // A forgotten message id is accepted again; one still remembered is not.
      const retry = (messageId: string) =>
        store.commit({ appends: [append(id, 5, ['"again"'], { messageIds: [messageId] })], recordedAt: 2000 });
      assert.deepEqual(outcomes(await retry('m3')), [{ ok: false, duplicate: true, messageIds: ['m3'] }]);
      assert.deepEqual(outcomes(await retry('m2')), [{ ok: true, version: 6 }]);
    });
  });
}
