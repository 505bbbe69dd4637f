/**
 * Messages between entities: `send` is delivered through the outbox, handled once by the target
 * (also when delivered twice or by two processes), in order from one sender to one target; bad
 * sends are refused before anything is committed; rejected or undeliverable messages are dead
 * letters.
 */
import { randomUUID } from 'node:crypto';
import {
  type createSystem,
  defineEntity,
  ErrorCode,
  error,
  isPachydermError,
  ok,
  type Store,
  type System,
  send,
  sendAfter,
  sendAt,
  silentLogger,
} from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it, vi } from 'vitest';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

type InboxMessage = { type: 'Note'; from: string; n: number } | { type: 'Refuse' };
const Inbox = defineEntity({
  type: 'Inbox',
  init: () => ({ notes: [] as string[] }),
  handle(message: InboxMessage, _state) {
    if (message.type === 'Refuse') return error({ code: 'not today' });
    return ok([{ type: 'Noted' as const, note: `${message.from}#${message.n}` }]);
  },
  update: (event, state) => ({ notes: [...state.notes, event.note] }),
});

/** Throws on the first delivery of note 0 to each target (a bug that a retry gets past). */
const failedOnce = new Set<string>();
const Flaky = defineEntity({
  type: 'Flaky',
  init: () => ({ notes: [] as number[] }),
  handle(message: { n: number }, _state, entity) {
    if (message.n === 0 && !failedOnce.has(entity.self.id)) {
      failedOnce.add(entity.self.id);
      throw new Error('fails once');
    }
    return ok([{ type: 'Noted' as const, n: message.n }]);
  },
  update: (event, state) => ({ notes: [...state.notes, event.n] }),
});
const FlakySender = defineEntity({
  type: 'FlakySender',
  init: () => ({}),
  handle: (message: { to: string }) =>
    ok(
      [{ type: 'Sent' as const }],
      [0, 1, 2, 3].map((n) => send(Flaky.ref(message.to), { n })),
    ),
  update: (_event, state) => state,
});

type SenderMessage =
  | { type: 'Send'; to: string; count: number }
  | { type: 'Refused'; to: string }
  | { type: 'Bad'; how: 'unregistered' | 'unserialisable' | 'negative delay' | 'invalid date' | 'bad id' };
const Sender = defineEntity({
  type: 'Sender',
  init: () => ({ sent: 0 }),
  handle(message: SenderMessage, state) {
    const id = 'sender';
    if (message.type === 'Send') {
      const notes = Array.from({ length: message.count }, (_, i) =>
        send(Inbox.ref(message.to), { type: 'Note', from: id, n: state.sent + i }),
      );
      return ok([{ type: 'Sent' as const, count: message.count }], notes);
    }
    if (message.type === 'Refused')
      return ok([{ type: 'Sent' as const, count: 1 }], [send(Inbox.ref(message.to), { type: 'Refuse' })]);
    const bad = {
      unregistered: send({ type: 'Nobody', id: 'x' } as never, {}),
      unserialisable: send(Inbox.ref('x'), { type: 'Note', from: 'x', n: 1n as never }),
      'negative delay': sendAfter(Inbox.ref('x'), { type: 'Refuse' }, -5),
      'invalid date': sendAt(Inbox.ref('x'), { type: 'Refuse' }, new Date('not a date')),
      'bad id': send(Inbox.ref(''), { type: 'Refuse' }),
    }[message.how];
    return ok([{ type: 'Sent' as const, count: 1 }], [bad]);
  },
  update: (event, state) => ({ sent: state.sent + event.count }),
});

/** A real store that fails to record delivery outcomes while `failing` is set: a crash after delivery. */
function forgetfulSettle(store: Store): Store & { failing: boolean } {
  const wrapped = {
    ...store,
    failing: false,
    async settleOutbox(...args: Parameters<Store['settleOutbox']>) {
      if (wrapped.failing) throw new Error('connection lost before the outcome was recorded');
      return store.settleOutbox(...args);
    },
  };
  return wrapped;
}

async function notesOf(system: System, id: string): Promise<string[]> {
  return (await system.read(Inbox.ref(id))).state.notes;
}

