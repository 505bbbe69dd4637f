/**
 * Guarantee 3: effects run only for committed decisions, in the order returned, each at most
 * once, with `ctx = { context, ref, version, idempotencyKey }`.
 */
import { randomUUID } from 'node:crypto';
import {
  createSystem,
  defineEffect,
  defineEntity,
  type EffectFailedError,
  ErrorCode,
  isPachydermError,
  type Logger,
  ok,
} from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { AdminMailer, Counter } from './support/entities.js';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

const calls: { name: string; payload: unknown; ctx: unknown }[] = [];
const First = defineEffect('First', (payload: { n: number }, ctx) => {
  calls.push({ name: 'First', payload, ctx: { ...ctx } });
});
const Second = defineEffect('Second', async (payload: { n: number }, ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  calls.push({ name: 'Second', payload, ctx: { ...ctx } });
});
const Broken = defineEffect('Broken', () => {
  throw new Error('mail server down');
});
const Unregistered = defineEffect('Unregistered', () => {});

const Shop = defineEntity({
  type: 'Shop',
  init: () => ({ orders: 0 }),
  handle(
    message:
      | { type: 'Order'; n: number }
      | { type: 'Break' }
      | { type: 'EffectOnly' }
      | { type: 'Unregistered' }
      | { type: 'Reject' },
    _state,
  ) {
    switch (message.type) {
      case 'Order':
        return ok(
          [
            { type: 'Ordered', n: message.n },
            { type: 'Ordered', n: message.n + 0.5 },
          ],
          [First.with({ n: message.n }), Second.with({ n: message.n }), First.with({ n: message.n + 1 })],
        );
      case 'Break':
        return ok([{ type: 'Ordered', n: -1 }], [Broken.with(undefined), First.with({ n: -1 })]);
      case 'EffectOnly':
        return ok([], [First.with({ n: 0 })]);
      case 'Unregistered':
        return ok([{ type: 'Ordered', n: 0 }], [Unregistered.with(undefined)]);
      case 'Reject':
        return { ok: false, reason: 'no' } as const;
    }
  },
  update: (_event, state) => ({ orders: state.orders + 1 }),
});

