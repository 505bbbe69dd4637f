/**
 * Several processes share one outbox: a row is delivered by one of them at a time, and each row
 * once when nothing fails. (A process that dies holding a lease: see outbox-crash.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import { defineEffect, defineEntity, ok, type System } from 'pachyderm';
import { describe, expect, it, vi } from 'vitest';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

describe.each(storeKinds)('outbox leases on %s', (kind) => {
  it('never delivers one row on two systems at the same time, and delivers each once', async () => {
    const inFlight = new Set<string>();
    const runs = new Map<string, number>();
    let overlaps = 0;
    const Slow = defineEffect(
      'Slow',
      async (_payload: null, ctx) => {
        if (inFlight.has(ctx.idempotencyKey)) overlaps++;
        inFlight.add(ctx.idempotencyKey);
        runs.set(ctx.idempotencyKey, (runs.get(ctx.idempotencyKey) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight.delete(ctx.idempotencyKey);
      },
      { delivery: 'at-least-once' },
    );
    const Job = defineEntity({
      type: 'Job',
      init: () => 0,
      handle: (_message: { type: 'Run' }, _state) => ok([{ type: 'Ran' as const }], [Slow.with(null)]),
      update: (_event, state) => state + 1,
    });
    const place = await running.place(kind);
    const systems = [0, 1, 2].map(() =>
      running.start({
        store: place.newStore(),
        entities: [Job],
        effects: [Slow],
        pollIntervalMs: 20,
        outboxBatchSize: 8,
      }),
    );
    const ids = Array.from({ length: 10 }, () => randomUUID());
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (systems[i % 3] as System).call(Job.ref(ids[i % 10] as string), { type: 'Run' }),
      ),
    );
    await vi.waitFor(async () => expect((await (systems[0] as System).stats()).depth).toBe(0), { timeout: 10_000 });
    expect(runs.size).toBe(60);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(overlaps).toBe(0);
    const delivered = await Promise.all(systems.map(async (s) => (await s.stats()).delivered));
    expect(delivered.reduce((a, b) => a + b, 0)).toBe(60);
  });
});
