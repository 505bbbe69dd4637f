/**
 * Bad input and broken user code: each one a typed error with a stable code, nothing committed,
 * and the entity handles its next message normally.
 */
import { randomUUID } from 'node:crypto';
import {
  createSystem,
  defineEffect,
  defineEntity,
  ErrorCode,
  isPachydermError,
  ok,
  PachydermError,
  refsOf,
  type System,
} from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { sqliteStore } from 'pachyderm/sqlite';
import { describe, expect, it } from 'vitest';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

const Echo = defineEffect('Echo', (_payload: unknown) => {});

type Command =
  | { type: 'Add' }
  | { type: 'HandleThrows' }
  | { type: 'UpdateThrows' }
  | { type: 'Async' }
  | { type: 'Garbage' }
  | { type: 'BadEvent'; kind: 'function' | 'symbol' | 'bigint' | 'cycle' | 'nan' | 'map' }
  | { type: 'BadPayload'; kind: 'function' | 'symbol' | 'bigint' | 'cycle' }
  | { type: 'Mutate' }
  | { type: 'TouchEvent' };

function unserialisable(kind: string): unknown {
  switch (kind) {
    case 'function':
      return { f: () => 1 };
    case 'symbol':
      return { s: Symbol('x') };
    case 'bigint':
      return { b: 10n };
    case 'cycle': {
      const value: Record<string, unknown> = { a: 1 };
      value.self = value;
      return value;
    }
    case 'nan':
      return { n: Number.NaN };
    default:
      return { m: new Map([[1, 2]]) };
  }
}

const Fragile = defineEntity({
  type: 'Fragile',
  init: () => ({ items: [] as string[] }),
  handle(message: Command, state) {
    switch (message.type) {
      case 'Add':
        return ok([{ type: 'Added' as const, item: `item-${state.items.length}` }]);
      case 'HandleThrows':
        throw new Error('handle blew up');
      case 'UpdateThrows':
        return ok([{ type: 'Added' as const, item: 'fine' }, { type: 'Poison' as const }]);
      case 'Async':
        return Promise.reject(new Error('async')) as never;
      case 'Garbage':
        return [{ type: 'Added', item: 'x' }] as never;
      case 'BadEvent':
        return ok([{ type: 'Added' as const, item: 'x' }, unserialisable(message.kind) as { type: 'Poison' }]);
      case 'BadPayload':
        return ok([{ type: 'Added' as const, item: 'x' }], [Echo.with(unserialisable(message.kind))]);
      case 'Mutate':
        state.items.push('sneaky');
        return ok([{ type: 'Added' as const, item: 'x' }]);
      case 'TouchEvent':
        return ok([{ type: 'Touched' as const, seen: false }]);
    }
  },
  update(event, state) {
    if (event.type === 'Poison') throw new Error('update blew up');
    if (event.type === 'Touched') {
      (event as { seen: boolean }).seen = true; // a bug: events are frozen
      return state;
    }
    return { items: [...state.items, event.item] };
  },
});

