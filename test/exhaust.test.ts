/**
 * `exhaust` (pachyderm/testing): every order in which messages, timers and the starting calls can be
 * delivered, each played once on the real runtime, counted against a hand computation; and the
 * ordering that breaks an order-dependent pair.
 */
import { defineEntity, ok, send, sendAfter } from 'pachyderm';
import { exhaust, type SimulationStep } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';

type PingPongMessage = { ping: string; round: number; late?: boolean } | { pong: string; round: number };

/** A ping is answered with a pong to the pinger (after a second, as a timer, when `late`); a pong ends it. */
const PingPong = defineEntity({
  type: 'PingPong',
  init: () => ({ pings: 0, pongs: 0 }),
  handle(message: PingPongMessage, _state, entity) {
    if ('pong' in message) return ok([{ type: 'Ponged' as const }]);
    const pong = { pong: entity.self.id, round: message.round };
    const to = entity.ref(message.ping);
    return ok([{ type: 'Pinged' as const }], [message.late ? sendAfter(to, pong, 1000) : send(to, pong)]);
  },
  update: (event, state) =>
    event.type === 'Pinged' ? { ...state, pings: state.pings + 1 } : { ...state, pongs: state.pongs + 1 },
});
const alice = PingPong.ref('alice');
const bob = PingPong.ref('bob');
const holds = () => true;

/** Runs exhaust and answers every ordering it played, as the lines of its steps. */
async function orderings(options: Omit<Parameters<typeof exhaust>[0], 'onOrdering'>) {
  const seen: string[] = [];
  const result = await exhaust({
    ...options,
    onOrdering: (steps: readonly SimulationStep[]) => seen.push(steps.map((step) => step.text).join(' | ')),
  });
  return { result, seen };
}

