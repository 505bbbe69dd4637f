/**
 * A `messageSchema` (any Standard Schema: zod, valibot, one written by hand, sync or async) checks
 * every message before `handle`: a call that fails it is refused with `INVALID_MESSAGE` and the
 * schema's issues, `handle` is not called and nothing is committed; a message sent by another
 * entity that fails it is a dead letter on its first attempt; `handle` gets the schema's output.
 * A `messageSchema` that is not a Standard Schema is refused by `defineEntity`.
 */
import { randomUUID } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  defineEntity,
  ErrorCode,
  InvalidMessageError,
  isPachydermError,
  type MessageIssue,
  ok,
  refsOf,
  type System,
  send,
  silentLogger,
} from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { storeKinds } from './support/stores.js';
import { useSystems } from './support/systems.js';

const running = useSystems();

/** How many times each entity's `handle` ran, by id. */
const handled = new Map<string, number>();
const count = (id: string) => handled.set(id, (handled.get(id) ?? 0) + 1);

const Cart = defineEntity({
  type: 'Cart',
  messageSchema: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('AddItem'),
      itemId: z.string().transform((s) => s.trim()),
      quantity: z.number().int().positive().default(1),
    }),
    z.object({ type: z.literal('Clear') }),
  ]),
  init: () => ({ items: {} as Record<string, number> }),
  handle(message, _state, entity) {
    count(entity.self.id);
    if (message.type === 'Clear') return ok([{ type: 'Cleared' as const }]);
    return ok([{ type: 'Added' as const, itemId: message.itemId, quantity: message.quantity }]);
  },
  update(event, state) {
    if (event.type === 'Cleared') return { items: {} };
    return { items: { ...state.items, [event.itemId]: (state.items[event.itemId] ?? 0) + event.quantity } };
  },
});

/** The same checks with valibot, whose issue paths are segment objects `{ key }`. */
const Meter = defineEntity({
  type: 'Meter',
  messageSchema: v.object({ readings: v.array(v.object({ kwh: v.pipe(v.number(), v.minValue(0)) })) }),
  init: () => ({ total: 0 }),
  handle(message, _state, entity) {
    count(entity.self.id);
    return ok([{ type: 'Read' as const, kwh: message.readings.reduce((sum, r) => sum + r.kwh, 0) }]);
  },
  update: (event, state) => ({ total: state.total + event.kwh }),
});

/** A Standard Schema written by hand whose `validate` answers later, after `delayOf(n)` ms. */
let delayOf = (_n: number) => 1;
const later: StandardSchemaV1<unknown, { n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'by-hand',
    async validate(value) {
      const n = (value as { n?: unknown } | null)?.n;
      await new Promise((resolve) => setTimeout(resolve, typeof n === 'number' ? delayOf(n) : 1));
      if (typeof n !== 'number') return { issues: [{ message: 'n must be a number', path: [{ key: 'n' }] }] };
      return { value: { n: n * 10 } };
    },
  },
};
const Slow = defineEntity({
  type: 'Slow',
  messageSchema: later,
  init: () => ({ seen: [] as number[] }),
  handle(message, _state, entity) {
    count(entity.self.id);
    return ok([{ type: 'Seen' as const, n: message.n }]);
  },
  update: (event, state) => ({ seen: [...state.seen, event.n] }),
});

/** Issues with every kind of hostile text and key a schema may give. */
const symbol = Symbol('sym');
const hostileMessage = `"quoted" 'single' <b onclick="x">html</b> 😀 __proto__ \\ \n newline \u0000 nul`;
const hostile: StandardSchemaV1<unknown, { n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'hostile',
    validate: () => ({
      issues: [
        { message: hostileMessage, path: ['__proto__', 'constructor', { key: '"><script>' }, 0, '😀', symbol] },
        { message: 'no path' },
        { message: 'segment symbol', path: [{ key: symbol }, { key: 7 }, 'prototype'] },
      ],
    }),
  },
};
const Hostile = defineEntity({
  type: 'Hostile',
  messageSchema: hostile,
  handle(message, _state, entity) {
    count(entity.self.id);
    return ok([{ type: 'Never' as const, n: message.n }]);
  },
  update: (_event, state) => state,
});

