/**
 * Durable timers: `sendAfter` / `sendAt` deliver a message once its time has come, also after a
 * restart in between; a keyed timer replaces the one before it; `cancelTimer` removes it; a timer
 * whose time passed while everything was down fires promptly, once. Time is the injected clock.
 */
import { randomUUID } from 'node:crypto';
import { cancelTimer, defineEntity, ok, type System, sendAfter, sendAt } from 'pachyderm';
import { createTestClock, type TestClock } from 'pachyderm/testing';
import { describe, expect, it, vi } from 'vitest';
import { type StorePlace, storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

type ReservationMessage =
  | { type: 'Reserve'; minutes: number; key?: string }
  | { type: 'ReserveUntil'; at: string }
  | { type: 'Cancel'; key: string }
  | { type: 'Expire'; note: string };

const Reservation = defineEntity({
  type: 'Reservation',
  init: () => ({ expired: [] as string[], reserved: 0 }),
  handle(message: ReservationMessage, state, { self }) {
    switch (message.type) {
      case 'Reserve': {
        const note = `after ${message.minutes} min (#${state.reserved})`;
        const options = message.key === undefined ? {} : { key: message.key };
        return ok(
          [{ type: 'Reserved' as const }],
          [sendAfter(self, { type: 'Expire', note }, message.minutes * 60_000, options)],
        );
      }
      case 'ReserveUntil':
        return ok(
          [{ type: 'Reserved' as const }],
          [sendAt(self, { type: 'Expire', note: `at ${message.at}` }, new Date(message.at))],
        );
      case 'Cancel':
        return ok([{ type: 'Cancelled' as const }], [cancelTimer(self, message.key)]);
      case 'Expire':
        return ok([{ type: 'Expired' as const, note: message.note }]);
    }
  },
  update(event, state) {
    if (event.type === 'Expired') return { ...state, expired: [...state.expired, event.note] };
    if (event.type === 'Reserved') return { ...state, reserved: state.reserved + 1 };
    return state;
  },
});
/** The entity the current test talks to. */
let currentId = '';

const minutes = (n: number) => n * 60_000;

describe.each(storeKinds)('timers on %s', (kind) => {
  function start(place: StorePlace, clock: TestClock) {
    const system = running.start({ store: place.newStore(), entities: [Reservation], clock });
    return system;
  }
  async function expired(system: System): Promise<string[]> {
    return (await system.read(Reservation.ref(currentId))).state.expired;
  }

  it('fires after the delay, not before', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    await system.call(Reservation.ref(currentId), { type: 'Reserve', minutes: 15 });
    expect((await system.stats()).pendingTimers).toBe(1);
    clock.advance(minutes(15) - 1);
    await system.settled();
    expect(await expired(system)).toEqual([]);
    clock.advance(1);
    await system.settled();
    expect(await expired(system)).toEqual(['after 15 min (#0)']);
    expect((await system.stats()).pendingTimers).toBe(0);
  });

  it('fires on the advance that reaches its time, with no further advance', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    await system.call(Reservation.ref(currentId), { type: 'Reserve', minutes: 15 });
    // Right after the commit, while the deliverer is still looking at the outbox.
    clock.advance(minutes(15));
    await vi.waitFor(async () => expect(await expired(system)).toEqual(['after 15 min (#0)']));
  });

  it('survives a restart that happens before its time', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const place = await running.place(kind);
    const first = start(place, clock);
    currentId = randomUUID();
    await first.call(Reservation.ref(currentId), { type: 'Reserve', minutes: 30 });
    await first.close();
    clock.advance(minutes(10));
    const second = start(place, clock);
    clock.advance(minutes(20));
    await second.settled();
    expect(await expired(second)).toEqual(['after 30 min (#0)']);
  });

  it('fires late but once when everything was down at its time', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const place = await running.place(kind);
    const first = start(place, clock);
    currentId = randomUUID();
    await first.call(Reservation.ref(currentId), { type: 'Reserve', minutes: 5 });
    await first.close();
    clock.advance(minutes(60));
    const second = start(place, clock);
    const third = start(place, clock);
    await vi.waitFor(async () => expect(await expired(second)).toEqual(['after 5 min (#0)']));
    clock.advance(minutes(60));
    await Promise.all([second, third].map((s) => s.settled()));
    expect(await expired(third)).toEqual(['after 5 min (#0)']);
  });

  it('replaces a keyed timer with a new one for the same target and key', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    const ref = Reservation.ref(currentId);
    await system.call(ref, { type: 'Reserve', minutes: 10, key: 'expiry' });
    await system.call(ref, { type: 'Reserve', minutes: 20, key: 'expiry' });
    await system.call(ref, { type: 'Reserve', minutes: 15, key: 'reminder' });
    expect((await system.stats()).pendingTimers).toBe(2);
    clock.advance(minutes(30));
    await system.settled();
    expect(await expired(system)).toHaveLength(2);
    // Both were due in the same moment and fire side by side: their order is not promised.
    expect([...(await expired(system))].sort()).toEqual(['after 15 min (#2)', 'after 20 min (#1)']);
  });

  it('keeps one pending timer per target and key when keyed timers are decided in one batch', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    const ref = Reservation.ref(currentId);
    // The first call is decided alone; the four after it wait together: one batch, one append.
    await Promise.all([
      system.call(ref, { type: 'Cancel', key: 'none' }),
      ...[1, 2, 3, 4].map((m) => system.call(ref, { type: 'Reserve', minutes: m, key: 'k' })),
    ]);
    expect((await system.stats()).pendingTimers).toBe(1);
    clock.advance(minutes(10));
    await system.settled();
    expect(await expired(system)).toHaveLength(1);
    // The last decided replaces the others.
    expect(await expired(system)).toEqual(['after 4 min (#3)']);
  });

  it('applies a keyed timer and its cancel in the order decided within one batch', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    const ref = Reservation.ref(currentId);
    await Promise.all([
      system.call(ref, { type: 'Cancel', key: 'none' }),
      system.call(ref, { type: 'Reserve', minutes: 1, key: 'gone' }),
      system.call(ref, { type: 'Cancel', key: 'gone' }),
      system.call(ref, { type: 'Cancel', key: 'kept' }),
      system.call(ref, { type: 'Reserve', minutes: 2, key: 'kept' }),
    ]);
    expect((await system.stats()).pendingTimers).toBe(1);
    clock.advance(minutes(10));
    await system.settled();
    expect(await expired(system)).toEqual(['after 2 min (#1)']);
  });

  it('removes a keyed timer on cancelTimer', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    const ref = Reservation.ref(currentId);
    await system.call(ref, { type: 'Reserve', minutes: 10, key: 'expiry' });
    await system.call(ref, { type: 'Reserve', minutes: 12 });
    await system.call(ref, { type: 'Cancel', key: 'expiry' });
    expect((await system.stats()).pendingTimers).toBe(1);
    clock.advance(minutes(60));
    await system.settled();
    expect(await expired(system)).toEqual(['after 12 min (#1)']);
    expect(await expired(system)).toEqual(['after 12 min (#1)']);
  });

  it('delivers sendAt at its date, and at once when the date has passed', async () => {
    const clock = createTestClock(Date.UTC(2026, 10, 28, 12));
    const system = start(await running.place(kind), clock);
    currentId = randomUUID();
    const ref = Reservation.ref(currentId);
    await system.call(ref, { type: 'ReserveUntil', at: '2026-11-28T13:00:00.000Z' });
    await system.call(ref, { type: 'ReserveUntil', at: '2026-11-28T11:00:00.000Z' });
    await vi.waitFor(async () => expect(await expired(system)).toEqual(['at 2026-11-28T11:00:00.000Z']));
    clock.advance(minutes(59));
    await system.settled();
    expect(await expired(system)).toHaveLength(1);
    clock.advance(minutes(1));
    await system.settled();
    expect(await expired(system)).toHaveLength(2);
  });
});
