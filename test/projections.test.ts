/**
 * Projections into the application's own tables: async ones exactly once (statements and
 * checkpoint in one transaction, one runner at a time), read-your-writes with `waitFor`, inline ones
 * in the commit's transaction, visible failures, rebuilds; on SQLite and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { defineProjection, inline, memoryStore, type System, silentLogger, sql } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';
import { describe, expect, it } from 'vitest';
import { Account, balancesProjection, Note } from './support/accounts.js';
import { useSystems } from './support/systems.js';

/** The balances of these accounts (the tables are shared by the cases of a file). */
async function balances(system: System, ids: readonly string[]) {
  const rows = await system.query(sql`SELECT id, balance FROM balances ORDER BY id`);
  return Object.fromEntries(rows.filter((r) => ids.includes(r.id as string)).map((r) => [r.id, Number(r.balance)]));
}

async function appliedCount(system: System, ids: readonly string[]) {
  const rows = await system.query(sql`SELECT id FROM applied`);
  return rows.filter((r) => ids.includes(r.id as string)).length;
}

describe.each(['sqlite', 'postgres'] as const)('projections on %s', (kind) => {
  const { place, start } = useSystems();

  it('applies every event once, and waitFor(position) gives read-your-writes', async () => {
    const Balances = balancesProjection();
    const system = start({ store: (await place(kind)).newStore(), entities: [Account, Note], projections: [Balances] });
    const [a, b] = [randomUUID(), randomUUID()];
    await system.call(Account.ref(a), { type: 'Deposit', amount: 10 });
    await system.call(Note.ref(a), { text: 'ignored' });
    const r = await system.call(Account.ref(b), { type: 'Deposit', amount: 5 });
    await system.call(Account.ref(a), { type: 'Withdraw', amount: 3 });
    const last = await system.call(Account.ref(b), { type: 'Withdraw', amount: 1 });
    expect(r.ok && last.ok).toBe(true);
    await system.projection(Balances).waitFor(last.ok ? last.position : '');
    expect(await balances(system, [a, b])).toEqual({ [a]: 7, [b]: 4 });
    const status = system.projection(Balances).status();
    expect(status).toMatchObject({ name: 'balances', mode: 'async', state: 'live', lastError: undefined });
    expect(status.position >= (last.ok ? last.position : '~')).toBe(true);
    const negative = await system.query(sql`SELECT id FROM balances WHERE balance < ${0}`);
    expect(negative).toEqual([]);
  });

  it('applies each event exactly once while two systems run the same projection', async () => {
    const where = await place(kind);
    const Balances = balancesProjection();
    const systems = [0, 1].map(() =>
      start({
        store: where.newStore(),
        entities: [Account],
        projections: [Balances],
        leaseMs: 200,
        logger: silentLogger,
      }),
    );
    const ids = Array.from({ length: 8 }, () => randomUUID());
    const results = await Promise.all(
      ids.flatMap((id, i) =>
        [1, 2, 3, 4].map((n) => (systems[(i + n) % 2] as System).call(Account.ref(id), { type: 'Deposit', amount: n })),
      ),
    );
    const latest = results
      .map((r) => (r.ok ? r.position : ''))
      .sort()
      .at(-1) as string;
    await Promise.all(systems.map((system) => system.projection(Balances).waitFor(latest)));
    expect(await appliedCount(systems[0] as System, ids)).toBe(32);
    expect(await balances(systems[1] as System, ids)).toEqual(Object.fromEntries(ids.map((id) => [id, 10])));
    expect(systems.map((s) => s.projection(Balances).status().state)).toEqual(['live', 'live']);
  });

  it('commits an inline projection with the events; a failing one fails only its own calls', async () => {
    let broken = '';
    const Totals = defineProjection({
      name: 'totals',
      entities: [Account],
      setup: [
        sql`CREATE TABLE IF NOT EXISTS totals (id TEXT PRIMARY KEY, total INTEGER NOT NULL, version INTEGER NOT NULL)`,
      ],
      handle(event, meta) {
        if (meta.ref.id === broken) throw new Error('this account cannot be projected');
        const amount = event.type === 'Deposited' ? event.amount : -event.amount;
        return [
          sql`INSERT INTO totals (id, total, version) VALUES (${meta.ref.id}, ${amount}, ${meta.version})
              ON CONFLICT (id) DO UPDATE SET total = totals.total + excluded.total, version = excluded.version`,
        ];
      },
    });
    const system = start({ store: (await place(kind)).newStore(), entities: [Account], projections: [inline(Totals)] });
    const [a, b] = [randomUUID(), randomUUID()];
    await system.call(Account.ref(a), { type: 'Deposit', amount: 4 });
    expect(await system.query(sql`SELECT total, version FROM totals WHERE id = ${a}`)).toEqual([
      { total: 4, version: 1 },
    ]);

    broken = b;
    const [good, bad] = await Promise.allSettled([
      system.call(Account.ref(a), { type: 'Deposit', amount: 1 }),
      system.call(Account.ref(b), { type: 'Deposit', amount: 1 }),
    ]);
    expect(good).toMatchObject({ status: 'fulfilled', value: { ok: true, version: 2 } });
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'PROJECTION_FAILED', projection: 'totals' } });
    expect(await system.read(Account.ref(b))).toEqual({ state: { balance: 0 }, version: 0 });
    expect(await system.query(sql`SELECT id, total FROM totals ORDER BY id`)).toEqual([{ id: a, total: 5 }]);
    broken = '';
    expect(await system.call(Account.ref(b), { type: 'Deposit', amount: 2 })).toMatchObject({ ok: true, version: 1 });
    expect(system.projection(inline(Totals)).status()).toMatchObject({ mode: 'inline', state: 'live' });
  });

  it('fails an inline projection whose SQL is refused as PROJECTION_FAILED, committing nothing', async () => {
    const Bad = defineProjection({
      name: 'bad',
      entities: [Account],
      handle: () => [sql`INSERT INTO no_such_table (x) VALUES (${1})`],
    });
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Account, Note],
      projections: [inline(Bad)],
    });
    const id = randomUUID();
    await expect(system.call(Account.ref(id), { type: 'Deposit', amount: 1 })).rejects.toMatchObject({
      code: 'PROJECTION_FAILED',
    });
    expect(await system.read(Account.ref(id))).toMatchObject({ version: 0 });
    expect(await system.call(Note.ref(id), { text: 'other types commit' })).toMatchObject({ ok: true });
  });

  it("stops at a failing event ('stop'): later events wait, status says failed, resume goes on", async () => {
    let failOn = 2;
    const base = balancesProjection('stopping');
    const Stopping = defineProjection({
      ...base,
      entities: [Account],
      handle(event, meta) {
        if (meta.version === failOn) throw new Error(`cannot apply version ${meta.version}`);
        return base.handle(event, meta);
      },
    });
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Account],
      projections: [Stopping],
      logger: silentLogger,
    });
    const id = randomUUID();
    for (const amount of [1, 2, 3]) await system.call(Account.ref(id), { type: 'Deposit', amount });
    const last = await system.call(Account.ref(id), { type: 'Deposit', amount: 4 });
    const position = last.ok ? last.position : '';
    await expect(system.projection(Stopping).waitFor(position)).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect(system.projection(Stopping).status()).toMatchObject({
      state: 'failed',
      lastError: 'cannot apply version 2',
    });
    expect(await balances(system, [id])).toEqual({ [id]: 1 });
    failOn = 0;
    await system.projection(Stopping).resume();
    await system.projection(Stopping).waitFor(position);
    expect(await balances(system, [id])).toEqual({ [id]: 10 });
    expect(system.projection(Stopping).status().state).toBe('live');
  });

  it("records a failing event as skipped and goes on ('skip')", async () => {
    const base = balancesProjection('skipping');
    const Skipping = defineProjection({
      ...base,
      entities: [Account],
      onError: 'skip',
      handle(event, meta) {
        if (event.amount === 13) throw new Error('unlucky');
        return base.handle(event, meta);
      },
    });
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Account],
      projections: [Skipping],
      logger: silentLogger,
    });
    const id = randomUUID();
    await system.call(Account.ref(id), { type: 'Deposit', amount: 13 });
    const last = await system.call(Account.ref(id), { type: 'Deposit', amount: 2 });
    await system.projection(Skipping).waitFor(last.ok ? last.position : '');
    expect(await balances(system, [id])).toEqual({ [id]: 2 });
    expect(await system.projection(Skipping).skipped()).toEqual([
      expect.objectContaining({ entityType: 'Account', streamId: id, version: 1, error: 'unlucky' }),
    ]);
  });

  it('rebuilds to what a fresh replay gives, also with writes going on during the rebuild', async () => {
    const where = await place(kind);
    const Balances = balancesProjection();
    const system = start({ store: where.newStore(), entities: [Account], projections: [Balances] });
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const deposit = (id: string, amount: number) => system.call(Account.ref(id), { type: 'Deposit', amount });
    for (const id of ids) await deposit(id, 3);
    const last = await deposit(ids[0] as string, 1);
    await system.projection(Balances).waitFor(last.ok ? last.position : '');
    await system.query(sql`UPDATE balances SET balance = ${-999}`);
    const writes = Promise.all(ids.map((id) => deposit(id, 2)));
    await system.projection(Balances).rebuild();
    const after = await writes;
    const latest = after
      .map((r) => (r.ok ? r.position : ''))
      .sort()
      .at(-1) as string;
    await system.projection(Balances).waitFor(latest);
    expect(await balances(system, ids)).toEqual(Object.fromEntries(ids.map((id, i) => [id, i === 0 ? 6 : 5])));
    expect(await appliedCount(system, ids)).toBe(11);
    await system.close();

    // A new version rebuilds on start.
    const again = start({
      store: where.newStore(),
      entities: [Account],
      projections: [balancesProjection('balances', { version: 2 })],
    });
    await again.query(sql`DELETE FROM balances WHERE id = ${ids[1] as string}`);
    const more = await again.call(Account.ref(ids[1] as string), { type: 'Deposit', amount: 1 });
    await again.projection(balancesProjection('balances', { version: 2 })).waitFor(more.ok ? more.position : '');
    expect((await balances(again, ids))[ids[1] as string]).toBe(6);
  });

  it('rebuild() asked in a process that does not run the projection resolves only once the rebuild is done', async () => {
    const where = await place(kind);
    const timing = { leaseMs: 400, pollIntervalMs: 20, logger: silentLogger };
    const runner = start({
      store: where.newStore(),
      entities: [Account],
      projections: [balancesProjection()],
      ...timing,
    });
    const ids = Array.from({ length: 300 }, () => randomUUID());
    for (let round = 0; round < 4; round++) {
      await Promise.all(ids.map((id) => runner.call(Account.ref(id), { type: 'Deposit', amount: 1 })));
    }
    const last = await runner.call(Account.ref(ids[0] as string), { type: 'Deposit', amount: 1 });
    await runner.projection(balancesProjection()).waitFor(last.ok ? last.position : '');
    // Another process follows the checkpoint (the first holds the lease) and asks for the rebuild.
    const asker = start({
      store: where.newStore(),
      entities: [Account],
      projections: [balancesProjection()],
      ...timing,
    });
    await asker.projection(balancesProjection()).waitFor(last.ok ? last.position : '');
    await asker.projection(balancesProjection()).rebuild();
    expect(await appliedCount(asker, ids)).toBe(1201);
  });
});

describe('projections need SQL', () => {
  const { start } = useSystems();

  it('refuses a SQL projection and query on the memory store, and points to SQLite in memory', async () => {
    expect(() => createOnMemory()).toThrow(/sqliteStore\(\{ filename: ':memory:' \}\)/);
    const system = start({ store: memoryStore(), entities: [Account] });
    await expect(system.query(sql`SELECT 1`)).rejects.toMatchObject({ code: 'INVALID_CONFIGURATION' });
    const onSqlite = start({
      store: sqliteStore({ filename: ':memory:' }),
      entities: [Account],
      projections: [balancesProjection()],
    });
    const r = await onSqlite.call(Account.ref('x'), { type: 'Deposit', amount: 1 });
    await onSqlite.projection(balancesProjection()).waitFor(r.ok ? r.position : '');
    expect(await balances(onSqlite, ['x'])).toEqual({ x: 1 });
    await expect(onSqlite.query(sql`SELEC nonsense`)).rejects.toMatchObject({ code: 'SQL_FAILED' });
  });

  function createOnMemory() {
    try {
      return start({ store: memoryStore(), entities: [Account], projections: [balancesProjection()] });
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_CONFIGURATION' });
      throw error;
    }
  }
});
