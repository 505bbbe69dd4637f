/**
 * The storage contract, checkpoints part: one lease holder at a time, moves by compare-and-set,
 * failures, skipped events and marks; with SQL, statements that commit with the move or not at
 * all. (Part of `describeStoreContract`.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from '../core/sql.js';
import type { StorePlace } from './contract.js';
import type { CheckpointWrite, Store } from './port/index.js';

interface CheckpointCases {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  openNew(): Promise<Store>;
  makePlace(): Promise<StorePlace>;
  open(place: StorePlace): Promise<Store>;
}

export function describeCheckpoints({ describe, it, openNew, makePlace, open }: CheckpointCases): void {
  /** A position this store wrote, to move checkpoints to. */
  const positionsOf = async (store: Store, count: number): Promise<string[]> => {
    const events = Array.from({ length: count }, (_, i) => String(i));
    const streamId = randomUUID();
    await store.commit({
      appends: [{ streamId, expectedVersion: 0, events, entityType: 'Source', eventVersion: 1 }],
      recordedAt: 0,
    });
    return ((await store.readStreams([{ streamId, fromVersion: 1 }], count))[0] ?? []).map((e) => e.position);
  };
  const move = (
    name: string,
    owner: string,
    expected: string,
    position: string,
    extra: Partial<CheckpointWrite> = {},
  ) =>
    ({
      name,
      owner,
      now: 1000,
      leaseMs: 500,
      version: 1,
      expected,
      position,
      statements: [],
      ...extra,
    }) satisfies CheckpointWrite;

  describe('checkpoints', () => {
    it('leases a new checkpoint at the start, to one owner at a time until the lease runs out', async () => {
      const store = await openNew();
      const name = `p-${randomUUID()}`;
      assert.equal(await store.readCheckpoint(name), undefined);
      const lease = { name, now: 1000, leaseMs: 500, version: 3 };
      assert.deepEqual(await store.leaseCheckpoint({ ...lease, owner: 'a' }), {
        name,
        version: 3,
        position: '',
        failed: null,
        rebuild: false,
      });
      assert.equal(await store.leaseCheckpoint({ ...lease, owner: 'b', now: 1499 }), undefined);
      assert.ok(await store.leaseCheckpoint({ ...lease, owner: 'a', now: 1499 }), 'the holder renews');
      assert.equal(await store.leaseCheckpoint({ ...lease, owner: 'b', now: 1998 }), undefined);
      assert.ok(await store.leaseCheckpoint({ ...lease, owner: 'b', now: 1999 }), 'taken once the lease ran out');
      assert.equal(await store.leaseCheckpoint({ ...lease, owner: 'a', now: 2000 }), undefined);
    });

    it('moves a checkpoint only from the position stored, and only for the lease holder', async () => {
      const place = await makePlace();
      const [store, other] = [await open(place), await open(place)];
      const name = `p-${randomUUID()}`;
      const [p1, p2] = await positionsOf(store, 2);
      await store.leaseCheckpoint({ name, owner: 'a', now: 1000, leaseMs: 500, version: 1 });
      assert.equal(await store.writeCheckpoint(move(name, 'b', '', p1 as string)), false, 'not the holder');
      assert.equal(await store.writeCheckpoint(move(name, 'a', '', p1 as string, { now: 1500 })), false, 'lease over');
      assert.equal(await store.writeCheckpoint(move(name, 'a', '', p1 as string)), true);
      assert.equal(await other.writeCheckpoint(move(name, 'a', '', p2 as string)), false, 'a stale expected position');
      assert.equal(await other.writeCheckpoint(move(name, 'a', p1 as string, p2 as string)), true);
      assert.equal((await other.readCheckpoint(name))?.position, p2);
    });

    it('records a failure until resumed, skipped events until a restart, and a rebuild request', async () => {
      const store = await openNew();
      const name = `p-${randomUUID()}`;
      const [p1, p2] = (await positionsOf(store, 2)) as [string, string];
      await store.leaseCheckpoint({ name, owner: 'a', now: 1000, leaseMs: 500, version: 1 });
      assert.ok(await store.writeCheckpoint(move(name, 'a', '', '', { failed: 'boom at 1' })));
      assert.equal((await store.readCheckpoint(name))?.failed, 'boom at 1');
      assert.ok(await store.markCheckpoint(name, 'resume'));
      assert.equal((await store.readCheckpoint(name))?.failed, null);
      const skipped = { position: p1, entityType: 'T', streamId: `'; DROP TABLE x; --`, version: 1, error: 'bad' };
      assert.ok(await store.writeCheckpoint(move(name, 'a', '', p1, { skipped: [skipped] })));
      assert.deepEqual(await store.skippedEvents(name, 10), [skipped]);
      assert.ok(await store.markCheckpoint(name, 'rebuild'));
      assert.equal((await store.readCheckpoint(name))?.rebuild, true);
      assert.ok(await store.writeCheckpoint(move(name, 'a', p1, p2)));
      assert.equal((await store.readCheckpoint(name))?.rebuild, true, 'a plain move keeps the request');
      assert.ok(await store.writeCheckpoint(move(name, 'a', p2, '', { version: 2, restart: true })));
      assert.deepEqual(await store.readCheckpoint(name), {
        name,
        version: 2,
        position: '',
        failed: null,
        rebuild: false,
      });
      assert.deepEqual(await store.skippedEvents(name, 10), []);
      assert.equal(await store.markCheckpoint(`none-${randomUUID()}`, 'resume'), false);
    });

    it('commits the statements of a move with it, or neither', async () => {
      const store = await openNew();
      if (!store.sql) return;
      const name = `p-${randomUUID()}`;
      const [p1, p2] = (await positionsOf(store, 2)) as [string, string];
      await store.sql.execute([sql`CREATE TABLE IF NOT EXISTS contract_rows (name TEXT NOT NULL, n INTEGER NOT NULL)`]);
      const insert = (n: number) => sql`INSERT INTO contract_rows (name, n) VALUES (${name}, ${n})`;
      const rows = async () =>
        (await store.sql?.query(sql`SELECT n FROM contract_rows WHERE name = ${name} ORDER BY n`))?.map((r) =>
          Number(r.n),
        );
      await store.leaseCheckpoint({ name, owner: 'a', now: 1000, leaseMs: 500, version: 1 });
      assert.ok(await store.writeCheckpoint(move(name, 'a', '', p1, { statements: [insert(1), insert(2)] })));
      assert.equal(await store.writeCheckpoint(move(name, 'a', '', p2, { statements: [insert(3)] })), false);
      await assert.rejects(
        store.writeCheckpoint(
          move(name, 'a', p1, p2, { statements: [insert(4), sql`INSERT INTO no_such_table VALUES (1)`] }),
        ),
      );
      assert.deepEqual(await rows(), [1, 2]);
      assert.equal((await store.readCheckpoint(name))?.position, p1);
    });

    it('carries values of every kind a statement takes into typed columns', async () => {
      const store = await openNew();
      if (!store.sql) return;
      const name = `p-${randomUUID()}`;
      const [p1] = (await positionsOf(store, 1)) as [string];
      const bytes = store.kind === 'postgres' ? sql`bytea` : sql`BLOB`;
      await store.sql.execute([
        sql`CREATE TABLE IF NOT EXISTS contract_kinds (name TEXT NOT NULL, t TEXT, i INTEGER, r REAL, big BIGINT, b BOOLEAN, x ${bytes})`,
      ]);
      const hostile = `'; DROP TABLE contract_kinds; -- \u2603 "__proto__"`;
      await store.leaseCheckpoint({ name, owner: 'a', now: 1000, leaseMs: 500, version: 1 });
      const insert = sql`INSERT INTO contract_kinds (name, t, i, r, big, b, x)
        VALUES (${name}, ${hostile}, ${-42}, ${1.5}, ${9007199254740993n}, ${true}, ${new Uint8Array([0, 1, 255])})`;
      const nulls = sql`INSERT INTO contract_kinds (name, t, i, r, big, b, x)
        VALUES (${name}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null})`;
      assert.ok(await store.writeCheckpoint(move(name, 'a', '', p1, { statements: [insert, nulls] })));
      const found = await store.sql.query(
        sql`SELECT t, i, r, CAST(big AS TEXT) AS big, x FROM contract_kinds WHERE name = ${name} ORDER BY t IS NULL`,
      );
      assert.equal(found.length, 2);
      const first = found[0] as Record<string, unknown>;
      assert.deepEqual(
        { ...first, x: [...(first.x as Uint8Array)] },
        { t: hostile, i: -42, r: 1.5, big: '9007199254740993', x: [0, 1, 255] },
      );
      assert.deepEqual(found[1], { t: null, i: null, r: null, big: null, x: null });
    });
  });
}
