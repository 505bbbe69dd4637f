/**
 * The storage contract, feed part: positions that sort in commit order, reads across logs by
 * entity type, the head. (Part of `describeStoreContract`.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from '../core/sql.js';
import { isInlineProjectionError } from './inline-projection-error.js';
import type { AppendResult, FeedRead, Store, StreamAppend } from './port/index.js';

interface FeedCases {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  openNew(): Promise<Store>;
  append(streamId: string, expectedVersion: number, events: string[], extra?: Partial<StreamAppend>): StreamAppend;
}

export function describeFeed({ describe, it, openNew, append }: FeedCases): void {
  /**
   * Reads the feed until it gives `count` events: a feed may lag behind commits (PostgreSQL waits
   * for every older transaction of the cluster to end), never skip them.
   */
  const feed = async (store: Store, request: FeedRead, count: number) => {
    for (let tries = 0; ; tries++) {
      const events = await store.readFeed(request);
      if (events.length >= count || tries === 200) return events;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const positionOf = (result: AppendResult | undefined) => {
    assert.ok(result?.ok, 'the append commits');
    return result.position;
  };

  describe('feed', () => {
    it('gives every event a position; a commit answers its last one; positions grow in commit order', async () => {
      const store = await openNew();
      const [a, b] = [randomUUID(), randomUUID()];
      const first = await store.commit({ appends: [append(a, 0, ['1', '2'])], recordedAt: 1 });
      const second = await store.commit({ appends: [append(b, 0, ['1']), append(a, 2, ['3'])], recordedAt: 2 });
      const logA = (await store.readStreams([{ streamId: a, fromVersion: 1 }], 10))[0] ?? [];
      const logB = (await store.readStreams([{ streamId: b, fromVersion: 1 }], 10))[0] ?? [];
      assert.equal(positionOf(first[0]), logA[1]?.position);
      assert.equal(positionOf(second[0]), logB[0]?.position);
      assert.equal(positionOf(second[1]), logA[2]?.position);
      const positions = logA.map((e) => e.position);
      assert.ok(
        positions.every((p) => typeof p === 'string' && p > ''),
        'positions are non-empty text',
      );
      assert.deepEqual([...positions].sort(), positions);
      assert.equal(new Set(positions).size, positions.length);
      assert.ok((logB[0]?.position as string) > (logA[1]?.position as string), 'a later commit sorts after');
    });

    it('reads the events of some entity types after a position, in feed order, at most `limit`', async () => {
      const store = await openNew();
      const [t1, t2, t3] = ['A', 'B', 'C'].map((t) => `${t}-${randomUUID()}`) as [string, string, string];
      const [x, y, z] = [randomUUID(), randomUUID(), randomUUID()];
      await store.commit({ appends: [append(x, 0, ['"x1"'], { entityType: t1 })], recordedAt: 10 });
      await store.commit({
        appends: [append(y, 0, ['"y1"', '"y2"'], { entityType: t2 }), append(z, 0, ['"z1"'], { entityType: t3 })],
        recordedAt: 20,
      });
      await store.commit({ appends: [append(x, 1, ['"x2"'], { entityType: t1 })], recordedAt: 30 });
      const all = await feed(store, { after: '', entityTypes: [t1, t2], limit: 100 }, 4);
      assert.deepEqual(
        all.map(({ streamId, entityType, version, data, recordedAt }) => ({
          streamId,
          entityType,
          version,
          data,
          recordedAt,
        })),
        [
          { streamId: x, entityType: t1, version: 1, data: '"x1"', recordedAt: 10 },
          { streamId: y, entityType: t2, version: 1, data: '"y1"', recordedAt: 20 },
          { streamId: y, entityType: t2, version: 2, data: '"y2"', recordedAt: 20 },
          { streamId: x, entityType: t1, version: 2, data: '"x2"', recordedAt: 30 },
        ],
      );
      const positions = all.map((e) => e.position);
      assert.deepEqual([...positions].sort(), positions);
      const rest = await feed(store, { after: positions[1] as string, entityTypes: [t1, t2], limit: 2 }, 2);
      assert.deepEqual(
        rest.map((e) => e.data),
        ['"y2"', '"x2"'],
      );
      assert.deepEqual(await store.readFeed({ after: positions[3] as string, entityTypes: [t1, t2], limit: 9 }), []);
      assert.deepEqual(
        (await feed(store, { after: '', entityTypes: [t3], limit: 9 }, 1)).map((e) => e.data),
        ['"z1"'],
      );
      assert.deepEqual(await store.readFeed({ after: '', entityTypes: [`none-${randomUUID()}`], limit: 9 }), []);
    });

    it('answers the head: the position of the latest event of some types, or the empty string', async () => {
      const store = await openNew();
      const [t1, t2] = [`A-${randomUUID()}`, `B-${randomUUID()}`];
      assert.equal(await store.feedHead([t1, t2]), '');
      const [first] = await store.commit({
        appends: [append(randomUUID(), 0, ['1'], { entityType: t1 })],
        recordedAt: 0,
      });
      const [second] = await store.commit({
        appends: [append(randomUUID(), 0, ['1'], { entityType: t2 })],
        recordedAt: 0,
      });
      assert.equal(await store.feedHead([t1]), positionOf(first));
      assert.equal(await store.feedHead([t1, t2]), positionOf(second));
    });

    it('refuses a position it did not write', async () => {
      const store = await openNew();
      for (const after of ['nonsense', "1'; DROP TABLE x; --", '-1']) {
        await assert.rejects(store.readFeed({ after, entityTypes: ['T'], limit: 1 }));
      }
    });

    it('runs inline statements in the commit, and commits nothing when they fail', async () => {
      const store = await openNew();
      if (!store.sql) return;
      await store.sql.execute([
        sql`CREATE TABLE IF NOT EXISTS contract_inline (id TEXT NOT NULL, version INTEGER NOT NULL, position TEXT NOT NULL)`,
      ]);
      const [a, b] = [randomUUID(), randomUUID()];
      const insert = (id: string) => (_index: number, written: readonly { version: number; position: string }[]) =>
        written.map((w) => sql`INSERT INTO contract_inline VALUES (${id}, ${w.version}, ${w.position})`);
      const [result] = await store.commit({ appends: [append(a, 0, ['1', '2'])], recordedAt: 0, project: insert(a) });
      const rows = await store.sql.query(
        sql`SELECT id, version, position FROM contract_inline WHERE id = ${a} ORDER BY version`,
      );
      const log = (await store.readStreams([{ streamId: a, fromVersion: 1 }], 10))[0] ?? [];
      assert.deepEqual(
        rows.map((r) => ({ ...r, version: Number(r.version) })),
        log.map((e) => ({ id: a, version: e.version, position: e.position })),
      );
      assert.equal(positionOf(result), log[1]?.position);
      await assert.rejects(
        store.commit({
          appends: [append(b, 0, ['1']), append(a, 2, ['3'])],
          recordedAt: 0,
          project: (index) => {
            if (index === 1) throw new Error('projection broke');
            return [];
          },
        }),
        (error: unknown) => isInlineProjectionError(error) && error.appendIndex === 1,
      );
      assert.deepEqual((await store.readStreams([{ streamId: b, fromVersion: 1 }], 10))[0], []);
      await assert.rejects(
        store.commit({
          appends: [append(b, 0, ['1'])],
          recordedAt: 0,
          project: () => [sql`INSERT INTO no_such_table_anywhere VALUES (1)`],
        }),
        (error: unknown) => isInlineProjectionError(error) && error.appendIndex === 0,
      );
      assert.deepEqual((await store.readStreams([{ streamId: b, fromVersion: 1 }], 10))[0], []);
    });
  });
}
