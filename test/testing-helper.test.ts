import { defineEffect, defineEntity, ErrorCode, error, ok } from 'pachyderm';
import { createTestClock, given } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { AdminMailer, Counter } from './support/entities.js';

const Notify = defineEffect('Notify', (_payload: { at: string }) => {});

const Booking = defineEntity({
  type: 'Booking',
  init: () => ({ seats: 2, holders: [] as string[] }),
  handle(message: { type: 'Book'; who: string; at: Date }, state) {
    if (state.seats === 0) return error({ code: 'full' as const });
    if (state.holders.includes(message.who)) throw new Error('double booking');
    return ok(
      [{ type: 'Booked' as const, who: message.who, at: message.at }],
      [Notify.with({ at: message.at.toISOString() })],
    );
  },
  update: (event, state) => ({ seats: state.seats - 1, holders: [...state.holders, event.who] }),
});

describe('given / when / then', () => {
  it('checks the events a message records', () => {
    given(Counter)
      .when({ type: 'Increment' })
      .then([{ type: 'Increased', amount: 1 }]);
    expect(() =>
      given(Counter)
        .when({ type: 'Increment' })
        .then([{ type: 'Increased', amount: 2 }]),
    ).toThrow();
  });

  it('folds the given events first and checks effects and state', () => {
    const nine = Array.from({ length: 9 }, () => ({ type: 'Increased' as const, amount: 1 }));
    given(Counter, nine)
      .when({ type: 'Increment' })
      .thenEffects([AdminMailer.with({ threshold: 10 })]);
    given(Counter, nine).when({ type: 'Increment' }).thenState({ count: 10 });
    given(Counter, []).when({ type: 'Increment' }).thenEffects([]);
    expect(() =>
      given(Counter, [])
        .when({ type: 'Increment' })
        .thenEffects([AdminMailer.with({ threshold: 10 })]),
    ).toThrow();
  });

  it('compares events in their stored form (Dates as ISO strings)', () => {
    const at = new Date('2026-11-28T10:00:00Z');
    given(Booking)
      .when({ type: 'Book', who: 'ann', at })
      .then([{ type: 'Booked', who: 'ann', at }]);
  });

  it('checks a rejection', () => {
    const at = new Date(0);
    const booked = [
      { type: 'Booked' as const, who: 'a', at },
      { type: 'Booked' as const, who: 'b', at },
    ];
    given(Booking, booked).when({ type: 'Book', who: 'c', at }).thenError({ code: 'full' });
    expect(() => given(Booking, booked).when({ type: 'Book', who: 'c', at }).then([])).toThrow(/rejected/);
    expect(() => given(Booking).when({ type: 'Book', who: 'c', at }).thenError({ code: 'full' })).toThrow(/accepted/);
  });

  it('checks a fault by its code', () => {
    const at = new Date(0);
    given(Booking, [{ type: 'Booked', who: 'a', at }])
      .when({ type: 'Book', who: 'a', at })
      .thenThrows(ErrorCode.HandleThrew);
    const Empty = defineEntity({
      type: 'Empty',
      handle: () => ok([], [Notify.with({ at: '' })]),
      update: () => undefined,
    });
    given(Empty)
      .when(undefined as never)
      .thenThrows(ErrorCode.EffectsWithoutEvents);
    expect(() => given(Counter).when({ type: 'Increment' }).thenThrows(ErrorCode.HandleThrew)).toThrow(/succeeded/);
  });

  it('survives being awaited by mistake', async () => {
    const then = await Promise.resolve(given(Counter).when({ type: 'Increment' }) as unknown);
    expect(typeof (then as { thenState: unknown }).thenState).toBe('function');
  });
});

describe('test clock', () => {
  it('runs due callbacks in time order as time advances', () => {
    const clock = createTestClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    const cancel = clock.setTimeout(() => fired.push('x'), 15);
    clock.setTimeout(() => fired.push('a'), 10);
    cancel();
    clock.advance(15);
    expect(fired).toEqual(['a']);
    expect(clock.now()).toBe(1_015);
    clock.advance(5);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.pending).toBe(0);
  });
});
