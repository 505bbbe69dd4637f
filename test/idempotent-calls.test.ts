/**
 * Idempotent calls: `system.call(ref, message, { idempotencyKey })` records the answer under the
 * key in the commit of the call's events; a repeat of the key (concurrent, in another process,
 * after a restart) answers what the first answered without calling `handle`; a repeat after the
 * retention window is a new call, whether or not the pruner has run. On memory, SQLite and
 * PostgreSQL, with two real processes on the SQL stores.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defineEntity, error } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it, vi } from 'vitest';
import { handled, Tally } from './support/keyed.js';
import { eventsOf, withStore } from './support/reads.js';
import { storeKinds, useSystems } from './support/systems.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe.each(storeKinds)('idempotent calls on %s', (kind) => {
  const { place, start } = useSystems();
  /** Adds `key` to the tally, idempotently under that key. */
  const keyedAdd = (system: ReturnType<typeof start>, ref: ReturnType<typeof Tally.ref>, key: string) =>
    system.call(ref, { type: 'Add', key }, { idempotencyKey: key });

  it('answers a repeat of a key with the first answer, without calling handle', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Tally] });
    const ref = Tally.ref(randomUUID());
    const key = `k-${randomUUID()}`;
    const first = await system.call(ref, { type: 'Add', key }, { idempotencyKey: key });
    expect(first).toEqual({ ok: true, state: { total: 1, keys: [key] }, version: 1, position: expect.any(String) });
    // The entity moves on; a repeat still answers what the first call answered.
    await system.call(ref, { type: 'Add', key: 'other' });
    expect(await system.call(ref, { type: 'Add', key }, { idempotencyKey: key })).toEqual(first);
    expect(handled.get(key)).toBe(1);
    expect(await system.read(ref)).toMatchObject({ version: 2 });

    // A rejection is answered again as it was, and so is a call that recorded no events.
    const refusedKey = `r-${randomUUID()}`;
    const refused = await system.call(
      ref,
      { type: 'Add', key: refusedKey, refuse: true },
      { idempotencyKey: refusedKey },
    );
    expect(refused).toEqual({ ok: false, error: { code: 'refused', total: 2 } });
    const peekKey = `p-${randomUUID()}`;
    const peeked = await system.call(ref, { type: 'Peek', key: peekKey }, { idempotencyKey: peekKey });
    expect(peeked).toEqual({ ok: true, state: { total: 2, keys: [key, 'other'] }, version: 2, position: '' });
    await system.call(ref, { type: 'Add', key: 'later' });
    expect(await system.call(ref, { type: 'Add', key: refusedKey }, { idempotencyKey: refusedKey })).toEqual(refused);
    expect(await system.call(ref, { type: 'Peek', key: peekKey }, { idempotencyKey: peekKey })).toEqual(peeked);
    expect([handled.get(refusedKey), handled.get(peekKey)]).toEqual([1, 1]);
  });

  it('refuses a rejection JSON cannot carry with NOT_SERIALIZABLE and records nothing under the key', async () => {
    const Picky = defineEntity({
      type: 'Picky',
      init: () => ({}),
      handle: (_message: { type: 'Try' }, _state) => error({ why: 'no', at: 10n }),
      update: (_event, state) => state,
    });
    const system = start({ store: (await place(kind)).newStore(), entities: [Picky] });
    const ref = Picky.ref(randomUUID());
    for (let attempt = 0; attempt < 2; attempt++) {
      const failed = await system.call(ref, { type: 'Try' }, { idempotencyKey: 'k' }).catch((e: unknown) => e);
      expect(failed).toMatchObject({ code: 'NOT_SERIALIZABLE' });
    }
    // Without a key, the same rejection is a value as ever.
    expect(await system.call(ref, { type: 'Try' })).toEqual({ ok: false, error: { why: 'no', at: 10n } });
  });

  it('answers a repeat reaching a process that has not loaded the entity from that one read of its log', async () => {
    const where = await place(kind);
    const ref = Tally.ref(randomUUID());
    const key = `k-${randomUUID()}`;
    const first = await keyedAdd(start({ store: where.newStore(), entities: [Tally] }), ref, key);
    const store = where.newStore();
    let logReads = 0;
    const counted = {
      ...store,
      readLogs: (...args: Parameters<typeof store.readLogs>) => {
        logReads += args[0].length;
        return store.readLogs(...args);
      },
    };
    const restarted = start({ store: counted, entities: [Tally] });
    expect(await keyedAdd(restarted, ref, key)).toEqual(first);
    expect(logReads).toBe(1);
  });

  it('keeps keys per entity: the same key for another entity is another call', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Tally] });
    const key = `k-${randomUUID()}`;
    const [a, b] = [Tally.ref(randomUUID()), Tally.ref(randomUUID())];
    await system.call(a, { type: 'Add', key }, { idempotencyKey: key });
    const other = await system.call(b, { type: 'Add', key }, { idempotencyKey: key });
    expect(other).toMatchObject({ ok: true, version: 1 });
    expect(handled.get(key)).toBe(2);
  });

  it('answers a repeat after a restart from the store', async () => {
    const where = await place(kind);
    const ref = Tally.ref(randomUUID());
    const key = `k-${randomUUID()}`;
    const first = await keyedAdd(start({ store: where.newStore(), entities: [Tally] }), ref, key);
    const restarted = start({ store: where.newStore(), entities: [Tally] });
    expect(await keyedAdd(restarted, ref, key)).toEqual(first);
    expect(handled.get(key)).toBe(1);
  });

  it('handles concurrent repeats once, in one system and in two systems on one store', async () => {
    const where = await place(kind);
    const systems = [0, 1].map(() => start({ store: where.newStore(), entities: [Tally] }));
    const ref = Tally.ref(randomUUID());
    const keys = Array.from({ length: 40 }, (_, n) => `c${n}-${randomUUID()}`);
    const answers = await Promise.all(
      keys.flatMap((key) =>
        [0, 1, 2, 3].map(async (n) => ({
          key,
          answer: await (systems[n % 2] as (typeof systems)[number]).call(
            ref,
            { type: 'Add', key },
            { idempotencyKey: key },
          ),
        })),
      ),
    );
    for (const key of keys) {
      const given = answers.filter((a) => a.key === key).map((a) => a.answer);
      expect(new Set(given.map((a) => JSON.stringify(a))).size, `one answer for ${key}`).toBe(1);
    }
    const log = await withStore(where, (store) => eventsOf(store, ref.id));
    expect(log.map((event) => (JSON.parse(event.data) as { key: string }).key).sort()).toEqual([...keys].sort());
  });

  it('refuses a key that is not a string of 1 to 255 bytes with INVALID_ID, handling nothing', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Tally] });
    const ref = Tally.ref(randomUUID());
    const bad = ['', 'x'.repeat(256), 'é'.repeat(128), 'nul\u0000', 'lone \ud800', 7, null, {}];
    for (const key of bad) {
      const refused = await system
        .call(ref, { type: 'Add', key: 'bad' }, { idempotencyKey: key as string })
        .catch((error: unknown) => error);
      expect(refused, JSON.stringify(key)).toMatchObject({ code: 'INVALID_ID' });
      expect((refused as Error).message).toContain('idempotency key');
    }
    expect(handled.get('bad')).toBeUndefined();
    expect(await system.read(ref)).toEqual({ state: { total: 0, keys: [] }, version: 0 });
    // At the limit, and hostile text, are keys like any other.
    for (const key of ['x'.repeat(255), 'é'.repeat(127), `'; DROP TABLE answers; --`, '__proto__', '<b>🐘</b>']) {
      const answer = await system.call(ref, { type: 'Add', key }, { idempotencyKey: key });
      expect(await system.call(ref, { type: 'Add', key }, { idempotencyKey: key })).toEqual(answer);
    }
    expect(await system.read(ref)).toMatchObject({ version: 5 });
  });

  it('handles a repeat after the retention window as a new call, whether or not the pruner has run', async () => {
    const where = await place(kind);
    const clock = createTestClock(1_000_000);
    const system = start({
      store: where.newStore(),
      entities: [Tally],
      clock,
      retention: { idempotencyKeysMs: 10_000 },
    });
    const ref = Tally.ref(randomUUID());
    const key = `k-${randomUUID()}`;
    const call = () => system.call(ref, { type: 'Add', key }, { idempotencyKey: key });
    const stored = () =>
      withStore(where, async (store) => (await store.readAnswers([{ streamId: ref.id, keys: [key] }], 0))[0]);
    expect(await call()).toMatchObject({ version: 1 });
    clock.advance(9_999);
    expect(await call()).toMatchObject({ version: 1 });
    expect(handled.get(key)).toBe(1);
    // The window has passed; the pruner (every minute) has not run: the answer is still stored.
    clock.advance(1);
    expect(await stored()).toHaveLength(1);
    expect(await call()).toMatchObject({ version: 2 });
    expect(handled.get(key)).toBe(2);
    // Within the new call's window it is answered again; once the pruner has forgotten it, it is new again.
    expect(await call()).toMatchObject({ version: 2 });
    clock.advance(60_000);
    await vi.waitFor(async () => expect(await stored()).toEqual([]));
    expect(await call()).toMatchObject({ version: 3 });
    expect(handled.get(key)).toBe(3);
  });
});

