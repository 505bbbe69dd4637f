/**
 * Mailbox batching and group commit: many calls share one append (one hot entity) or one
 * transaction (many entities), each caller still gets its own answer, and a message that is
 * rejected or throws affects only its own caller.
 */
import { randomUUID } from 'node:crypto';
import { type CommitRequest, createSystem, defineEntity, ErrorCode, error, ok, type Store } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

/** A real store that counts its commits and the appends in each. */
function counted(store: Store): { store: Store; commits: number[] } {
  const commits: number[] = [];
  return {
    commits,
    store: {
      ...store,
      commit(request: CommitRequest) {
        commits.push(request.appends.length);
        return store.commit(request);
      },
    },
  };
}

const Tally = defineEntity({
  type: 'Tally',
  init: () => ({ total: 0 }),
  handle(message: { add: number } | { type: 'Reject' } | { type: 'Throw' }, state) {
    if ('type' in message && message.type === 'Reject') return error({ total: state.total });
    if ('type' in message) throw new Error('boom');
    return ok([{ added: message.add }]);
  },
  update: (event, state) => ({ total: state.total + event.added }),
});

describe.each(storeKinds)('batching on %s', (kind) => {
  it('commits the waiting messages of one entity together, answering each with its own result', async () => {
    const { store, commits } = counted((await places.place(kind)).newStore());
    const system = createSystem({ store, entities: [Tally] });
    const ref = Tally.ref(randomUUID());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => system.call(ref, { add: i + 1 })));
    // Each caller sees the state right after its own message, in arrival order.
    results.forEach((result, i) => {
      expect(result).toEqual({
        ok: true,
        state: { total: ((i + 1) * (i + 2)) / 2 },
        version: i + 1,
        position: expect.any(String),
      });
    });
    expect(commits.length).toBeLessThan(200 / 4);
    expect(await system.read(ref)).toEqual({ state: { total: (200 * 201) / 2 }, version: 200 });
    await system.close();
  });

  it('lets a rejected or throwing message in a batch affect only its own caller', async () => {
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Tally] });
    const ref = Tally.ref(randomUUID());
    const messages = Array.from({ length: 60 }, (_, i) =>
      i % 10 === 3 ? { type: 'Reject' as const } : i % 10 === 7 ? { type: 'Throw' as const } : { add: 1 },
    );
    const outcomes = await Promise.allSettled(messages.map((m) => system.call(ref, m)));
    let total = 0;
    outcomes.forEach((outcome, i) => {
      const message = messages[i] as (typeof messages)[number];
      if ('add' in message) {
        total += 1;
        expect(outcome).toEqual({
          status: 'fulfilled',
          value: { ok: true, state: { total }, version: total, position: expect.any(String) },
        });
      } else if (message.type === 'Reject') {
        expect(outcome).toEqual({ status: 'fulfilled', value: { ok: false, error: { total } } });
      } else {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason.code).toBe(ErrorCode.HandleThrew);
      }
    });
    expect(await system.read(ref)).toEqual({ state: { total: 48 }, version: 48 });
    await system.close();
  });

  it('commits appends of many entities in shared transactions, each with its own version check', async () => {
    const { store, commits } = counted((await places.place(kind)).newStore());
    const system = createSystem({ store, entities: [Tally] });
    const ids = Array.from({ length: 300 }, () => randomUUID());
    const results = await Promise.all(ids.map((id) => system.call(Tally.ref(id), { add: 2 })));
    expect(results.every((r) => r.ok && r.version === 1)).toBe(true);
    expect(commits.length).toBeLessThan(300 / 4);
    expect(Math.max(...commits)).toBeGreaterThan(1);
    for (const id of ids.slice(0, 20))
      expect(await system.read(Tally.ref(id))).toEqual({ state: { total: 2 }, version: 1 });
    await system.close();
  });

  it('fails a conflicting entity alone inside a shared commit: it decides again, the others commit', async () => {
    const place = await places.place(kind);
    const { store, commits } = counted(place.newStore());
    const system = createSystem({ store, entities: [Tally] });
    const other = createSystem({ store: place.newStore(), entities: [Tally] });
    const contested = Tally.ref(randomUUID());
    const calm = Array.from({ length: 50 }, () => Tally.ref(randomUUID()));
    // The other system keeps appending to the contested entity while this one commits batches.
    const [mine, theirs] = await Promise.all([
      Promise.all([
        ...calm.map((ref) => system.call(ref, { add: 1 })),
        ...Array.from({ length: 30 }, () => system.call(contested, { add: 1 })),
      ]),
      Promise.all(Array.from({ length: 30 }, () => other.call(contested, { add: 1 }))),
    ]);
    expect(mine.every((r) => r.ok)).toBe(true);
    expect(theirs.every((r) => r.ok)).toBe(true);
    expect(await system.read(contested)).toEqual({ state: { total: 60 }, version: 60 });
    for (const ref of calm) expect(await system.read(ref)).toEqual({ state: { total: 1 }, version: 1 });
    expect(commits.some((n) => n > 1)).toBe(true);
    await Promise.all([system.close(), other.close()]);
  });

  it('turns batching off with maxBatch: 1', async () => {
    const { store, commits } = counted((await places.place(kind)).newStore());
    const system = createSystem({ store, entities: [Tally], maxBatch: 1 });
    const ref = Tally.ref(randomUUID());
    await Promise.all(Array.from({ length: 20 }, () => system.call(ref, { add: 1 })));
    expect(commits).toEqual(Array.from({ length: 20 }, () => 1));
    await system.close();
  });
});
