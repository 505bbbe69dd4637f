import { randomUUID } from 'node:crypto';
import { createSystem, ErrorCode } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { Ledger } from './support/entities.js';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

describe.each(storeKinds)('closing on %s', (kind) => {
  it('finishes accepted calls before closing, and refuses new ones', async () => {
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Ledger] });
    const ref = Ledger.ref(randomUUID());
    const accepted = Array.from({ length: 50 }, (_, i) => system.call(ref, { type: 'Record', callId: `c${i}` }));
    const closed = system.close();
    await expect(system.call(ref, { type: 'Record', callId: 'late' })).rejects.toMatchObject({
      code: ErrorCode.SystemClosed,
    });
    const results = await Promise.all(accepted);
    expect(results.map((r) => (r.ok ? r.version : 0))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await closed;
    await system.close(); // idempotent
  });

  it('shares one store object between systems and closes it when the last one closes', async () => {
    const store = (await places.place(kind)).newStore();
    const first = createSystem({ store, entities: [Ledger] });
    const second = createSystem({ store, entities: [Ledger] });
    const ref = Ledger.ref(randomUUID());
    await first.call(ref, { type: 'Record', callId: 'a' });
    await first.close();
    expect(await second.call(ref, { type: 'Record', callId: 'b' })).toEqual({
      ok: true,
      state: { count: 2 },
      version: 2,
      position: expect.any(String),
    });
    await second.close();
    if (kind !== 'memory') {
      await expect(store.readStreams([{ streamId: ref.id, fromVersion: 1 }], 1)).rejects.toMatchObject({
        code: ErrorCode.StoreUnavailable,
        message: expect.stringContaining('not open'),
      });
    }
    // A new system on the same object opens it again and finds everything.
    const third = createSystem({ store, entities: [Ledger] });
    expect(await third.read(ref)).toEqual({ state: { count: 2 }, version: 2 });
    await third.close();
  });
});
