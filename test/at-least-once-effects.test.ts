/**
 * At-least-once effects through the transactional outbox: written with the events, delivered
 * after the commit, retried with backoff (same idempotency key every attempt), dead-lettered after
 * `maxAttempts`, and retried from there on request.
 */
import { randomUUID } from 'node:crypto';
import { defineEffect, defineEntity, type EffectContext, type Logger, ok, type System } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it, vi } from 'vitest';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

interface Attempt {
  key: string;
  attempt: number;
  at: number;
  payload: unknown;
  version: number;
}

function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

/** Lets real time pass, for asserting that nothing happens. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 60));

/** Waits for an assertion, firing the test clock's due timers (the deliverer's wake-ups) meanwhile. */
function eventually(clock: { advance(ms: number): void }, assertion: () => unknown | Promise<unknown>) {
  return vi.waitFor(async () => {
    clock.advance(0);
    await assertion();
  });
}

/** Waits until the failed attempt is recorded in the outbox, so time moved after it counts from it. */
function failureRecorded(system: System, retrying = 1) {
  return vi.waitFor(async () => expect((await system.stats()).retrying).toBe(retrying));
}

describe.each(storeKinds)('at-least-once effects on %s', (kind) => {
  async function setup(behaviour: (ctx: EffectContext) => void | Promise<void>, maxAttempts = 10) {
    const clock = createTestClock(1_000_000);
    const attempts: Attempt[] = [];
    const Charge = defineEffect(
      'Charge',
      async (payload: { cents: number }, ctx) => {
        attempts.push({
          key: ctx.idempotencyKey,
          attempt: ctx.attempt,
          at: clock.now(),
          payload,
          version: ctx.version,
        });
        await behaviour(ctx);
      },
      { delivery: 'at-least-once', retry: { maxAttempts, initialDelayMs: 100, maxDelayMs: 1_000 } },
    );
    const Order = defineEntity({
      type: 'Order',
      init: () => ({ placed: 0 }),
      handle: (message: { type: 'Place'; cents: number }, _state) =>
        ok([{ type: 'Placed' as const, cents: message.cents }], [Charge.with({ cents: message.cents })]),
      update: (_event, state) => ({ placed: state.placed + 1 }),
    });
    const place = await running.place(kind);
    const { logger, lines } = recordingLogger();
    const system = running.start({ store: place.newStore(), entities: [Order], effects: [Charge], clock, logger });
    return { system, clock, attempts, Order, lines, place, Charge };
  }

  it('delivers after the commit, with the same idempotency key on every attempt and backoff between them', async () => {
    let failures = 3;
    const { system, clock, attempts, Order, lines } = await setup(() => {
      if (failures-- > 0) throw new Error('card declined');
    });
    const ref = Order.ref(randomUUID());
    const start = clock.now();
    expect(await system.call(ref, { type: 'Place', cents: 500 })).toEqual({
      ok: true,
      state: { placed: 1 },
      version: 1,
      position: expect.any(String),
    });
    await vi.waitFor(() => expect(attempts).toHaveLength(1));

    // Attempt n + 1 comes between half and all of 100 ms × 2^(n-1) after attempt n.
    for (const [n, full] of [
      [1, 100],
      [2, 200],
      [3, 400],
    ] as const) {
      await failureRecorded(system);
      const previous = (attempts[n - 1] as Attempt).at;
      clock.advance(previous + full / 2 - 1 - clock.now());
      await settle();
      expect(attempts).toHaveLength(n);
      clock.advance(previous + full - clock.now());
      await eventually(clock, () => expect(attempts).toHaveLength(n + 1));
    }
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(new Set(attempts.map((a) => a.key))).toEqual(new Set([`${ref.id}:1:0`]));
    expect(attempts.every((a) => a.version === 1 && (a.payload as { cents: number }).cents === 500)).toBe(true);
    expect(attempts[0]?.at).toBe(start);
    await vi.waitFor(async () => expect((await system.stats()).depth).toBe(0));
    // Each retry is a structured log line.
    const retries = lines.filter((l) => l.message.includes('retry'));
    expect(retries).toHaveLength(3);
    expect(retries[0]?.fields).toMatchObject({ name: 'Charge', idempotencyKey: `${ref.id}:1:0`, attempt: 1 });
    clock.advance(10_000);
    await settle();
    expect(attempts).toHaveLength(4);
  });

  it('never waits longer than maxDelayMs between attempts', async () => {
    const { system, clock, attempts, Order } = await setup(() => {
      throw new Error('down');
    }, 8);
    await system.call(Order.ref(randomUUID()), { type: 'Place', cents: 1 });
    await vi.waitFor(() => expect(attempts).toHaveLength(1));
    for (let n = 1; n < 8; n++) {
      await failureRecorded(system);
      clock.advance(1_000);
      await eventually(clock, () => expect(attempts).toHaveLength(n + 1));
    }
    const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i] as Attempt).at);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_000);
  });

  it('dead-letters an effect that always fails after maxAttempts, and retries it on request', async () => {
    let healthy = false;
    const { system, clock, attempts, Order, lines } = await setup(() => {
      if (!healthy) throw new Error('provider down');
    }, 3);
    const ref = Order.ref(randomUUID());
    await system.call(ref, { type: 'Place', cents: 700 });
    for (let n = 1; n <= 2; n++) {
      await failureRecorded(system);
      clock.advance(1_000);
      await eventually(clock, () => expect(attempts).toHaveLength(n + 1));
    }
    await vi.waitFor(async () => expect(await system.deadLetters()).toHaveLength(1));
    const [dead] = await system.deadLetters();
    expect(dead).toMatchObject({
      kind: 'effect',
      effect: 'Charge',
      payload: { cents: 700 },
      error: 'provider down',
      attempts: 3,
      source: { type: 'Order', id: ref.id, version: 1 },
      idempotencyKey: `${ref.id}:1:0`,
    });
    expect(lines.filter((l) => l.level === 'error' && l.message.includes('dead'))).toHaveLength(1);
    expect(await system.stats()).toMatchObject({ deadLetters: 1, depth: 0 });
    clock.advance(100_000);
    await settle();
    expect(attempts).toHaveLength(3);

    healthy = true;
    expect(await system.retryDeadLetter(dead?.id as string)).toBe(true);
    await eventually(clock, () => expect(attempts).toHaveLength(4));
    expect(attempts[3]).toMatchObject({ attempt: 1, key: `${ref.id}:1:0` });
    await vi.waitFor(async () => expect(await system.stats()).toMatchObject({ deadLetters: 0, depth: 0 }));
    expect(await system.retryDeadLetter(dead?.id as string)).toBe(false);
  });

  it('does not hold up the entity while an effect is slow', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { system, attempts, Order } = await setup(() => gate);
    const ref = Order.ref(randomUUID());
    await system.call(ref, { type: 'Place', cents: 1 });
    await vi.waitFor(() => expect(attempts).toHaveLength(1));
    expect(await system.call(ref, { type: 'Place', cents: 2 })).toMatchObject({ ok: true, version: 2 });
    expect((await system.stats()).inFlight).toBeGreaterThanOrEqual(1);
    release();
  });

  it('starts the effects of one entity in commit order', async () => {
    const { system, attempts, Order } = await setup(() => {});
    const ref = Order.ref(randomUUID());
    await Promise.all(Array.from({ length: 20 }, (_, i) => system.call(ref, { type: 'Place', cents: i })));
    await vi.waitFor(() => expect(attempts).toHaveLength(20));
    expect(attempts.map((a) => a.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('keeps an effect whose commit was refused out of the outbox', async () => {
    const { system, attempts, Order, place, Charge, clock } = await setup(() => {});
    // Leases compare times from each process's clock: both use the same one.
    const other = running.start({ store: place.newStore(), entities: [Order], effects: [Charge], clock });
    const ref = Order.ref(randomUUID());
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? system : other).call(ref, { type: 'Place', cents: i })),
    );
    await vi.waitFor(() => expect(attempts).toHaveLength(40));
    await settle();
    expect(attempts.map((a) => a.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
