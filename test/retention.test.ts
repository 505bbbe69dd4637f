/**
 * Retention: the answers of idempotent calls and the ids of handled messages are forgotten once
 * older than their windows (`retention`), by a pruner that runs in the background on the system's
 * clock and deletes a few hundred rows per statement, never all at once. What is inside its window,
 * or kept for ever (`Infinity`), stays. On memory, SQLite and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { createSystem, defineEntity, memoryStore, ok, send } from 'pachyderm';
import type { Pruned, PruneRequest, Store } from 'pachyderm/store';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { storeKinds, useSystems } from './support/systems.js';

const HOUR = 3600_000;

const Inbox = defineEntity({
  type: 'Inbox',
  init: () => ({ count: 0 }),
  handle: (message: { type: 'Note'; n: number } | { type: 'Keyed'; key: string }, _state) =>
    ok([{ type: 'Got' as const, ...(message.type === 'Note' ? { n: message.n } : { key: message.key }) }]),
  update: (_event, state) => ({ count: state.count + 1 }),
});

const Sender = defineEntity({
  type: 'Sender',
  init: () => ({}),
  handle: (message: { to: string; count: number }) =>
    ok(
      [{ type: 'Sent' as const, count: message.count }],
      Array.from({ length: message.count }, (_, n) => send(Inbox.ref(message.to), { type: 'Note' as const, n })),
    ),
  update: (_event, state) => state,
});

/** The store, with every prune it is asked for recorded. */
function recordingPrunes(store: Store): { store: Store; prunes: { request: PruneRequest; pruned: Pruned }[] } {
  const prunes: { request: PruneRequest; pruned: Pruned }[] = [];
  return {
    prunes,
    store: {
      ...store,
      async prune(request) {
        const pruned = await store.prune(request);
        prunes.push({ request, pruned });
        return pruned;
      },
    },
  };
}

const total = (prunes: readonly { pruned: Pruned }[], kind: keyof Pruned) =>
  prunes.reduce((sum, { pruned }) => sum + pruned[kind], 0);

describe.each(storeKinds)('retention on %s', (kind) => {
  const { place, start } = useSystems();

  it('forgets keys and message ids past their windows in the background, a batch at a time', async () => {
    const where = await place(kind);
    const { store, prunes } = recordingPrunes(where.newStore());
    const clock = createTestClock(1_000_000);
    const system = start({
      store,
      entities: [Inbox, Sender],
      clock,
      retention: { idempotencyKeysMs: HOUR, handledMessageIdsMs: 2 * HOUR },
    });
    const run = randomUUID();
    const keys = Array.from({ length: 1100 }, (_, n) => `${run}-${n}`);
    await Promise.all(
      keys.map((key, n) => system.call(Inbox.ref(`${run}-${n % 20}`), { type: 'Keyed', key }, { idempotencyKey: key })),
    );
    const targets = Array.from({ length: 6 }, (_, n) => `${run}-to-${n}`);
    await Promise.all(targets.map((to) => system.call(Sender.ref(`${run}-from`), { to, count: 100 })));
    await system.settled();
    for (const to of targets) expect((await system.read(Inbox.ref(to))).version).toBe(100);
    const live = async () => {
      let found = 0;
      for (let n = 0; n < 20; n++) {
        const mine = keys.filter((_, i) => i % 20 === n);
        found +=
          (await store.readAnswers([{ streamId: `${run}-${n}`, keys: mine }], Number.MIN_SAFE_INTEGER))[0]?.length ?? 0;
      }
      return found;
    };
    expect(await live()).toBe(1100);

    /** The pruner runs each minute of the system's clock. */
    const minutes = async (count: number) => {
      for (let i = 0; i < count; i++) {
        clock.advance(60_000);
        await system.settled();
      }
    };
    // Nothing is past its window yet: the pruner ran at the start and each minute, and forgot nothing.
    await minutes(59);
    expect(prunes.length).toBeGreaterThanOrEqual(60);
    expect(total(prunes, 'keys') + total(prunes, 'messageIds')).toBe(0);
    // The keys' window ends; at the pruner's next minute they go, a batch at a time.
    await minutes(2);
    expect(await live()).toBe(0);
    expect(total(prunes, 'keys')).toBeGreaterThanOrEqual(1100);
    expect(prunes.filter(({ pruned }) => pruned.keys > 0).length).toBeGreaterThanOrEqual(3);
    for (const { request, pruned } of prunes) {
      expect(request.limit).toBeLessThanOrEqual(500);
      expect(pruned.keys).toBeLessThanOrEqual(request.limit);
      expect(pruned.messageIds).toBeLessThanOrEqual(request.limit);
    }
    // The message ids' window is twice as long.
    expect(total(prunes, 'messageIds')).toBe(0);
    await minutes(60);
    expect(total(prunes, 'messageIds')).toBeGreaterThanOrEqual(600);
    expect(prunes.filter(({ pruned }) => pruned.messageIds > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps what is inside its window, and everything when the window is Infinity', async () => {
    const where = await place(kind);
    const { store, prunes } = recordingPrunes(where.newStore());
    const clock = createTestClock(5_000);
    const system = start({
      store,
      entities: [Inbox, Sender],
      clock,
      retention: { idempotencyKeysMs: Number.POSITIVE_INFINITY, handledMessageIdsMs: Number.POSITIVE_INFINITY },
    });
    const key = `k-${randomUUID()}`;
    const ref = Inbox.ref(randomUUID());
    const first = await system.call(ref, { type: 'Keyed', key }, { idempotencyKey: key });
    await system.call(Sender.ref(randomUUID()), { to: ref.id, count: 3 });
    await system.settled();
    clock.advance(10 * 365 * 24 * HOUR);
    await system.settled();
    expect(await system.call(ref, { type: 'Keyed', key }, { idempotencyKey: key })).toEqual(first);
    expect(total(prunes, 'keys') + total(prunes, 'messageIds')).toBe(0);
  });
});

describe('the retention option', () => {
  it('refuses windows that are not a number of milliseconds >= 1', () => {
    for (const retention of [
      { idempotencyKeysMs: 0 },
      { idempotencyKeysMs: -5 },
      { handledMessageIdsMs: Number.NaN },
      { handledMessageIdsMs: '1000' },
      'a day',
    ]) {
      expect(() => createSystem({ store: memoryStore(), entities: [Inbox], retention: retention as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
      );
    }
  });
});
