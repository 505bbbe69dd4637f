/**
 * Several group commits in flight at once (PostgreSQL's `inFlight`): the store sees commits overlap,
 * never two appends of one log in flight together, and every log's events reach the feed in version
 * order with none missing.
 */
import { randomUUID } from 'node:crypto';
import type { Store, SubscribedEvent } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { describe, expect, it } from 'vitest';
import { Account } from './support/accounts.js';
import { useSystems } from './support/systems.js';

describe('commits in flight together on postgres', () => {
  const { place, start } = useSystems();

  it('overlaps commits of different logs, never two of one log, and keeps each log in order in the feed', async () => {
    const where = await place('postgres');
    const { url, schema } = where.address as { url: string; schema: string };
    const store = postgresStore({ connectionString: url, schema, poolSize: 8, inFlight: 4 });
    const inFlight = new Set<string>();
    let overlapping = 0;
    let sameLogTwice = 0;
    const watched: Store = {
      ...store,
      async commit(request) {
        const ids = request.appends.map((append) => append.streamId);
        if (inFlight.size > 0) overlapping++;
        for (const id of ids) {
          if (inFlight.has(id)) sameLogTwice++;
          inFlight.add(id);
        }
        try {
          // A slow commit: the next ones start while it is in flight.
          await new Promise((resolve) => setTimeout(resolve, 15));
          return await store.commit(request);
        } finally {
          for (const id of ids) inFlight.delete(id);
        }
      },
    };
    const system = start({ store: watched, entities: [Account] });
    const ids = Array.from({ length: 80 }, () => randomUUID());
    const rounds = 12;
    const called = new Map<string, number>();
    // Each round calls 40 logs, half of them new: the new ones commit while the others are in flight,
    // and a log called again waits for its append before the next.
    const pending: Promise<unknown>[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < 40; k++) {
        const id = ids[(round * 20 + k) % ids.length] as string;
        called.set(id, (called.get(id) ?? 0) + 1);
        pending.push(system.call(Account.ref(id), { type: 'Deposit', amount: 1 }));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    expect(sameLogTwice).toBe(0);
    expect(overlapping).toBeGreaterThan(0);

    const total = [...called.values()].reduce((sum, n) => sum + n, 0);
    const events: SubscribedEvent<unknown>[] = [];
    const controller = new AbortController();
    for await (const event of system.subscribe({ entities: [Account], signal: controller.signal })) {
      events.push(event);
      if (events.length === total) controller.abort();
    }
    for (const [id, count] of called) {
      expect(events.filter((e) => e.ref.id === id).map((e) => e.version)).toEqual(
        Array.from({ length: count }, (_, i) => i + 1),
      );
    }
  });
});
