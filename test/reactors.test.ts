/**
 * Reactors: a handler for the outside world, at least once per event, in feed order, with one
 * idempotency key per event (`<id>:<version>`); retries with backoff, then stops or skips; on
 * every store, memory included.
 */
import { randomUUID } from 'node:crypto';
import { defineReactor, silentLogger } from 'pachyderm';
import { describe, expect, it, vi } from 'vitest';
import { Account, Note } from './support/accounts.js';
import { storeKinds, useSystems } from './support/systems.js';

describe.each(storeKinds)('reactors on %s', (kind) => {
  const { place, start } = useSystems();

  it('hands every event of its types to the handler in order, with the context and a key per event', async () => {
    const seen: string[] = [];
    const Indexer = defineReactor({
      name: 'indexer',
      entities: [Account],
      async handle(event, meta, ctx) {
        (ctx.context as { index: string[] }).index.push(`${ctx.idempotencyKey} ${event.type} ${event.amount}`);
        seen.push(`${meta.ref.type} ${meta.version} ${typeof meta.position} ${meta.recordedAt instanceof Date}`);
      },
    });
    const index: string[] = [];
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Account, Note],
      reactors: [Indexer],
      context: { index },
    });
    const id = randomUUID();
    await system.call(Account.ref(id), { type: 'Deposit', amount: 5 });
    await system.call(Note.ref(id), { text: 'not for the indexer' });
    const last = await system.call(Account.ref(id), { type: 'Withdraw', amount: 2 });
    await system.projection(Indexer).waitFor(last.ok ? last.position : '');
    expect(index.filter((line) => line.startsWith(id))).toEqual([`${id}:1 Deposited 5`, `${id}:3 Withdrawn 2`]);
    expect(seen).toEqual(['Account 1 string true', 'Account 3 string true']);
  });

  it('retries a throwing handler with the same key and a growing attempt, then goes on', async () => {
    const attempts: string[] = [];
    const Flaky = defineReactor({
      name: 'flaky',
      entities: [Account],
      retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 },
      handle(_event, _meta, ctx) {
        attempts.push(`${ctx.idempotencyKey}#${ctx.attempt}`);
        if (ctx.attempt < 3) throw new Error('not yet');
      },
    });
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Account],
      reactors: [Flaky],
      logger: silentLogger,
    });
    const id = randomUUID();
    const r = await system.call(Account.ref(id), { type: 'Deposit', amount: 1 });
    await system.projection(Flaky).waitFor(r.ok ? r.position : '');
    expect(attempts).toEqual([`${id}:1#1`, `${id}:1#2`, `${id}:1#3`]);
  });

  it("stops at an event that keeps failing ('stop'), and goes on from it after resume", async () => {
    let failing = true;
    const handled: number[] = [];
    const Strict = defineReactor({
      name: 'strict',
      entities: [Account],
      retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 },
      handle(event, meta) {
        if (failing && event.amount === 2) throw new Error('amount 2 is refused');
        handled.push(meta.version);
      },
    });
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Account],
      reactors: [Strict],
      logger: silentLogger,
    });
    const id = randomUUID();
    for (const amount of [1, 2]) await system.call(Account.ref(id), { type: 'Deposit', amount });
    const last = await system.call(Account.ref(id), { type: 'Deposit', amount: 3 });
    const position = last.ok ? last.position : '';
    await expect(system.projection(Strict).waitFor(position)).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect(system.projection(Strict).status()).toMatchObject({ state: 'failed', lastError: 'amount 2 is refused' });
    expect(handled).toEqual([1]);
    failing = false;
    await system.projection(Strict).resume();
    await system.projection(Strict).waitFor(position);
    expect(handled).toEqual([1, 2, 3]);
  });

  it('refuses two read-side definitions with one name, and a handle that is not a function', async () => {
    const store = (await place(kind)).newStore();
    const a = defineReactor({ name: 'same', entities: [Account], handle() {} });
    expect(() => start({ store, entities: [Account], reactors: [a, a] })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
    );
    expect(() => defineReactor({ name: 'x', entities: [Account], handle: 1 as never })).toThrow(/handle/);
    expect(() => defineReactor({ name: 'x', entities: [], handle() {} })).toThrow(/entities/);
  });

  // Two systems on one memory store share its object (and its lease owner's view): SQLite and PostgreSQL.
  it.skipIf(kind === 'memory')(
    'an idle runner keeps renewing its lease: another system does not take the reactor over',
    async () => {
      const where = await place(kind);
      const handledBy: string[] = [];
      const reactor = (who: string) =>
        defineReactor({ name: 'keeper', entities: [Account], handle: () => void handledBy.push(who) });
      const timing = { leaseMs: 300, pollIntervalMs: 20, logger: silentLogger };
      const first = start({ store: where.newStore(), entities: [Account], reactors: [reactor('first')], ...timing });
      await first.call(Account.ref('a'), { type: 'Deposit', amount: 1 });
      await vi.waitFor(() => expect(handledBy).toEqual(['first']));
      const second = start({ store: where.newStore(), entities: [Account], reactors: [reactor('second')], ...timing });
      // Idle for several leases: the first renews its lease every half lease, so the second never gets it.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      await second.call(Account.ref('a'), { type: 'Deposit', amount: 2 });
      await vi.waitFor(() => expect(handledBy).toHaveLength(2));
      expect(handledBy).toEqual(['first', 'first']);
    },
  );
});
