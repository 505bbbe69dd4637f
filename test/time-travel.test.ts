/**
 * Time travel: `system.read(ref, { at })` is the state as of version `at`, folded from the latest
 * usable snapshot at or before it. Checked against the state after each event that `follow` gives,
 * with a snapshot in the middle of the log (one after `at` must not be used), on every store.
 */
import { randomUUID } from 'node:crypto';
import { createSystem, defineEntity, ErrorCode, ok, type System } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

/** `update` calls since the last reset: the events a read folded. */
let folded = 0;

const Ledger = defineEntity({
  type: 'Ledger',
  init: () => ({ total: 0, entries: [] as number[] }),
  handle(message: { add: number }) {
    return ok([{ amount: message.add }]);
  },
  update(event, state) {
    folded++;
    return { total: state.total + event.amount, entries: [...state.entries, event.amount] };
  },
});

/** The state after each version of the log, as `follow` folds it (index 0: the first state). */
async function statesByVersion(system: System, id: string, last: number) {
  const states: unknown[] = [Ledger.init()];
  for await (const followed of system.follow(Ledger.ref(id))) {
    states[followed.version] = followed.state;
    if (followed.version === last) break;
  }
  return states;
}

describe.each(storeKinds)('time travel on %s', (kind) => {
  it('read({ at }) is the state after event `at` for every version, using a snapshot only at or before it', async () => {
    const place = await places.place(kind);
    const id = `ledger-${randomUUID()}`;
    const writer = createSystem({ store: place.newStore(), entities: [Ledger], snapshotEvery: 10 });
    for (let i = 1; i <= 25; i++) await writer.call(Ledger.ref(id), { add: i * 3 });
    await writer.close();

    // A fresh system, as an operator's tool would be: it reads from the store.
    const system = createSystem({ store: place.newStore(), entities: [Ledger], snapshotEvery: 10 });
    try {
      const expected = await statesByVersion(system, id, 25);
      for (let at = 0; at <= 25; at++) {
        const read = await system.read(Ledger.ref(id), { at });
        expect(read).toEqual({ state: expected[at], version: at });
      }
      // The snapshot at 20 is used for 23 (three events folded), not for 15 (fifteen from the start).
      folded = 0;
      await system.read(Ledger.ref(id), { at: 23 });
      expect(folded).toBe(3);
      folded = 0;
      await system.read(Ledger.ref(id), { at: 15 });
      expect(folded).toBe(15);
      // Past the end: the latest state, whose version says where the log ends.
      expect(await system.read(Ledger.ref(id), { at: 1000 })).toEqual({ state: expected[25], version: 25 });
    } finally {
      await system.close();
    }
  });

  it('refuses an `at` that is not a whole number >= 0, with INVALID_CONFIGURATION', async () => {
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Ledger] });
    try {
      for (const at of [-1, 1.5, Number.NaN, '3' as unknown as number]) {
        await expect(system.read(Ledger.ref('x'), { at })).rejects.toMatchObject({
          code: ErrorCode.InvalidConfiguration,
        });
      }
      expect(await system.read(Ledger.ref('never-written'), { at: 5 })).toEqual({
        state: Ledger.init(),
        version: 0,
      });
    } finally {
      await system.close();
    }
  });
});