describe.each(storeKinds)('faults on %s', (kind) => {
  let system: System;
  async function start() {
    system = running.start({ store: (await running.place(kind)).newStore(), entities: [Fragile], effects: [Echo] });
    const ref = Fragile.ref(randomUUID());
    expect(await system.call(ref, { type: 'Add' })).toMatchObject({ ok: true, version: 1 });
    return ref;
  }

  /** The call fails with `code`; the log is unchanged and the next message is handled normally. */
  async function expectFault(ref: ReturnType<typeof Fragile.ref>, message: unknown, code: string) {
    const failure = await system.call(ref, message as Command).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(PachydermError);
    expect((failure as PachydermError).code).toBe(code);
    expect(await system.read(ref)).toEqual({ state: { items: ['item-0'] }, version: 1 });
    expect(await system.call(ref, { type: 'Add' })).toEqual({
      ok: true,
      state: { items: ['item-0', 'item-1'] },
      version: 2,
      position: expect.any(String),
    });
    return failure as PachydermError;
  }

  it('reports a throwing handle as HANDLE_THREW with the cause', async () => {
    const failure = await expectFault(await start(), { type: 'HandleThrows' }, ErrorCode.HandleThrew);
    expect((failure.cause as Error).message).toBe('handle blew up');
  });

  it('reports a throwing update as UPDATE_THREW, committing none of the events', async () => {
    const failure = await expectFault(await start(), { type: 'UpdateThrows' }, ErrorCode.UpdateThrew);
    expect((failure.cause as Error).message).toBe('update blew up');
  });

  it('refuses an update that changes its event, as UPDATE_THREW (events are frozen)', async () => {
    const failure = await expectFault(await start(), { type: 'TouchEvent' }, ErrorCode.UpdateThrew);
    expect(failure.message).toContain('frozen');
  });

  it('folds frozen events on replay too', async () => {
    const store = (await running.place(kind)).newStore();
    system = running.start({ store, entities: [Fragile] });
    const ref = Fragile.ref(randomUUID());
    // An event the live path would refuse, written straight to the log: activation folds it frozen.
    await store.open();
    await store.commit({
      appends: [
        {
          streamId: ref.id,
          expectedVersion: 0,
          events: ['{"type":"Touched","seen":false}'],
          entityType: 'Fragile',
          eventVersion: 1,
        },
      ],
      recordedAt: 0,
    });
    await expect(system.read(ref)).rejects.toMatchObject({ code: ErrorCode.UpdateThrew });
  });

  it('refuses a handle that returns a promise', async () => {
    await expectFault(await start(), { type: 'Async' }, ErrorCode.HandleReturnedPromise);
  });

  it('refuses a handle that returns something other than ok(...) or error(...)', async () => {
    await expectFault(await start(), { type: 'Garbage' }, ErrorCode.InvalidDecision);
  });

  it('refuses a handle that changes the state instead of returning events', async () => {
    await expectFault(await start(), { type: 'Mutate' }, ErrorCode.HandleThrew);
  });

  for (const bad of ['function', 'symbol', 'bigint', 'cycle', 'nan', 'map'] as const) {
    it(`refuses an event JSON cannot carry faithfully (${bad})`, async () => {
      await expectFault(await start(), { type: 'BadEvent', kind: bad }, ErrorCode.NotSerializable);
    });
  }

  for (const bad of ['function', 'symbol', 'bigint', 'cycle'] as const) {
    it(`refuses an effect payload JSON cannot carry faithfully (${bad})`, async () => {
      await expectFault(await start(), { type: 'BadPayload', kind: bad }, ErrorCode.NotSerializable);
    });
    it(`refuses a message JSON cannot carry faithfully (${bad})`, async () => {
      await expectFault(await start(), { type: 'Add', extra: unserialisable(bad) }, ErrorCode.NotSerializable);
    });
  }

  it('refuses an entity type the system does not register, naming it', async () => {
    const ref = await start();
    const Other = defineEntity({ type: 'Unknown Type', handle: () => ok([1]), update: () => undefined });
    const failure = await system.call(Other.ref(ref.id), undefined as never).catch((e: unknown) => e);
    expect(isPachydermError(failure, ErrorCode.UnknownEntityType)).toBe(true);
    expect((failure as Error).message).toContain('Unknown Type');
    expect(await system.read(ref)).toEqual({ state: { items: ['item-0'] }, version: 1 });
  });

  it('makes refs as plain data that never throw; the call that uses a bad one is refused', async () => {
    await start();
    expect(Fragile.ref('')).toEqual({ type: 'Fragile', id: '' });
    await expect(system.call(Fragile.ref(''), { type: 'Add' })).rejects.toMatchObject({ code: ErrorCode.InvalidId });
  });

  it('refuses invalid ids with INVALID_ID', async () => {
    await start();
    const bad: unknown[] = ['', 42, null, undefined, {}, 'x'.repeat(256), 'é'.repeat(128), 'a\u0000b', '\ud800'];
    for (const id of bad) {
      const failure = await system.call({ type: 'Fragile', id } as never, { type: 'Add' }).catch((e: unknown) => e);
      expect(isPachydermError(failure, ErrorCode.InvalidId), `id ${JSON.stringify(id)}`).toBe(true);
      const viaRef = await system.call(Fragile.ref(id as string), { type: 'Add' }).catch((e: unknown) => e);
      expect(isPachydermError(viaRef, ErrorCode.InvalidId)).toBe(true);
      await expect(system.read(Fragile.ref(id as string))).rejects.toMatchObject({ code: ErrorCode.InvalidId });
    }
    expect(await system.call(Fragile.ref(`${'é'.repeat(127)}x`), { type: 'Add' })).toMatchObject({ ok: true });
  });

  it('refuses calls after close with SYSTEM_CLOSED', async () => {
    const ref = await start();
    await system.close();
    const failure = await system.call(ref, { type: 'Add' }).catch((e: unknown) => e);
    expect(isPachydermError(failure, ErrorCode.SystemClosed)).toBe(true);
    await expect(system.events(ref)[Symbol.asyncIterator]().next()).rejects.toMatchObject({
      code: ErrorCode.SystemClosed,
    });
    await expect(system.read(ref)).rejects.toMatchObject({ code: ErrorCode.SystemClosed });
  });
});

describe('definition and configuration errors', () => {
  it('refuses definitions and options that cannot work', () => {
    expect(() => defineEntity({ type: '', handle: () => ok([]), update: () => undefined })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidConfiguration }),
    );
    expect(() => defineEffect('x', 'not a function' as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidConfiguration }),
    );
    const store = { commit() {} } as never;
    expect(() => createSystem({ store, entities: [Fragile, Fragile] })).toThrow(/two entity definitions/);
    expect(() => createSystem({ store, entities: [Fragile], idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs/);
    expect(() => createSystem({ store, entities: [Fragile], snapshotEvery: 1.5 })).toThrow(/snapshotEvery/);
  });

  it('refuses store options that cannot work, with INVALID_CONFIGURATION', () => {
    const invalid = expect.objectContaining({ code: ErrorCode.InvalidConfiguration });
    expect(() => sqliteStore({ filename: '' })).toThrow(invalid);
    expect(() => sqliteStore({ filename: 'x.db', synchronous: 'OFF' as never })).toThrow(invalid);
    expect(() => sqliteStore({ filename: 'x.db', busyTimeoutMs: -1 })).toThrow(invalid);
    expect(() => postgresStore({ connectionString: 'postgres://x', schema: '' })).toThrow(invalid);
    expect(() => postgresStore({ connectionString: 'postgres://x', poolSize: 0 })).toThrow(invalid);
    expect(() => postgresStore({ pool: {} as never })).toThrow(invalid);
  });

  it('makes refs of a type declared ahead as plain data, refusing a bad type name', () => {
    expect(refsOf<{ type: 'Reserve' }>('Ticket').ref('t1')).toEqual({ type: 'Ticket', id: 't1' });
    expect(() => refsOf('')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidConfiguration }));
  });
});
