/**
 * The storage contract, membership part: live members by heartbeat, an expired member stays dead,
 * and partitions move only by compare-and-set (claimed when unowned or owned by the dead, handed
 * over by their owner), with one owner each under concurrent claims. Heartbeats run on real time
 * here, since PostgreSQL stamps them with its own clock. (Part of `describeStoreContract`.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { StorePlace } from './contract.js';
import type { MemberRecord, Store } from './port/index.js';

interface MembershipCases {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  makePlace(): Promise<StorePlace>;
  open(place: StorePlace): Promise<Store>;
}

const TTL = 400;
/** Partitions the view reports; each case claims its own range of them (places may be shared). */
const PARTITIONS = 64;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeMembership({ describe, it, makePlace, open }: MembershipCases): void {
  const join = async (store: Store, name: string): Promise<MemberRecord> => {
    const member = { incarnation: `${name}-${randomUUID()}`, name, address: `http://${name}.test:7600` };
    await store.joinCluster({ ...member, ttlMs: TTL, now: Date.now() });
    return { ...member, status: 'active' };
  };
  const beat = (store: Store, incarnation: string, status: MemberRecord['status'] = 'active') =>
    store.heartbeat({ incarnation, status, ttlMs: TTL, now: Date.now(), partitions: PARTITIONS });
  const claim = (store: Store, incarnation: string, partitions: number[]) =>
    store.claimPartitions({ incarnation, ttlMs: TTL, now: Date.now(), partitions });
  const mine = (members: readonly MemberRecord[], ...ours: MemberRecord[]) =>
    members.filter((m) => ours.some((o) => o.incarnation === m.incarnation));

  describe('membership', () => {
    it('lists live members by name with their status, and answers partition owners', async () => {
      const place = await makePlace();
      const [one, two] = [await open(place), await open(place)] as [Store, Store];
      const b = await join(two, `b-${randomUUID()}`);
      const a = await join(one, `a-${b.name}`);
      const view = await beat(one, a.incarnation, 'draining');
      assert.equal(view.alive, true);
      assert.deepEqual(mine(view.members, a, b), [{ ...a, status: 'draining' }, b]);
      assert.equal(view.owners.length, PARTITIONS);
      assert.deepEqual(await claim(two, b.incarnation, [1]), [1]);
      assert.equal((await beat(one, a.incarnation)).owners[1], b.incarnation);
      await two.leaveCluster(b.incarnation);
      await one.leaveCluster(a.incarnation);
      const after = await beat(one, a.incarnation);
      assert.equal(after.alive, false);
      assert.deepEqual(mine(after.members, a, b), []);
    });

    it('keeps an expired member dead: its heartbeat renews nothing, and others stop listing it', async () => {
      const place = await makePlace();
      const store = await open(place);
      const sleeper = await join(store, `sleeper-${randomUUID()}`);
      const awake = await join(store, `awake-${randomUUID()}`);
      for (let waited = 0; waited < TTL * 1.5; waited += TTL / 4) {
        await sleep(TTL / 4);
        await beat(store, awake.incarnation);
      }
      const view = await beat(store, sleeper.incarnation);
      assert.equal(view.alive, false);
      assert.deepEqual(mine(view.members, sleeper, awake), [awake]);
      assert.deepEqual(mine((await beat(store, awake.incarnation)).members, sleeper), []);
    });

    it('claims partitions that are unowned or owned by the dead, never those of a live member', async () => {
      const place = await makePlace();
      const store = await open(place);
      const [p, q, r] = [10, 11, 12];
      const first = await join(store, `first-${randomUUID()}`);
      const second = await join(store, `second-${randomUUID()}`);
      assert.deepEqual(await claim(store, first.incarnation, [p, q]), [p, q]);
      assert.deepEqual(await claim(store, first.incarnation, [p]), [p], 'its own again');
      assert.deepEqual(await claim(store, second.incarnation, [p, q, r]), [r]);
      const view = await beat(store, second.incarnation);
      assert.deepEqual(
        [view.owners[p], view.owners[q], view.owners[r]],
        [first.incarnation, first.incarnation, second.incarnation],
      );
      // `first` stops beating: once it is dead, its partitions can be claimed, and it claims nothing.
      for (let waited = 0; waited < TTL * 1.5; waited += TTL / 4) {
        await sleep(TTL / 4);
        await beat(store, second.incarnation);
      }
      assert.deepEqual(await claim(store, first.incarnation, [p]), []);
      assert.deepEqual(await claim(store, second.incarnation, [p, q]), [p, q]);
      await store.leaveCluster(second.incarnation);
    });

    it('hands partitions over only from their owner, to a member or to nobody', async () => {
      const place = await makePlace();
      const store = await open(place);
      const [p, q] = [20, 21];
      const owner = await join(store, `owner-${randomUUID()}`);
      const next = await join(store, `next-${randomUUID()}`);
      await claim(store, owner.incarnation, [p, q]);
      await store.handOverPartitions(next.incarnation, [{ partition: p, to: next.incarnation }]);
      let view = await beat(store, owner.incarnation);
      assert.equal(view.owners[p], owner.incarnation, 'not its own to give');
      await store.handOverPartitions(owner.incarnation, [
        { partition: p, to: next.incarnation },
        { partition: q, to: null },
      ]);
      view = await beat(store, owner.incarnation);
      assert.deepEqual([view.owners[p], view.owners[q]], [next.incarnation, null]);
      await store.leaveCluster(next.incarnation);
      view = await beat(store, owner.incarnation);
      assert.equal(view.owners[p], null, 'leaving lets go of its partitions');
      await store.leaveCluster(owner.incarnation);
    });

    it('gives each partition one owner when members claim at once through separate store objects', async () => {
      const place = await makePlace();
      const stores = [await open(place), await open(place), await open(place)];
      const partitions = Array.from({ length: 10 }, (_, i) => 30 + i);
      const members = await Promise.all(stores.map((store, i) => join(store, `racer${i}-${randomUUID()}`)));
      const claimed = await Promise.all(
        stores.map((store, i) => claim(store, (members[i] as MemberRecord).incarnation, partitions)),
      );
      assert.deepEqual(
        claimed.flat().sort((x, y) => x - y),
        partitions,
      );
      const view = await beat(stores[0] as Store, (members[0] as MemberRecord).incarnation);
      claimed.forEach((won, i) => {
        for (const partition of won) assert.equal(view.owners[partition], (members[i] as MemberRecord).incarnation);
      });
      for (const [i, store] of stores.entries()) await store.leaveCluster((members[i] as MemberRecord).incarnation);
    });
  });
}