describe('exhaust', () => {
  it('plays each ordering of two ping-pongs once: two chains of two deliveries interleave in 4!/(2!·2!) = 6 ways', async () => {
    const { result, seen } = await orderings({
      entities: [PingPong],
      start: [
        { ref: bob, message: { ping: 'alice', round: 1 } },
        { ref: alice, message: { ping: 'bob', round: 2 } },
      ],
      invariant: holds,
    });
    expect(result).toEqual({ ok: true, orderings: 6, complete: true });
    expect(new Set(seen).size).toBe(6);
    expect(seen.every((ordering) => ordering.split(' | ').length === 4)).toBe(true);
  });

  it('keeps the order of one sender to one target: three ping-pongs, two of whose pongs share a lane, give 60 orderings', async () => {
    // 6!/(2!·2!·2!) = 90 orderings if every pong could overtake; the two pongs from bob to alice
    // keep the order of their pings: 4 of the 6 orders of those four deliveries, times C(6,2) = 15
    // places for the third chain: 60.
    const { result, seen } = await orderings({
      entities: [PingPong],
      start: [
        { ref: bob, message: { ping: 'alice', round: 1 } },
        { ref: alice, message: { ping: 'bob', round: 2 } },
        { ref: bob, message: { ping: 'alice', round: 3 } },
      ],
      invariant: holds,
    });
    expect(result).toEqual({ ok: true, orderings: 60, complete: true });
    expect(new Set(seen).size).toBe(60);
    for (const ordering of seen) {
      const at = (round: number) => ordering.indexOf(`{"pong":"bob","round":${round}}`);
      const pinged = (round: number) => ordering.indexOf(`{"ping":"alice","round":${round}}`);
      expect(at(1) < at(3)).toBe(pinged(1) < pinged(3));
    }
  });

  it('delivers timers in any order with messages, and stops each ordering at maxDepth', async () => {
    const start = [
      { ref: bob, message: { ping: 'alice', round: 1, late: true } },
      { ref: alice, message: { ping: 'bob', round: 2 } },
    ];
    const full = await orderings({ entities: [PingPong], start, invariant: holds });
    expect(full.result).toEqual({ ok: true, orderings: 6, complete: true });
    expect(full.seen.filter((ordering) => ordering.includes('timer {"pong":"bob","round":1}'))).toHaveLength(6);
    // Two deliveries: each start first, then either the other start or its own pong: 2 × 2.
    const shallow = await orderings({ entities: [PingPong], start, invariant: holds, maxDepth: 2 });
    expect(shallow.result).toEqual({ ok: true, orderings: 4, complete: true });
    expect(new Set(shallow.seen).size).toBe(4);
  });

  it('counts two deliveries of the same thing as one choice: two equal pings give 2 orderings, not 4', async () => {
    const ping = { ref: bob, message: { ping: 'alice', round: 1 } };
    const { result, seen } = await orderings({ entities: [PingPong], start: [ping, ping], invariant: holds });
    // ping ping pong pong, or ping pong ping pong: the pongs share a lane and look alike.
    expect(result).toEqual({ ok: true, orderings: 2, complete: true });
    expect(new Set(seen).size).toBe(2);
  });

  it('says when it stopped before the end (maxOrderings)', async () => {
    const start = [
      { ref: bob, message: { ping: 'alice', round: 1 } },
      { ref: alice, message: { ping: 'bob', round: 2 } },
    ];
    expect(await exhaust({ entities: [PingPong], start, invariant: holds, maxOrderings: 4 })).toEqual({
      ok: true,
      orderings: 4,
      complete: false,
    });
  });

  it('finds the ordering that breaks an order-dependent pair, with a readable report', async () => {
    type ShopMessage = { type: 'Open' } | { type: 'Order'; from: string } | { type: 'Buy'; shop: string };
    // A shop that turns away orders that come before it opens; a customer whose order is a message.
    const Shop = defineEntity({
      type: 'Shop',
      init: () => ({ open: false, sold: 0, turnedAway: 0 }),
      handle(message: ShopMessage, state, entity) {
        if (message.type === 'Open') return ok([{ type: 'Opened' as const }]);
        if (message.type === 'Buy')
          return ok(
            [{ type: 'Wanted' as const }],
            [send(entity.ref(message.shop), { type: 'Order', from: entity.self.id })],
          );
        return ok([state.open ? { type: 'Sold' as const } : { type: 'TurnedAway' as const }]);
      },
      update(event, state) {
        if (event.type === 'Opened') return { ...state, open: true };
        if (event.type === 'Sold') return { ...state, sold: state.sold + 1 };
        if (event.type === 'TurnedAway') return { ...state, turnedAway: state.turnedAway + 1 };
        return state;
      },
    });
    const result = await exhaust({
      entities: [Shop],
      start: [
        { ref: Shop.ref('shop'), message: { type: 'Open' } },
        { ref: Shop.ref('ann'), message: { type: 'Buy', shop: 'shop' } },
      ],
      invariant: async (view) => (await view.read(Shop.ref('shop'))).turnedAway === 0,
    });
    if (result.ok) throw new Error('no counterexample');
    // Open first: open, buy, order (and open, ... the same); then buy first: buy, order — broken.
    expect(result.orderings).toBe(3);
    expect(result.counterexample.map((step) => step.text)).toEqual([
      'p1 gets call 1: {"type":"Buy","shop":"shop"} → Shop/ann',
      'p1 delivers message {"type":"Order","from":"ann"} from Shop/ann → Shop/shop',
    ]);
    expect(result.report).toContain(
      '  Shop/shop\n    before: {"open":false,"sold":0,"turnedAway":0}\n    after:  {"open":false,"sold":0,"turnedAway":1}',
    );
    expect(result.error.message).toBe(result.report);
    expect(result.error.code).toBe('INVARIANT_BROKEN');
  });

  it('refuses options it cannot run with a typed error', async () => {
    await expect(exhaust({ entities: [PingPong], start: [], invariant: holds, maxDepth: 0 })).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
    await expect(exhaust({ entities: [PingPong], invariant: holds } as never)).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
  });
});
