/**
 * Guarantee 2: duplicates are safe. Two systems on one store (one memory store object, one SQLite
 * file, one PostgreSQL database) call the same entity at once and lose no update.
 */
import { randomUUID } from 'node:crypto';
import { createSystem, defineEffect, defineEntity, ErrorCode, isPachydermError, ok } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { Ledger } from './support/entities.js';
import { storeKinds, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();

describe.each(storeKinds)('duplicate workers on %s', (kind) => {
  it('loses no update when two systems call one entity at the same time', async () => {
    const place = await places.place(kind);
    const systems = [0, 1].map(() => createSystem({ store: place.newStore(), entities: [Ledger] }));
    const ref = Ledger.ref(randomUUID());
    const acknowledged = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 400 }, async (_, i) => {
        const callId = `call-${i}`;
        const result = await (systems[i % 2] as (typeof systems)[number]).call(ref, { type: 'Record', callId });
        if (!result.ok) throw new Error('unexpected rejection');
        acknowledged.set(callId, result.version);
      }),
    );
    // Every acknowledged call has its own version, and the versions are 1..400 without gaps.
    expect([...acknowledged.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

    const log: { version: number; callId: string }[] = [];
    for await (const { version, event } of (systems[0] as (typeof systems)[number]).events(ref)) {
      log.push({ version, callId: (event as { callId: string }).callId });
    }
    expect(log.map((e) => e.version)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    // Each acknowledged call appears once, at the version it was acknowledged with.
    expect(new Map(log.map((e) => [e.callId, e.version]))).toEqual(acknowledged);
    for (const system of systems) expect(await system.read(ref)).toEqual({ state: { count: 400 }, version: 400 });
    await Promise.all(systems.map((s) => s.close()));
  });

  it('runs handle again on the fresh state after losing, and runs no effect of the losing decision', async () => {
    const place = await places.place(kind);
    const ran: { seen: number; version: number }[] = [];
    const Note = defineEffect('Note', (payload: { seen: number }, ctx) => {
      ran.push({ seen: payload.seen, version: ctx.version });
    });
    const Seen = defineEntity({
      type: 'Seen',
      init: () => 0,
      // The event and the effect both carry the version the decision was made on.
      handle: (_message: { type: 'Go' }, state) => ok([{ seen: state }], [Note.with({ seen: state })]),
      update: (event, state) => {
        if (event.seen !== state) throw new Error(`decided on ${event.seen}, folded onto ${state}`);
        return state + 1;
      },
    });
    const systems = [0, 1].map(() =>
      createSystem({ store: place.newStore(), entities: [Seen], effects: [Note], snapshotEvery: 0 }),
    );
    const ref = Seen.ref(randomUUID());
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => (systems[i % 2] as (typeof systems)[number]).call(ref, { type: 'Go' })),
    );
    await Promise.all(systems.map((s) => s.close()));
    // Exactly one effect per committed decision: the effect of each commit saw the state before it.
    expect(ran.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (const r of ran) expect(r.seen).toBe(r.version - 1);
  });

  it('fails with CONFLICT_RETRIES_EXHAUSTED and commits nothing when retries run out', async () => {
    const place = await places.place(kind);
    const systems = [0, 1, 2].map(() =>
      createSystem({ store: place.newStore(), entities: [Ledger], maxConflictRetries: 0 }),
    );
    // Every system's store open first, so the three race on the log from the same start.
    await Promise.all(systems.map((s) => s.call(Ledger.ref(randomUUID()), { type: 'Record', callId: 'warm-up' })));
    const ref = Ledger.ref(randomUUID());
    const outcomes = await Promise.allSettled(
      Array.from({ length: 150 }, (_, i) =>
        (systems[i % 3] as (typeof systems)[number]).call(ref, { type: 'Record', callId: `c${i}` }),
      ),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ i, reason: o.reason as unknown }] : []));
    const succeeded = outcomes.filter((o) => o.status === 'fulfilled').length;
    expect(failed.length).toBeGreaterThan(0);
    for (const { reason } of failed) expect(isPachydermError(reason, ErrorCode.ConflictRetriesExhausted)).toBe(true);
    const logged = new Set<string>();
    for await (const { event } of (systems[0] as (typeof systems)[number]).events(ref)) {
      logged.add((event as { callId: string }).callId);
    }
    expect(logged.size).toBe(succeeded);
    for (const { i } of failed) expect(logged.has(`c${i}`)).toBe(false);
    await Promise.all(systems.map((s) => s.close()));
  });
});
