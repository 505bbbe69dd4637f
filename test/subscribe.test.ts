/**
 * subscribe: every committed event of some entity types, in one order that keeps each log's
 * versions, from a position kept by the caller (exclusive), then live; with writers in two systems.
 * On PostgreSQL the feed never passes a transaction that has not committed, and never skips it.
 */
import { randomUUID } from 'node:crypto';
import type { SubscribedEvent } from 'pachyderm';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Account, Note } from './support/accounts.js';
import { storeKinds, useSystems } from './support/systems.js';

/** Collects a feed until `count` items or `ms` pass, then stops it. */
async function collect<T>(feed: (signal: AbortSignal) => AsyncIterable<T>, count: number, ms = 3000): Promise<T[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const items: T[] = [];
  try {
    for await (const item of feed(controller.signal)) {
      items.push(item);
      if (items.length === count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return items;
}

const summary = (events: readonly SubscribedEvent<unknown>[]) => events.map((e) => `${e.ref.id}@${e.version}`);

describe.each(storeKinds)('subscribe on %s', (kind) => {
  const { place, start } = useSystems();

  it('delivers the events of the asked types in feed order, per-log version order, from a kept position', async () => {
    const where = await place(kind);
    const one = start({ store: where.newStore(), entities: [Account, Note] });
    const two = start({ store: where.newStore(), entities: [Account, Note] });
    const ids = Array.from({ length: 5 }, () => randomUUID());
    // Two systems write the same logs at once: duplicate workers, conflicts, retries.
    await Promise.all(
      [one, two].flatMap((system) =>
        ids.flatMap((id) => [1, 2, 3].map((amount) => system.call(Account.ref(id), { type: 'Deposit', amount }))),
      ),
    );
    await one.call(Note.ref(randomUUID()), { text: 'not an account' });
    const events = await collect((signal) => one.subscribe({ entities: [Account], signal }), 30);
    expect(events).toHaveLength(30);
    expect(events.every((e) => e.ref.type === 'Account')).toBe(true);
    for (const id of ids) {
      expect(events.filter((e) => e.ref.id === id).map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    const positions = events.map((e) => e.position);
    expect([...positions].sort()).toEqual(positions);
    expect(new Set(positions).size).toBe(30);

    const after = positions[11] as string;
    const rest = await collect((signal) => two.subscribe({ entities: [Account], after, signal }), 18);
    expect(summary(rest)).toEqual(summary(events.slice(12)));
  });

  it('goes on live with commits made after it started', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Account] });
    const id = randomUUID();
    const feed = collect((signal) => system.subscribe({ entities: [Account], signal }), 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const first = await system.call(Account.ref(id), { type: 'Deposit', amount: 1 });
    await system.call(Account.ref(id), { type: 'Withdraw', amount: 1 });
    const events = await feed;
    expect(events.map((e) => e.event)).toEqual([
      { type: 'Deposited', amount: 1 },
      { type: 'Withdrawn', amount: 1 },
    ]);
    expect(events[0]?.position).toBe(first.ok && first.position);
  });

  it('refuses an after that is not a position', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Account] });
    await expect(collect((signal) => system.subscribe({ after: 'nonsense', signal }), 1)).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
  });
});

describe('subscribe on postgres, with a transaction held open', () => {
  const { place, start } = useSystems();

  it('stops before an uncommitted event, delivers it once committed, and is not stalled by a rollback', async () => {
    const where = await place('postgres');
    const { url, schema } = where.address as { url: string; schema: string };
    const system = start({ store: where.newStore(), entities: [Account], pollIntervalMs: 20 });
    await system.call(Account.ref('before'), { type: 'Deposit', amount: 1 });
    const held = new pg.Client({ connectionString: url });
    const rolledBack = new pg.Client({ connectionString: url });
    await Promise.all([held.connect(), rolledBack.connect()]);
    const appendIn = (client: pg.Client, id: string) =>
      client.query(
        `SELECT * FROM "${schema}".commit_batch(ARRAY[$1], ARRAY[0], ARRAY[1], ARRAY['{"type":"Deposited","amount":50}'],
           0, ARRAY[]::text[], ARRAY[0], ARRAY['Account'], NULL, false, ARRAY[1])`,
        [id],
      );
    try {
      await held.query('BEGIN');
      await appendIn(held, 'held');
      await system.call(Account.ref('after'), { type: 'Deposit', amount: 2 });
      // Other transactions of the cluster may delay the feed a moment (never make it skip).
      const seen = await collect((signal) => system.subscribe({ entities: [Account], signal }), 1);
      expect(summary(seen)).toEqual(['before@1']);
      const after = seen[0]?.position as string;
      const blocked = await collect((signal) => system.subscribe({ entities: [Account], after, signal }), 2, 300);
      expect(summary(blocked)).toEqual([]);
      expect(await system.read(Account.ref('after'))).toMatchObject({ version: 1 });

      await held.query('COMMIT');
      const released = await collect((signal) => system.subscribe({ entities: [Account], signal }), 3);
      expect(summary(released)).toEqual(['before@1', 'held@1', 'after@1']);

      await rolledBack.query('BEGIN');
      await appendIn(rolledBack, 'rolled-back');
      await system.call(Account.ref('later'), { type: 'Deposit', amount: 3 });
      await rolledBack.query('ROLLBACK');
      const rest = await collect(
        (signal) => system.subscribe({ entities: [Account], after: released[2]?.position as string, signal }),
        1,
      );
      expect(summary(rest)).toEqual(['later@1']);
    } finally {
      await Promise.all([held.end(), rolledBack.end()]);
    }
  });
});
