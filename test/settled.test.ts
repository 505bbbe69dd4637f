/**
 * Waiting in tests without sleeping: `await system.settled()` resolves once nothing is left to do
 * now (no call, delivery or effect under way, no outbox row due), and a test clock's advance that
 * reaches a timer's time is enough for it to be delivered: no extra `advance(0)`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineEffect, defineEntity, ErrorCode, ok, send, sendAfter, silentLogger } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';
import { createTestClock } from 'pachyderm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { storeKinds, useSystems } from './support/systems.js';

/** Passes a token down a chain of relays, `hops` times, then rings an alarm a minute later. */
const Relay = defineEntity({
  type: 'Relay',
  init: () => ({ seen: 0, rang: false }),
  handle(message: { type: 'Pass'; hops: number } | { type: 'Ring' }, _state, entity) {
    if (message.type === 'Ring') return ok([{ type: 'Rang' as const }], [Bell.with({ relay: entity.self.id })]);
    const next =
      message.hops > 0
        ? send(entity.ref(`${entity.self.id}+`), { type: 'Pass', hops: message.hops - 1 })
        : sendAfter(entity.self, { type: 'Ring' }, 60_000);
    return ok([{ type: 'Seen' as const }], [next]);
  },
  update: (event, state) => (event.type === 'Seen' ? { ...state, seen: state.seen + 1 } : { ...state, rang: true }),
});

let failuresLeft = 0;
const rung: string[] = [];
/** At least once; fails `failuresLeft` times first, so it is retried on the test clock. */
const Bell = defineEffect(
  'Bell',
  (payload: { relay: string }) => {
    if (failuresLeft-- > 0) throw new Error('bell stuck');
    rung.push(payload.relay);
  },
  { delivery: 'at-least-once', retry: { initialDelayMs: 1000, maxDelayMs: 1000 } },
);

const { place, start } = useSystems();

describe.each(storeKinds)('settled on %s', (kind) => {
  it('waits for a chain of messages, a timer reached by an advance, and a retried effect', async () => {
    const clock = createTestClock(Date.UTC(2026, 11, 2));
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Relay],
      effects: [Bell],
      clock,
      logger: silentLogger,
    });
    const first = randomUUID();
    rung.length = 0;
    failuresLeft = 2;
    await system.call(Relay.ref(first), { type: 'Pass', hops: 3 });
    await system.settled();
    const last = Relay.ref(`${first}+++`);
    expect((await system.read(last)).state).toEqual({ seen: 1, rang: false });
    expect((await system.stats()).pendingTimers).toBe(1);

    clock.advance(60_000); // exactly the timer's time
    await system.settled();
    expect((await system.read(last)).state.rang).toBe(true);
    expect(rung).toEqual([]); // the bell failed once and waits a second for its retry

    clock.advance(1000);
    await system.settled();
    expect(rung).toEqual([]);
    clock.advance(1000);
    await system.settled();
    expect(rung).toEqual([last.id]);
    expect(await system.stats()).toMatchObject({ depth: 0, pendingTimers: 0, delivered: 5, retries: 2 });
  });
});

describe('settled while the store is down', () => {
  const directory = mkdtemp(join(tmpdir(), 'pachyderm-settled-'));
  afterAll(async () => rm(await directory, { recursive: true, force: true }));

  it('rejects with STORE_UNAVAILABLE instead of resolving as if nothing were due', async () => {
    const system = start({
      store: sqliteStore({ filename: join(await directory, 'missing', 'app.db') }),
      entities: [Relay],
      logger: silentLogger,
    });
    await expect(system.settled()).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
  });
});