describe.each(['sqlite', 'postgres'] as const)('idempotent calls in two processes on %s', (kind) => {
  const { place } = useSystems();

  it('handles each key once when two processes repeat each other’s calls at the same time', async () => {
    const where = await place(kind);
    const label = `p-${randomUUID()}`;
    const count = 120;
    const run = () =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/support/keyed-calls-child.ts',
          JSON.stringify(where.address),
          label,
          String(count),
          '3',
        ],
        { cwd: root },
      );
    const outputs = await Promise.all([run(), run()]);
    const answers = outputs.map(({ stdout }) => {
      const byKey = new Map<string, string>();
      for (const line of stdout.trim().split('\n')) {
        const [, key, ...json] = line.split(' ');
        byKey.set(key as string, json.join(' '));
      }
      return byKey;
    });
    expect(answers.map((a) => a.size)).toEqual([count, count]);
    // Both processes got the same answer for every key ...
    for (const [key, answer] of answers[0] as Map<string, string>) expect(answers[1]?.get(key), key).toBe(answer);
    // ... and every key is in the logs once.
    const recorded = await withStore(where, async (store) => {
      const keys: string[] = [];
      for (const id of ['t0', 't1', 't2']) {
        for (const event of await eventsOf(store, id)) keys.push((JSON.parse(event.data) as { key: string }).key);
      }
      return keys;
    });
    expect(recorded.sort()).toEqual(Array.from({ length: count }, (_, n) => `${label}-${n}`).sort());
  });
});
