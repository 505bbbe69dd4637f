/**
 * `entity.sender` in `handle` is the ref of the entity whose `send` delivered the message, so the
 * target can answer with `send(entity.sender, reply)`; it is undefined for a `system.call` and for
 * a timer (`sendAfter`, `sendAt`), whoever set it. It is plain data `{ type, id }`, also when the
 * message was forwarded to its owner in a cluster.
 */
import { randomUUID } from 'node:crypto';
import { defineEntity, type EntityRef, ok, type System, send, sendAfter, sendAt, silentLogger } from 'pachyderm';
import { createTestClock, given } from 'pachyderm/testing';
import { describe, expect, it, vi } from 'vitest';
import { parseCalls } from '../src/cluster/protocol.js';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

/** Every `entity.sender` the Answerer's `handle` saw, as given. */
const seen: (EntityRef | undefined)[] = [];

type AnswererMessage = { type: 'Question'; text: string } | { type: 'RemindMe' } | { type: 'Reminder' };
const Answerer = defineEntity({
  type: 'Answerer',
  init: () => ({ heard: [] as { what: string; sender: EntityRef | null }[] }),
  handle(message: AnswererMessage, _state, entity) {
    seen.push(entity.sender);
    const heard = [{ type: 'Heard' as const, what: message.type, sender: entity.sender ?? null }];
    if (message.type === 'RemindMe') return ok(heard, [sendAfter(entity.self, { type: 'Reminder' }, 60_000)]);
    if (message.type === 'Question' && entity.sender) {
      return ok(heard, [send(entity.sender, { type: 'Answer', answer: message.text.toUpperCase() })]);
    }
    return ok(heard);
  },
  update: (event, state) => ({ heard: [...state.heard, { what: event.what, sender: event.sender }] }),
});

type AskerMessage =
  | { type: 'Ask'; to: string; text: string }
  | { type: 'AskLater'; to: string; text: string }
  | { type: 'Answer'; answer: string };
const Asker = defineEntity({
  type: 'Asker',
  init: () => ({ answers: [] as { answer: string; from: EntityRef | null }[] }),
  handle(message: AskerMessage, _state, entity) {
    const question = { type: 'Question' as const, text: message.type === 'Answer' ? '' : message.text };
    switch (message.type) {
      case 'Ask':
        return ok([{ type: 'Asked' as const }], [send(Answerer.ref(message.to), question)]);
      case 'AskLater':
        return ok(
          [{ type: 'Asked' as const }],
          [
            sendAfter(Answerer.ref(message.to), question, 1_000),
            sendAt(Answerer.ref(message.to), question, new Date(Date.UTC(2026, 0, 1, 0, 0, 2))),
          ],
        );
      case 'Answer':
        return ok([{ type: 'Answered' as const, answer: message.answer, from: entity.sender ?? null }]);
    }
  },
  update(event, state) {
    if (event.type === 'Answered') return { answers: [...state.answers, { answer: event.answer, from: event.from }] };
    return state;
  },
});

describe.each(storeKinds)('entity.sender on %s', (kind) => {
  async function start(): Promise<{ system: System; clock: ReturnType<typeof createTestClock> }> {
    const place = await running.place(kind);
    const clock = createTestClock(Date.UTC(2026, 0, 1));
    const system = running.start({ store: place.newStore(), entities: [Asker, Answerer], clock });
    return { system, clock };
  }

  it("is the sending entity's ref for send, and the target's reply reaches it: request and reply", async () => {
    const { system } = await start();
    const [asker, answerer] = [Asker.ref(randomUUID()), Answerer.ref(randomUUID())];
    seen.length = 0;
    await system.call(asker, { type: 'Ask', to: answerer.id, text: 'ping' });
    await system.settled();

    expect((await system.read(answerer)).state.heard).toEqual([
      { what: 'Question', sender: { type: 'Asker', id: asker.id } },
    ]);
    expect((await system.read(asker)).state.answers).toEqual([
      { answer: 'PING', from: { type: 'Answerer', id: answerer.id } },
    ]);
    // Plain data, nothing else on it.
    expect(seen).toStrictEqual([{ type: 'Asker', id: asker.id }]);
    expect(await system.stats()).toMatchObject({ depth: 0, deadLetters: 0 });
  });

  it('is undefined for a system.call', async () => {
    const { system } = await start();
    const answerer = Answerer.ref(randomUUID());
    seen.length = 0;
    await system.call(answerer, { type: 'Question', text: 'who is there?' });
    await system.settled();
    expect(seen).toEqual([undefined]);
    expect((await system.read(answerer)).state.heard).toEqual([{ what: 'Question', sender: null }]);
    expect(await system.stats()).toMatchObject({ depth: 0, deadLetters: 0 });
  });

  it('is undefined for a timer, sent to itself or by another entity (sendAfter, sendAt)', async () => {
    const { system, clock } = await start();
    const [asker, answerer] = [Asker.ref(randomUUID()), Answerer.ref(randomUUID())];
    await system.call(answerer, { type: 'RemindMe' });
    await system.call(asker, { type: 'AskLater', to: answerer.id, text: 'later' });
    seen.length = 0;
    clock.advance(60_000);
    await system.settled();
    expect(seen).toEqual([undefined, undefined, undefined]);
    expect((await system.read(answerer)).state.heard.map((h) => h.sender)).toEqual([null, null, null, null]);
    // No sender, no reply.
    expect((await system.read(asker)).state.answers).toEqual([]);
  });
});

