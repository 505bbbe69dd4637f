/**
 * Loaded workers are a cache: idle ones are unloaded after `idleTimeoutMs`, and past `maxActive`
 * the least recently used go first. An unloaded entity loads again from the store.
 */
import { randomUUID } from 'node:crypto';
import { createSystem, defineEntity, ok } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

/** Counts activations: `init` runs once per load of an entity that has no snapshot. */
function countingCounter() {
  const loads: string[] = [];
  let current = '';
  const Counter = defineEntity({
    type: 'Counter',
    init: () => {
      loads.push(current);
      return { count: 0 };
    },
    handle: (_message: { type: 'Increment' }, _state) => ok([{ amount: 1 }]),
    update: (event, state) => ({ count: state.count + event.amount }),
  });
  const call = (system: ReturnType<typeof createSystem>, id: string) => {
    current = id;
    return system.call(Counter.ref(id), { type: 'Increment' });
  };
  return { Counter, loads, call };
}

describe.each(storeKinds)('passivation on %s', (kind) => {
  it('unloads an entity idle for idleTimeoutMs and loads it again from the store', async () => {
    const clock = createTestClock();
    const { Counter, loads, call } = countingCounter();
    const system = createSystem({
      store: (await places.place(kind)).newStore(),
      entities: [Counter],
      clock,
      idleTimeoutMs: 1_000,
    });
    const id = randomUUID();
    await call(system, id);
    clock.advance(500);
    await call(system, id);
    expect(loads).toEqual([id]);
    clock.advance(999);
    await call(system, id);
    expect(loads).toEqual([id]);
    clock.advance(2_000);
    expect(await call(system, id)).toEqual({
      ok: true,
      state: { count: 4 },
      version: 4,
      position: expect.any(String),
    });
    expect(loads).toEqual([id, id]);
    await system.close();
  });

  it('keeps at most maxActive entities loaded, unloading the least recently used first', async () => {
    const { Counter, loads, call } = countingCounter();
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Counter], maxActive: 2 });
    const [a, b, c] = [`a-${randomUUID()}`, `b-${randomUUID()}`, `c-${randomUUID()}`];
    await call(system, a);
    await call(system, b);
    await call(system, a); // a is now the most recently used
    await call(system, c); // b goes
    expect(loads).toEqual([a, b, c]);
    await call(system, a);
    expect(loads).toEqual([a, b, c]);
    expect(await call(system, b)).toEqual({
      ok: true,
      state: { count: 2 },
      version: 2,
      position: expect.any(String),
    });
    expect(loads).toEqual([a, b, c, b]);
    await system.close();
  });

  it('never unloads an entity with messages in its mailbox', async () => {
    const { Counter, call } = countingCounter();
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Counter], maxActive: 1 });
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const results = await Promise.all(ids.flatMap((id) => Array.from({ length: 20 }, () => call(system, id))));
    const perId = new Map<string, number[]>();
    results.forEach((r, i) => {
      const id = ids[Math.floor(i / 20)] as string;
      perId.set(id, [...(perId.get(id) ?? []), r.ok ? r.version : -1]);
    });
    for (const versions of perId.values()) {
      expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
    await system.close();
  });
});
