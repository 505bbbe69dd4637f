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
    let release: () => void = () => {};
    let begun: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      begun = resolve;
    });
    const overlap = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sameLogTwice = 0;
    const watched: Store = {
      ...store,
      async commit(request) {
        const ids = request.appends.map((append) => append.streamId);
        begun();
        if (inFlight.size > 0) overlapping++;
        for (const id of ids) {
          if (inFlight.has(id)) sameLogTwice++;
          inFlight.add(id);
        }
        try {
          // The first commit waits (up to 2 s) until another one starts beside it.
          if (overlapping > 0) release();
          else await Promise.race([overlap, new Promise((resolve) => setTimeout(resolve, 2000))]);
          return await store.commit(request);
        } finally {
          for (const id of ids) inFlight.delete(id);
        }
      },
    };
    const system = start({ store: watched, entities: [Account] });
    // Half the logs are called first; the other half once the first commit has started, which
    // waits for another beside it: theirs. Each log is called five times (its later calls wait
    // for its earlier append).
    const [first, later] = [0, 1].map(() => Array.from({ length: 40 }, () => randomUUID()));
    const callAll = (ids: string[]) =>
      ids.flatMap((id) =>
        Array.from({ length: 5 }, () => system.call(Account.ref(id), { type: 'Deposit', amount: 1 })),
      );
    const pending = callAll(first as string[]);
    await started;
    pending.push(...callAll(later as string[]));
    await Promise.all(pending);
    expect(sameLogTwice).toBe(0);
    expect(overlapping).toBeGreaterThan(0);

    const events: SubscribedEvent<unknown>[] = [];
    const controller = new AbortController();
    for await (const event of system.subscribe({ entities: [Account], signal: controller.signal })) {
      events.push(event);
      if (events.length === 80 * 5) controller.abort();
    }
    for (const id of [...(first as string[]), ...(later as string[])]) {
      expect(events.filter((e) => e.ref.id === id).map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
    }
  });
});