/** Sends whatever it is told to whichever target: the targets' schemas are the only check. */
const Anything = refsOf<unknown>('any');
const Forwarder = defineEntity({
  type: 'Forwarder',
  init: () => ({}),
  handle: (message: { to: { type: string; id: string }; messages: unknown[] }) =>
    ok(
      [{ type: 'Forwarded' as const }],
      message.messages.map((m) => send({ ...Anything.ref(message.to.id), type: message.to.type }, m)),
    ),
  update: (_event, state) => state,
});

const entities = [Cart, Meter, Slow, Hostile, Forwarder];

async function refusal(promise: Promise<unknown>): Promise<InvalidMessageError> {
  const failure = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isPachydermError(failure, ErrorCode.InvalidMessage), String(failure)).toBe(true);
  expect(failure).toBeInstanceOf(InvalidMessageError);
  return failure as InvalidMessageError;
}

async function eventsOf(system: System, ref: { type: string; id: string }): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const recorded of system.events(ref as never)) events.push(recorded.event);
  return events;
}

describe.each(storeKinds)('message schemas on %s', (kind) => {
  async function start() {
    const place = await running.place(kind);
    const clock = createTestClock(Date.UTC(2026, 0, 1));
    // Dead letters are logged as errors; these tests make them on purpose.
    const system = running.start({ store: place.newStore(), entities, clock, logger: silentLogger });
    return { system, clock };
  }

  it('refuses a call that fails the schema with INVALID_MESSAGE and its issues: handle not called, nothing committed; the next valid one is served', async () => {
    const { system } = await start();
    const ref = Cart.ref(randomUUID());
    expect(await system.call(ref, { type: 'AddItem', itemId: 'a', quantity: 2 })).toMatchObject({ version: 1 });

    const error = await refusal(system.call(ref, { type: 'AddItem', itemId: 'foo', quantity: 'two' } as never));
    expect(error.issues).toEqual([{ path: ['quantity'], message: expect.any(String) }]);
    expect(error.message).toMatch(/^The message to Cart failed its messageSchema: quantity: /);
    expect(error.retryable).toBe(false);
    const unknownType = await refusal(system.call(ref, { type: 'Remove', itemId: 'a' } as never));
    expect(unknownType.issues.map((issue) => issue.path)).toEqual([['type']]);

    expect(handled.get(ref.id)).toBe(1);
    expect(await system.read(ref)).toEqual({ state: { items: { a: 2 } }, version: 1 });
    expect(await eventsOf(system, ref)).toHaveLength(1);
    expect(await system.call(ref, { type: 'AddItem', itemId: 'a', quantity: 3 })).toMatchObject({
      ok: true,
      state: { items: { a: 5 } },
      version: 2,
    });
  });

  it("gives handle the schema's output: a default filled in, a string transformed", async () => {
    const { system } = await start();
    const ref = Cart.ref(randomUUID());
    const answer = await system.call(ref, { type: 'AddItem', itemId: '  book  ' } as never);
    expect(answer).toMatchObject({ ok: true, state: { items: { book: 1 } } });
    expect(await eventsOf(system, ref)).toEqual([{ type: 'Added', itemId: 'book', quantity: 1 }]);
  });

  it('dead-letters a sent message that fails the target schema on its first attempt, with the issues; the target never handles it', async () => {
    const { system } = await start();
    const target = Cart.ref(randomUUID());
    const valid = { type: 'AddItem', itemId: 'pen', quantity: 1 };
    const invalid = { type: 'AddItem', itemId: 'foo', quantity: -1 };
    await system.call(Forwarder.ref(randomUUID()), { to: target, messages: [invalid, valid] });
    await system.settled();

    const dead = await system.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ kind: 'message', target, payload: invalid, attempts: 1 });
    expect(dead[0]?.error).toMatch(/^The message to Cart failed its messageSchema: quantity: /);
    // The valid message after it in the same lane was delivered; the invalid one never reached handle.
    expect(handled.get(target.id)).toBe(1);
    expect(await system.read(target)).toEqual({ state: { items: { pen: 1 } }, version: 1 });
    expect(await system.stats()).toMatchObject({ depth: 0, deadLetters: 1 });
  });

  it('works with valibot: issue paths from its segment objects', async () => {
    const { system } = await start();
    const ref = Meter.ref(randomUUID());
    const error = await refusal(system.call(ref, { readings: [{ kwh: 1 }, { kwh: -2 }] }));
    expect(error.issues).toEqual([{ path: ['readings', 1, 'kwh'], message: expect.any(String) }]);
    expect(error.message).toMatch(/^The message to Meter failed its messageSchema: readings\[1\]\.kwh: /);
    expect(await system.call(ref, { readings: [{ kwh: 1 }, { kwh: 2 }] })).toMatchObject({ state: { total: 3 } });
    expect(handled.get(ref.id)).toBe(1);
  });

  it('awaits a schema whose validate is asynchronous, for calls and delivered messages', async () => {
    const { system } = await start();
    const ref = Slow.ref(randomUUID());
    const error = await refusal(system.call(ref, { n: 'one' } as never));
    expect(error.issues).toEqual([{ path: ['n'], message: 'n must be a number' }]);
    expect(await system.call(ref, { n: 1 })).toMatchObject({ ok: true, state: { seen: [10] } });

    await system.call(Forwarder.ref(randomUUID()), { to: ref, messages: [{ n: 2 }, { n: 'x' }] });
    await system.settled();
    expect((await system.read(ref)).state.seen).toEqual([10, 20]);
    const dead = await system.deadLetters();
    expect(dead).toMatchObject([{ payload: { n: 'x' }, attempts: 1, error: expect.stringContaining('n: n must') }]);
    expect(handled.get(ref.id)).toBe(2);
  });

  it('keeps the order of messages from one sender to one target when their checks end in another order', async () => {
    const { system } = await start();
    const ref = Slow.ref(randomUUID());
    // The first message's check ends last.
    delayOf = (n) => 40 - n * 8;
    try {
      const messages = [0, 1, 2, 3, 4].map((n) => ({ n }));
      await system.call(Forwarder.ref(randomUUID()), { to: ref, messages });
      await system.settled();
    } finally {
      delayOf = () => 1;
    }
    expect((await system.read(ref)).state.seen).toEqual([0, 10, 20, 30, 40]);
  });

  it('keeps hostile text and keys of issues as data: quotes, HTML, emoji, NUL, __proto__, symbols', async () => {
    const { system } = await start();
    const ref = Hostile.ref(randomUUID());
    const expected: MessageIssue[] = [
      { message: hostileMessage, path: ['__proto__', 'constructor', '"><script>', 0, '😀', 'Symbol(sym)'] },
      { message: 'no path', path: [] },
      { message: 'segment symbol', path: ['Symbol(sym)', 7, 'prototype'] },
    ];
    const error = await refusal(system.call(ref, { n: 1 }));
    expect(error.issues).toEqual(expected);
    expect(Object.getPrototypeOf(error.issues[0]?.path)).toBe(Array.prototype);
    expect(error.message).toBe(
      `The message to Hostile failed its messageSchema: __proto__.constructor["\\"><script>"][0]["😀"]["Symbol(sym)"]: ${hostileMessage}; no path; ["Symbol(sym)"][7].prototype: segment symbol`,
    );
    expect(({} as Record<string, unknown>).constructor).toBe(Object);

    await system.call(Forwarder.ref(randomUUID()), { to: ref, messages: [{ n: 1 }] });
    await system.settled();
    const [dead] = await system.deadLetters();
    // Every store holds the same text; PostgreSQL's text cannot hold NUL, so no store gets one.
    expect(dead?.error).toBe(error.message.replace('\u0000', '\uFFFD'));
    expect(handled.get(ref.id)).toBeUndefined();
  });
});

describe('a messageSchema that is not a Standard Schema', () => {
  it('is refused by defineEntity with INVALID_CONFIGURATION', () => {
    const schema = z.object({ n: z.number() });
    const notSchemas: unknown[] = [
      {},
      null,
      'z.object',
      schema.parse,
      { '~standard': null },
      { '~standard': { version: 2, vendor: 'x', validate: () => ({ value: 1 }) } },
      { '~standard': { version: 1, vendor: 'x' } },
      { '~standard': { version: 1, vendor: 'x', validate: 'yes' } },
    ];
    for (const messageSchema of notSchemas) {
      expect(
        () =>
          defineEntity({
            type: 'Bad',
            messageSchema: messageSchema as never,
            handle: () => ok([]),
            update: (_event, state) => state,
          }),
        String(messageSchema),
      ).toThrow(expect.objectContaining({ code: ErrorCode.InvalidConfiguration }));
    }
    expect(Cart.messageSchema).toBeDefined();
    expect(defineEntity({ type: 'Plain', handle: () => ok([]), update: (_e, s) => s }).messageSchema).toBeUndefined();
  });
});