describe.each(storeKinds)('effects on %s', (kind) => {
  async function start(options: { onEffectError?: (e: EffectFailedError) => void; logger?: Logger } = {}) {
    calls.length = 0;
    const context = { app: 'shop' };
    const system = createSystem({
      store: (await places.place(kind)).newStore(),
      entities: [Shop, Counter],
      effects: [First, Second, Broken, AdminMailer],
      context,
      ...options,
    });
    return { system, context };
  }

  it('runs effects after the commit, in the order returned, with context, ref, version and key', async () => {
    const { system, context } = await start();
    const ref = Shop.ref(randomUUID());
    await system.call(ref, { type: 'Order', n: 1 });
    await system.call(ref, { type: 'Order', n: 10 });
    await system.close();
    expect(calls).toEqual([
      {
        name: 'First',
        payload: { n: 1 },
        ctx: { context, ref, version: 2, idempotencyKey: `${ref.id}:2:0`, attempt: 1 },
      },
      {
        name: 'Second',
        payload: { n: 1 },
        ctx: { context, ref, version: 2, idempotencyKey: `${ref.id}:2:1`, attempt: 1 },
      },
      {
        name: 'First',
        payload: { n: 2 },
        ctx: { context, ref, version: 2, idempotencyKey: `${ref.id}:2:2`, attempt: 1 },
      },
      {
        name: 'First',
        payload: { n: 10 },
        ctx: { context, ref, version: 4, idempotencyKey: `${ref.id}:4:0`, attempt: 1 },
      },
      {
        name: 'Second',
        payload: { n: 10 },
        ctx: { context, ref, version: 4, idempotencyKey: `${ref.id}:4:1`, attempt: 1 },
      },
      {
        name: 'First',
        payload: { n: 11 },
        ctx: { context, ref, version: 4, idempotencyKey: `${ref.id}:4:2`, attempt: 1 },
      },
    ]);
  });

  it('runs an effect only once its events are in the store', async () => {
    const place = await places.place(kind);
    const seen: { stored: number; committed: number }[] = [];
    const store = place.newStore();
    const Check = defineEffect('Check', async (_payload: null, ctx) => {
      const reader = createSystem({ store: place.newStore(), entities: [Counter] });
      seen.push({ stored: (await reader.read(Counter.ref(ctx.ref.id))).version, committed: ctx.version });
      await reader.close();
    });
    const Checked = defineEntity({
      type: 'Counter',
      init: () => 0,
      handle: (_message: { type: 'Go' }, _state) => ok([{ type: 'Increased', amount: 1 }], [Check.with(null)]),
      update: (_event, state) => state + 1,
    });
    const system = createSystem({ store, entities: [Checked], effects: [Check] });
    const ref = Checked.ref(randomUUID());
    for (let i = 0; i < 3; i++) await system.call(ref, { type: 'Go' });
    await system.close();
    expect(seen.map((s) => s.committed)).toEqual([1, 2, 3]);
    for (const { stored, committed } of seen) expect(stored).toBeGreaterThanOrEqual(committed);
  });

  it('runs the admin mail of the counter exactly at ten', async () => {
    calls.length = 0;
    const sent: { payload: unknown; version: number; key: string }[] = [];
    const system = createSystem({
      store: (await places.place(kind)).newStore(),
      entities: [Counter],
      effects: [AdminMailer],
      context: { sent },
    });
    const ref = Counter.ref(randomUUID());
    for (let i = 0; i < 12; i++) await system.call(ref, { type: 'Increment' });
    await system.close();
    expect(sent).toEqual([{ payload: { threshold: 10 }, version: 10, key: `${ref.id}:10:0` }]);
  });

  it('refuses effects without events, committing nothing', async () => {
    const { system } = await start();
    const ref = Shop.ref(randomUUID());
    const failure = await system.call(ref, { type: 'EffectOnly' }).catch((e: unknown) => e);
    expect(isPachydermError(failure, ErrorCode.EffectsWithoutEvents)).toBe(true);
    await system.close();
    expect(calls).toEqual([]);
  });

  it('refuses an effect the system does not register, naming it, before anything is committed', async () => {
    const { system } = await start();
    const ref = Shop.ref(randomUUID());
    const failure = await system.call(ref, { type: 'Unregistered' }).catch((e: unknown) => e);
    expect(isPachydermError(failure, ErrorCode.UnknownEffect)).toBe(true);
    expect((failure as Error).message).toContain('Unregistered');
    expect(await system.read(ref)).toEqual({ state: { orders: 0 }, version: 0 });
    expect(await system.call(ref, { type: 'Order', n: 1 })).toMatchObject({ ok: true, version: 2 });
    await system.close();
  });

  it('runs no effect for a rejected decision', async () => {
    const { system } = await start();
    await system.call(Shop.ref(randomUUID()), { type: 'Reject' });
    await system.close();
    expect(calls).toEqual([]);
  });

  it('reports a failing effect to onEffectError and the log, and never fails the call or the state', async () => {
    const reported: EffectFailedError[] = [];
    const logged: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (message, fields) => logged.push({ message, fields }),
    };
    const { system } = await start({ onEffectError: (e) => reported.push(e), logger });
    const ref = Shop.ref(randomUUID());
    expect(await system.call(ref, { type: 'Break' })).toEqual({
      ok: true,
      state: { orders: 1 },
      version: 1,
      position: expect.any(String),
    });
    await system.close();
    expect(reported).toHaveLength(1);
    const [failure] = reported as [EffectFailedError];
    expect(failure.code).toBe(ErrorCode.EffectFailed);
    expect(failure).toMatchObject({ effect: 'Broken', ref, version: 1, idempotencyKey: `${ref.id}:1:0` });
    expect((failure.cause as Error).message).toBe('mail server down');
    expect(logged).toEqual([
      expect.objectContaining({ message: 'effect failed', fields: expect.objectContaining({ effect: 'Broken' }) }),
    ]);
    // The effect after the failing one still ran.
    expect(calls.map((c) => c.payload)).toEqual([{ n: -1 }]);
  });

  it('does not hold up the entity while an effect runs', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const Slow = defineEffect('Slow', () => gate);
    const Gated = defineEntity({
      type: 'Gated',
      init: () => 0,
      handle: (_message: { type: 'Go' }, _state) => ok([1], [Slow.with(null)]),
      update: (_event, state) => state + 1,
    });
    const system = createSystem({ store: (await places.place(kind)).newStore(), entities: [Gated], effects: [Slow] });
    const ref = Gated.ref(randomUUID());
    await system.call(ref, { type: 'Go' });
    expect(await system.call(ref, { type: 'Go' })).toEqual({
      ok: true,
      state: 2,
      version: 2,
      position: expect.any(String),
    });
    release();
    await system.close();
  });
});
