/**
 * Guarantees: a process running an async projection, killed with SIGKILL at random moments while
 * events keep coming, leaves every event applied exactly once after catch-up (statements and
 * checkpoint commit together; the next runner takes the lease once it runs out). A reactor killed
 * after its handler, before its checkpoint, gets the event again with the same idempotency key.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createSystem, sql } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { Account, balancesProjection } from './support/accounts.js';
import { useChildProcesses } from './support/child-process.js';
import { useStorePlaces } from './support/stores.js';

const places = useStorePlaces();
const children = useChildProcesses();
const childScript = fileURLToPath(new URL('./support/read-side-child.ts', import.meta.url));
const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

describe.each(['sqlite', 'postgres'] as const)('the read side killed with SIGKILL on %s', (kind) => {
  it('applies every event exactly once after random kills of the projection process', {
    timeout: 120_000,
  }, async () => {
    const place = await places.place(kind);
    const writer = createSystem({ store: place.newStore(), entities: [Account] });
    const ids: string[] = Array.from({ length: 20 }, () => randomUUID());
    let writing = true;
    let deposits = 0;
    let head = '';
    const writes = (async () => {
      while (writing) {
        const results = await Promise.all(
          ids.map((id) => writer.call(Account.ref(id), { type: 'Deposit', amount: 1 })),
        );
        for (const result of results) if (result.ok && result.position > head) head = result.position;
        deposits += results.length;
      }
    })();
    for (let round = 0; round < 6; round++) {
      let started = false;
      const child = children.start(childScript, [JSON.stringify(place.address), 'project'], (line) => {
        if (line === 'started' && !started) {
          started = true;
          setTimeout(() => child.process.kill('SIGKILL'), randomBetween(50, 700));
        }
      });
      await child.killed;
    }
    writing = false;
    await writes;

    const Balances = balancesProjection();
    const reader = createSystem({
      store: place.newStore(),
      entities: [Account],
      projections: [Balances],
      leaseMs: 300,
    });
    try {
      await reader.projection(Balances).waitFor(head);
      const applied = await reader.query(sql`SELECT id, version FROM applied`);
      const mine = applied.filter((row) => ids.includes(row.id as string));
      expect(mine).toHaveLength(deposits);
      const rows = await reader.query(sql`SELECT id, balance FROM balances`);
      for (const id of ids) {
        const { state } = await reader.read(Account.ref(id));
        expect(Number(rows.find((row) => row.id === id)?.balance)).toBe(state.balance);
      }
      expect(reader.projection(Balances).status().state).toBe('live');
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });

  it('gives a reactor killed after its handler, before its checkpoint, the event again with the same key', async () => {
    const place = await places.place(kind);
    const writer = createSystem({ store: place.newStore(), entities: [Account] });
    const id = randomUUID();
    for (const amount of [1, 2, 3]) await writer.call(Account.ref(id), { type: 'Deposit', amount });
    await writer.close();

    const first: string[] = [];
    const dying = children.start(childScript, [JSON.stringify(place.address), 'react', `${id}:2`], (line) => {
      if (line.startsWith('handled ')) first.push(line.slice(8));
    });
    await dying.killed;
    expect(first.filter((key) => key.startsWith(id))).toEqual([`${id}:1`, `${id}:2`]);

    const second: string[] = [];
    const again = children.start(childScript, [JSON.stringify(place.address), 'react'], (line) => {
      if (line.startsWith('handled ')) second.push(line.slice(8));
      if (second.includes(`${id}:3`)) again.process.kill('SIGKILL');
    });
    await again.killed;
    expect(second).toContain(`${id}:2`);
    expect(second.at(-1)).toBe(`${id}:3`);
  });
});
