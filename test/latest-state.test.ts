/**
 * Every answer is decided on the latest state: rejections and decisions without events included,
 * and every delivered message or timer. Two systems on one store (one memory store object, one
 * SQLite file, one PostgreSQL database); one of them holds a loaded copy of an entity that the other
 * then changes. The stale copy must never decide: the answer is decided on the log's version at some
 * moment during the call (linearizable per entity).
 */
import { randomUUID } from 'node:crypto';
import { defineEntity, error, ok, send, sendAfter } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it, vi } from 'vitest';
import { storeKinds, useSystems } from './support/systems.js';

const Cart = defineEntity({
  type: 'Cart',
  init: () => ({ items: [] as string[], checkedOut: false }),
  handle(message: { type: 'Add'; item: string } | { type: 'Checkout' } | { type: 'Look' }, state) {
    if (message.type === 'Look') return ok([]);
    if (message.type === 'Add') return ok([{ type: 'Added' as const, item: message.item }]);
    if (state.items.length === 0) return error('empty' as const);
    return ok([{ type: 'CheckedOut' as const }]);
  },
  update(event, state) {
    return event.type === 'Added' ? { ...state, items: [...state.items, event.item] } : { ...state, checkedOut: true };
  },
});

type SeatMessage =
  | { type: 'Hold'; holder: string; minutes?: number }
  | { type: 'Expire'; holder: string }
  | { type: 'Look' };

/** A seat hold, modelled on Restate's ticket example: the expiry of a hold that is gone is a no-op. */
const Seat = defineEntity({
  type: 'Seat',
  init: () => ({ holder: null as string | null, expired: [] as string[] }),
  handle(message: SeatMessage, state, { self }) {
    switch (message.type) {
      case 'Hold': {
        const expiry = { type: 'Expire' as const, holder: message.holder };
        const timer = message.minutes === undefined ? [] : [sendAfter(self, expiry, message.minutes * 60_000)];
        return ok([{ type: 'Held' as const, holder: message.holder }], timer);
      }
      case 'Expire':
        return state.holder === message.holder ? ok([{ type: 'Expired' as const, holder: message.holder }]) : ok([]);
      case 'Look':
        return ok([]);
    }
  },
  update(event, state) {
    if (event.type === 'Held') return { ...state, holder: event.holder };
    return { holder: null, expired: [...state.expired, event.holder] };
  },
});

/** Sends an expiry to a seat: a message delivered through the outbox of the system that calls it. */
const Clerk = defineEntity({
  type: 'Clerk',
  handle: (message: { seat: string; holder: string }, _state) =>
    ok([{ type: 'Sent' as const }], [send(Seat.ref(message.seat), { type: 'Expire', holder: message.holder })]),
  update: (_event, state: undefined) => state,
});

const { place, start } = useSystems();

describe.each(storeKinds)('decisions on the latest state on %s', (kind) => {
  it('answers a rejection from the latest state, not from a loaded copy another system made stale', async () => {
    const shared = await place(kind);
    const a = start({ store: shared.newStore(), entities: [Cart] });
    const b = start({ store: shared.newStore(), entities: [Cart] });
    const cart = Cart.ref(randomUUID());
    // B loads the cart, empty.
    expect(await b.call(cart, { type: 'Checkout' })).toEqual({ ok: false, error: 'empty' });
    expect(await a.call(cart, { type: 'Add', item: 'book' })).toMatchObject({ ok: true, version: 1 });
    expect((await b.read(cart)).state.items).toEqual(['book']);
    expect(await b.call(cart, { type: 'Checkout' })).toEqual({
      ok: true,
      state: { items: ['book'], checkedOut: true },
      version: 2,
      position: expect.any(String),
    });
  });

  it('answers from the latest state after its own commits, when another system appended since', async () => {
    const shared = await place(kind);
    const a = start({ store: shared.newStore(), entities: [Cart] });
    const b = start({ store: shared.newStore(), entities: [Cart] });
    const cart = Cart.ref(randomUUID());
    await b.call(cart, { type: 'Add', item: 'a' });
    await b.call(cart, { type: 'Add', item: 'b' }); // B's copy is its own latest commit
    await a.call(cart, { type: 'Add', item: 'c' });
    expect(await b.call(cart, { type: 'Look' })).toEqual({
      ok: true,
      state: { items: ['a', 'b', 'c'], checkedOut: false },
      version: 3,
      position: '',
    });
    expect(await b.call(cart, { type: 'Look' })).toMatchObject({ version: 3 });
  });

  it('answers from the latest state when two systems share one store object, one joining and leaving', async () => {
    const store = (await place(kind)).newStore();
    const a = start({ store, entities: [Cart] });
    const cart = Cart.ref(randomUUID());
    await a.call(cart, { type: 'Add', item: 'a' }); // A alone on the store object, its copy at version 1
    const b = start({ store, entities: [Cart] });
    await b.call(cart, { type: 'Add', item: 'b' });
    await b.call(cart, { type: 'Add', item: 'c' });
    await b.close(); // A is the one user again, with a copy B made stale
    expect(await a.call(cart, { type: 'Look' })).toEqual({
      ok: true,
      state: { items: ['a', 'b', 'c'], checkedOut: false },
      version: 3,
      position: '',
    });
  });

  it('answers a decision without events from the latest state', async () => {
    const shared = await place(kind);
    const a = start({ store: shared.newStore(), entities: [Seat] });
    const b = start({ store: shared.newStore(), entities: [Seat] });
    const seat = Seat.ref(randomUUID());
    expect(await b.call(seat, { type: 'Look' })).toMatchObject({ version: 0, state: { holder: null } });
    await a.call(seat, { type: 'Hold', holder: 'alice' });
    expect(await b.call(seat, { type: 'Look' })).toEqual({
      ok: true,
      state: { holder: 'alice', expired: [] },
      version: 1,
      position: '',
    });
  });

  it('handles a delivered message on the latest state: an expiry is not lost as a no-op', async () => {
    const shared = await place(kind);
    // A never looks at the outbox (it writes no rows, and polls once an hour): B delivers.
    const a = start({ store: shared.newStore(), entities: [Seat, Clerk], pollIntervalMs: 3_600_000 });
    const b = start({ store: shared.newStore(), entities: [Seat, Clerk] });
    const seat = Seat.ref(randomUUID());
    await b.call(seat, { type: 'Look' });
    await a.call(seat, { type: 'Hold', holder: 'alice' });
    await b.call(Clerk.ref(randomUUID()), { seat: seat.id, holder: 'alice' });
    await vi.waitFor(async () => expect((await b.stats()).delivered).toBe(1));
    expect((await a.read(seat)).state).toEqual({ holder: null, expired: ['alice'] });
  });

  it('handles a timer on the latest state: a hold made elsewhere expires', async () => {
    const shared = await place(kind);
    const clock = createTestClock(Date.UTC(2026, 11, 2));
    const a = start({ store: shared.newStore(), entities: [Seat], clock });
    // B keeps its copy loaded across the ten minutes.
    const b = start({ store: shared.newStore(), entities: [Seat], clock, idleTimeoutMs: 3_600_000 });
    const seat = Seat.ref(randomUUID());
    await b.call(seat, { type: 'Look' });
    await a.call(seat, { type: 'Hold', holder: 'alice', minutes: 10 });
    await a.close(); // the timer is not due: A never delivers it
    clock.advance(10 * 60_000);
    await vi.waitFor(async () => {
      clock.advance(0);
      expect((await b.stats()).delivered).toBe(1);
    });
    expect((await b.read(seat)).state).toEqual({ holder: null, expired: ['alice'] });
  });
});