describe('given(...) with a sender', () => {
  it('hands handle the sender given, and none without one', () => {
    const asker = Asker.ref('a1');
    given(Answerer, [], { id: 'b1', sender: asker })
      .when({ type: 'Question', text: 'hi' })
      .thenEffects([send(asker, { type: 'Answer', answer: 'HI' })]);
    given(Answerer, [], { id: 'b1', sender: asker })
      .when({ type: 'Question', text: 'hi' })
      .then([{ type: 'Heard', what: 'Question', sender: { type: 'Asker', id: 'a1' } }]);
    given(Answerer).when({ type: 'Question', text: 'hi' }).thenEffects([]);
  });
});

describe('entity.sender in a cluster', () => {
  const { place, start } = useSystems();

  it('is carried with a message forwarded to its owner', async () => {
    const where = await place('sqlite');
    const nodes = ['s0', 's1'].map((name) =>
      start({
        store: where.newStore(),
        entities: [Asker, Answerer],
        logger: silentLogger,
        pollIntervalMs: 50,
        cluster: {
          name,
          listen: { host: '127.0.0.1', port: 0 },
          secret: 'reply-to-sender',
          heartbeatMs: 100,
          memberTtlMs: 600,
          partitions: 16,
        },
      }),
    );
    const pairs = Array.from({ length: 16 }, () => [Asker.ref(randomUUID()), Answerer.ref(randomUUID())] as const);
    const refs = pairs.flat();
    // Both nodes own partitions, and agree on the owner of every entity here.
    await vi.waitFor(
      () => {
        const owners = refs.map((ref) => nodes.map((n) => n.cluster.ownerOf(ref)?.name));
        expect(owners.every(([a, b]) => a !== undefined && a === b)).toBe(true);
        expect(new Set(owners.map(([a]) => a)).size).toBe(2);
      },
      { timeout: 10_000, interval: 50 },
    );
    const ownerOf = (ref: EntityRef) => {
      const name = nodes[0]?.cluster.ownerOf(ref)?.name;
      return nodes.find((n) => n.cluster.members().find((m) => m.self)?.name === name) as System;
    };
    for (const [asker, answerer] of pairs) {
      // Called on the asker's owner: what is forwarded is deliveries.
      await ownerOf(asker).call(asker, { type: 'Ask', to: answerer.id, text: asker.id });
    }
    await vi.waitFor(
      async () => {
        for (const [asker, answerer] of pairs) {
          expect((await nodes[0]?.read(answerer))?.state.heard).toEqual([
            { what: 'Question', sender: { type: 'Asker', id: asker.id } },
          ]);
          expect((await nodes[0]?.read(asker))?.state.answers).toEqual([
            { answer: asker.id.toUpperCase(), from: { type: 'Answerer', id: answerer.id } },
          ]);
        }
      },
      { timeout: 10_000, interval: 100 },
    );
    const stats = await Promise.all(nodes.map((n) => n.stats()));
    expect(stats.reduce((sum, s) => sum + (s.cluster?.forwarded ?? 0), 0)).toBeGreaterThan(0);
  });

  it("refuses a forwarded call whose from is not a ref, or comes without a delivery's message id", () => {
    const call = { type: 'Answerer', id: 'b', message: {}, messageId: 'm1' };
    expect(parseCalls({ calls: [{ ...call, from: { type: 'Asker', id: 'a' } }] })).toEqual([
      { ...call, from: { type: 'Asker', id: 'a' } },
    ]);
    for (const from of [null, 'Asker:a', { type: 'Asker' }, { type: 1, id: 'a' }, { type: 'Asker', id: ['a'] }]) {
      expect(typeof parseCalls({ calls: [{ ...call, from }] }), JSON.stringify(from)).toBe('string');
    }
    const { messageId: _, ...called } = call;
    expect(typeof parseCalls({ calls: [{ ...called, from: { type: 'Asker', id: 'a' } }] })).toBe('string');
  });
});
