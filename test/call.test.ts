import { randomUUID } from 'node:crypto';
import { type createSystem, defineEntity, ok } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { AdminMailer, Counter, Ledger } from './support/entities.js';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

describe.each(storeKinds)('calls and reads on %s', (kind) => {
  async function start(options: Partial<Parameters<typeof createSystem>[0]> = {}) {
    const place = await running.place(kind);
    const sent: unknown[] = [];
    const system = running.start({
      store: place.newStore(),
      entities: [Counter, Ledger],
      effects: [AdminMailer],
      context: { sent },
      ...options,
    });
    return { system, place, sent };
  }

  it('answers with the committed state and version', async () => {
    const { system } = await start();
    const ref = Counter.ref(randomUUID());
    expect(await system.call(ref, { type: 'Increment' })).toEqual({
      ok: true,
      state: { count: 1 },
      version: 1,
      position: expect.any(String),
    });
    expect(await system.call(ref, { type: 'Increment' })).toEqual({
      ok: true,
      state: { count: 2 },
      version: 2,
      position: expect.any(String),
    });
  });

  it('makes refs plain data', () => {
    const id = randomUUID();
    expect(Counter.ref(id)).toStrictEqual({ type: 'Counter', id });
  });

  it('answers a domain rejection as a value and commits nothing', async () => {
    const { system } = await start();
    const ref = Ledger.ref(randomUUID());
    await system.call(ref, { type: 'Record', callId: 'a' });
    expect(await system.call(ref, { type: 'Fail' })).toEqual({ ok: false, error: 'refused' });
    expect(await system.read(ref)).toEqual({ state: { count: 1 }, version: 1 });
  });

  it('answers a decision without events with the current state, committing nothing', async () => {
    const { system } = await start();
    const ref = Ledger.ref(randomUUID());
    await system.call(ref, { type: 'Record', callId: 'a' });
    expect(await system.call(ref, { type: 'Peek' })).toEqual({
      ok: true,
      state: { count: 1 },
      version: 1,
      position: '',
    });
    expect(await system.read(ref)).toEqual({ state: { count: 1 }, version: 1 });
  });

  it('reads version 0 and the initial state for an entity never called', async () => {
    const { system } = await start();
    expect(await system.read(Counter.ref(randomUUID()))).toEqual({ state: { count: 0 }, version: 0 });
  });

  it('starts from undefined when the definition has no init', async () => {
    const Tally = defineEntity({
      type: 'Tally',
      handle: (message: { add: number }, _state: number | undefined) => ok([{ add: message.add }]),
      update: (event, state) => (state ?? 0) + event.add,
    });
    const { system } = await start({ entities: [Tally] });
    const ref = Tally.ref(randomUUID());
    expect(await system.read(ref)).toEqual({ state: undefined, version: 0 });
    expect(await system.call(ref, { add: 5 })).toEqual({
      ok: true,
      state: 5,
      version: 1,
      position: expect.any(String),
    });
  });

  it('reads the latest committed state, including events another system appended', async () => {
    const { system, place } = await start();
    const other = running.start({ store: place.newStore(), entities: [Counter] });
    const ref = Counter.ref(randomUUID());
    await system.call(ref, { type: 'Increment' });
    await other.call(ref, { type: 'Increment' });
    await other.call(ref, { type: 'Increment' });
    expect(await system.read(ref)).toEqual({ state: { count: 3 }, version: 3 });
    // The loaded worker catches up too: its next decision is made on version 3.
    expect(await system.call(ref, { type: 'Increment' })).toEqual({
      ok: true,
      state: { count: 4 },
      version: 4,
      position: expect.any(String),
    });
  });

  it('lists the log as { version, event, recordedAt } from a version, inclusive', async () => {
    const clock = createTestClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    const { system } = await start({ clock });
    const ref = Counter.ref(randomUUID());
    for (let i = 0; i < 3; i++) await system.call(ref, { type: 'Increment' });
    const all = [];
    for await (const recorded of system.events(ref)) all.push(recorded);
    expect(all).toEqual(
      [1, 2, 3].map((version) => ({
        version,
        event: { type: 'Increased', amount: 1 },
        recordedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      })),
    );
    const fromTwo = [];
    for await (const recorded of system.events(ref, { from: 2 })) fromTwo.push(recorded.version);
    expect(fromTwo).toEqual([2, 3]);
  });

  it('names the log by id alone: refs of two types with one id read the same log', async () => {
    const CounterV2 = defineEntity({
      type: 'CounterV2',
      init: () => ({ total: 0 }),
      handle: (_message: { type: 'Increment' }, _state) => ok([{ type: 'Increased' as const, amount: 1 }]),
      update: (event: { amount: number }, state) => ({ total: state.total + event.amount }),
    });
    const { system } = await start({ entities: [Counter, CounterV2] });
    const id = randomUUID();
    await system.call(Counter.ref(id), { type: 'Increment' });
    await system.call(Counter.ref(id), { type: 'Increment' });
    expect(await system.read(CounterV2.ref(id))).toEqual({ state: { total: 2 }, version: 2 });
    expect(await system.call(CounterV2.ref(id), { type: 'Increment' })).toEqual({
      ok: true,
      state: { total: 3 },
      version: 3,
      position: expect.any(String),
    });
  });
});