describe.each(storeKinds)('messages on %s', (kind) => {
  async function start(options: Partial<Parameters<typeof createSystem>[0]> = {}) {
    const place = await running.place(kind);
    const system = running.start({
      store: place.newStore(),
      entities: [Sender, Inbox],
      pollIntervalMs: 50,
      logger: silentLogger, // dead letters are logged as errors; these tests make them on purpose
      ...options,
    });
    return { system, place };
  }

  it('delivers a sent message to the target after the commit', async () => {
    const { system } = await start();
    const to = randomUUID();
    expect(await system.call(Sender.ref(randomUUID()), { type: 'Send', to, count: 1 })).toMatchObject({ ok: true });
    await vi.waitFor(async () => expect(await notesOf(system, to)).toEqual(['sender#0']));
    await vi.waitFor(async () => expect((await system.stats()).depth).toBe(0));
  });

  it('keeps the order of messages from one sender to one target', async () => {
    const { system } = await start();
    const [from, to] = [Sender.ref(randomUUID()), randomUUID()];
    for (let i = 0; i < 5; i++) await system.call(from, { type: 'Send', to, count: 4 });
    await vi.waitFor(async () => expect(await notesOf(system, to)).toHaveLength(20));
    expect(await notesOf(system, to)).toEqual(Array.from({ length: 20 }, (_, i) => `sender#${i}`));
  });

  it('holds back the later messages of a lane while an earlier one fails, then delivers them in order', async () => {
    // One message per mailbox batch: the later ones wait in the mailbox, not in the decision.
    const { system } = await start({
      entities: [FlakySender, Flaky],
      maxBatch: 1,
      messageRetry: { initialDelayMs: 20, maxDelayMs: 20 },
    });
    const to = randomUUID();
    await system.call(FlakySender.ref(randomUUID()), { to });
    await vi.waitFor(async () => expect((await system.read(Flaky.ref(to))).state.notes).toHaveLength(4));
    expect((await system.read(Flaky.ref(to))).state.notes).toEqual([0, 1, 2, 3]);
  });

  it('has the target handle a message once when its delivery is repeated', async () => {
    const clock = createTestClock(5_000);
    const place = await running.place(kind);
    const store = forgetfulSettle(place.newStore());
    const system = running.start({ store, entities: [Sender, Inbox], clock, leaseMs: 1_000, logger: silentLogger });
    const to = randomUUID();
    store.failing = true;
    await system.call(Sender.ref(randomUUID()), { type: 'Send', to, count: 1 });
    await vi.waitFor(async () => expect(await notesOf(system, to)).toEqual(['sender#0']));
    // The outcome was lost: the row stays leased, then is delivered again after the lease.
    expect((await system.stats()).inFlight).toBe(1);
    store.failing = false;
    await vi.waitFor(async () => {
      clock.advance(1_000);
      expect((await system.stats()).depth).toBe(0);
    });
    expect(await notesOf(system, to)).toEqual(['sender#0']);
    const events = [];
    for await (const e of system.events(Inbox.ref(to))) events.push(e);
    expect(events).toHaveLength(1);
  });

  it('has the target handle each message once when two processes deliver the same outbox', async () => {
    const { system, place } = await start();
    const other = running.start({ store: place.newStore(), entities: [Sender, Inbox], pollIntervalMs: 50 });
    const to = randomUUID();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? system : other).call(Sender.ref(`s-${i % 3}-${to}`), { type: 'Send', to, count: 1 }),
      ),
    );
    await vi.waitFor(async () => expect(await notesOf(system, to)).toHaveLength(30), { timeout: 5_000 });
    await vi.waitFor(async () => expect((await system.stats()).depth).toBe(0));
    expect(await notesOf(system, to)).toHaveLength(30);
  });

  for (const how of ['unregistered', 'unserialisable', 'negative delay', 'invalid date', 'bad id'] as const) {
    it(`refuses a bad send (${how}) before anything is committed`, async () => {
      const { system } = await start();
      const ref = Sender.ref(randomUUID());
      const failure = await system.call(ref, { type: 'Bad', how }).catch((e: unknown) => e);
      expect(isPachydermError(failure)).toBe(true);
      const expected = {
        unregistered: ErrorCode.UnknownEntityType,
        unserialisable: ErrorCode.NotSerializable,
        'negative delay': ErrorCode.InvalidDecision,
        'invalid date': ErrorCode.InvalidDecision,
        'bad id': ErrorCode.InvalidId,
      }[how];
      expect((failure as { code: string }).code).toBe(expected);
      expect(await system.read(ref)).toEqual({ state: { sent: 0 }, version: 0 });
      expect(await system.stats()).toMatchObject({ depth: 0, pendingTimers: 0 });
    });
  }

  it('makes a message the target rejects a dead letter with the reason, never retried', async () => {
    const { system } = await start();
    const [from, to] = [Sender.ref(randomUUID()), randomUUID()];
    await system.call(from, { type: 'Refused', to });
    await vi.waitFor(async () => expect(await system.deadLetters()).toHaveLength(1));
    const [dead] = await system.deadLetters();
    expect(dead).toMatchObject({
      kind: 'message',
      target: { type: 'Inbox', id: to },
      payload: { type: 'Refuse' },
      attempts: 1,
      source: { type: 'Sender', id: from.id, version: 1 },
    });
    expect(dead?.error).toContain('not today');
    expect(await system.stats()).toMatchObject({ depth: 0, deadLetters: 1 });
  });

  it('makes a message for an entity type the delivering process does not serve a dead letter', async () => {
    const place = await running.place(kind);
    const to = randomUUID();
    // The only process left to deliver serves Sender, not Inbox.
    const store = place.newStore();
    store.retain();
    await store.open();
    await store.commit({
      appends: [
        {
          streamId: randomUUID(),
          expectedVersion: 0,
          events: ['{"type":"Sent","count":1}'],
          entityType: 'Sender',
          eventVersion: 1,
          outbox: [
            {
              kind: 'message',
              name: 'Inbox',
              targetId: to,
              payload: '{"type":"Note","from":"x","n":0}',
              idempotencyKey: `${to}:1:0`,
              sourceVersion: 1,
              dueAt: 0,
              timer: false,
              orderKey: null,
            },
          ],
        },
      ],
      recordedAt: 0,
    });
    await store.release();
    const senderOnly = running.start({ store: place.newStore(), entities: [Sender], logger: silentLogger });
    await vi.waitFor(async () => expect(await senderOnly.deadLetters()).toHaveLength(1));
    const [dead] = await senderOnly.deadLetters();
    expect(dead?.error).toMatch(/not served/);
    expect(dead?.target).toEqual({ type: 'Inbox', id: to });
  });
});
