/**
 * pachyderm/testing for projections: given events, then statements (no database), and a run
 * against an in-memory SQLite.
 */
import { sql } from 'pachyderm';
import { givenProjection, runProjection } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { Account, balancesProjection } from './support/accounts.js';

const Balances = balancesProjection();

describe('testing a projection', () => {
  it('gives the statements handle returns for given events, with versions counted per entity', () => {
    const given = givenProjection(Balances, [
      { ref: Account.ref('a1'), event: { type: 'Deposited', amount: 5 } },
      { ref: Account.ref('a1'), event: { type: 'Withdrawn', amount: 2 } },
    ]);
    expect(given.statements.map((s) => s.values)).toEqual([
      ['a1', 5],
      ['a1', 1, '0000000000000000001'],
      ['a1', -2],
      ['a1', 2, '0000000000000000002'],
    ]);
    given.thenStatements([
      sql`INSERT INTO balances (id, balance) VALUES (${'a1'}, ${5})
          ON CONFLICT (id) DO UPDATE SET balance = balances.balance + excluded.balance`,
      sql`INSERT INTO applied (id, version, position) VALUES (${'a1'}, ${1}, ${'0000000000000000001'})`,
      sql`INSERT INTO balances (id, balance) VALUES (${'a1'}, ${-2})
          ON CONFLICT (id) DO UPDATE SET balance = balances.balance + excluded.balance`,
      sql`INSERT INTO applied (id, version, position) VALUES (${'a1'}, ${2}, ${'0000000000000000002'})`,
    ]);
    expect(() => given.thenStatements([])).toThrow();
  });

  it('runs a projection against an in-memory SQLite', async () => {
    const db = await runProjection(Balances, [
      { ref: Account.ref('a1'), event: { type: 'Deposited', amount: 5 } },
      { ref: Account.ref('b2'), event: { type: 'Deposited', amount: 7 } },
      { ref: Account.ref('a1'), event: { type: 'Withdrawn', amount: 1 } },
    ]);
    try {
      expect(await db.query(sql`SELECT id, balance FROM balances ORDER BY id`)).toEqual([
        { id: 'a1', balance: 4 },
        { id: 'b2', balance: 7 },
      ]);
    } finally {
      await db.close();
    }
  });
});
