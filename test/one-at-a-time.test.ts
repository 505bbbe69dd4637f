/** Guarantee 1: one entity handles one message at a time, in arrival order; entities run concurrently. */
import { randomUUID } from 'node:crypto';
import { createSystem, defineEntity, ok } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { AdminMailer, Counter } from './support/entities.js';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

describe.each(storeKinds)('one message at a time on %s', (kind) => {
  it('gives 500 concurrent calls to one entity the distinct answers 1..500', async () => {
    const system = createSystem({
      store: (await places.place(kind)).newStore(),
      entities: [Counter],
      effects: [AdminMailer],
      context: { sent: [] },
    });
    const ref = Counter.ref(randomUUID());
    const results = await Promise.all(Array.from({ length: 500 }, () => system.call(ref, { type: 'Increment' })));
    const versions = results.map((r) => (r.ok ? r.version : -1));
    expect(new Set(versions).size).toBe(500);
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    // Each answer's state matches its version: no two calls saw the same state.
    for (const result of results) expect(result.ok && result.state.count === result.version).toBe(true);
    await system.close();
  });

  it('handles messages in arrival order', async () => {
    const Sequence = defineEntity({
      type: 'Sequence',
      init: () => [] as number[],
      handle: (message: { n: number }, _state) => ok([message.n]),
      update: (event, state) => [...state, event],
    });
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Sequence] });
    const ref = Sequence.ref(randomUUID());
    const results = await Promise.all(Array.from({ length: 100 }, (_, n) => system.call(ref, { n })));
    expect(results.map((r) => (r.ok ? r.version : 0))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect((await system.read(ref)).state).toEqual(Array.from({ length: 100 }, (_, n) => n));
    await system.close();
  });

  it('runs different entities concurrently while each stays sequential', async () => {
    const trace: string[] = [];
    let inside = 0;
    let overlapped = false;
    const Traced = defineEntity({
      type: 'Traced',
      init: () => 0,
      handle(_message: { type: 'Go' }, state) {
        inside++;
        if (inside > 1) overlapped = true;
        inside--;
        return ok([{ after: state }]);
      },
      update: (_event, state) => state + 1,
    });
    const store = (await places.place(kind)).newStore();
    const committed: string[][] = [];
    const system = createSystem({
      store: {
        ...store,
        commit: (request) => {
          committed.push(request.appends.map((append) => append.streamId));
          return store.commit(request);
        },
      },
      entities: [Traced],
    });
    const [a, b] = [Traced.ref(`a-${randomUUID()}`), Traced.ref(`b-${randomUUID()}`)];
    const calls = [];
    for (let i = 0; i < 50; i++) {
      calls.push(system.call(a, { type: 'Go' }).then((r) => trace.push(`a${r.ok && r.version}`)));
      calls.push(system.call(b, { type: 'Go' }).then((r) => trace.push(`b${r.ok && r.version}`)));
    }
    await Promise.all(calls);
    expect(overlapped).toBe(false);
    // b does not wait for all of a's messages: a commit carries appends of both.
    expect(committed.some((ids) => ids.includes(a.id) && ids.includes(b.id))).toBe(true);
    // Each entity's answers arrive in its own order.
    expect(trace.filter((t) => t.startsWith('a'))).toEqual(Array.from({ length: 50 }, (_, i) => `a${i + 1}`));
    await system.close();
  });
});
