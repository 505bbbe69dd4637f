import { defineEntity, ok, send } from 'pachyderm';
import { exhaust } from 'pachyderm/testing';

// Each ping is answered with a pong to the pinger.
type Ball = { ping: string; round: number } | { pong: string; round: number };
const Player = defineEntity({
  type: 'Player',
  init: () => ({ hits: 0 }),
  handle(message: Ball, _state, entity) {
    if ('pong' in message) return ok([{ type: 'Hit' }]);
    return ok([{ type: 'Hit' }], [send(entity.ref(message.ping), { pong: entity.self.id, round: message.round })]);
  },
  update: (_event: { type: 'Hit' }, state) => ({ hits: state.hits + 1 }),
});

// Two pings, each answered: two chains of two deliveries interleave in 4!/(2!·2!) = 6 ways.
const rally = await exhaust({
  entities: [Player],
  start: [
    { ref: Player.ref('bob'), message: { ping: 'alice', round: 1 } },
    { ref: Player.ref('alice'), message: { ping: 'bob', round: 2 } },
  ],
  invariant: async (view) => (await view.readAll(Player)).every((player) => player.hits <= 2),
});
console.log(rally);

// A shop that turns away an order that comes before it opens.
type ShopMessage = { type: 'Open' } | { type: 'Buy'; shop: string } | { type: 'Order' };
const Shop = defineEntity({
  type: 'Shop',
  init: () => ({ open: false, turnedAway: 0 }),
  handle(message: ShopMessage, state, entity) {
    if (message.type === 'Open') return ok([{ type: 'Opened' }]);
    if (message.type === 'Buy') return ok([{ type: 'Wanted' }], [send(entity.ref(message.shop), { type: 'Order' })]);
    return ok([{ type: state.open ? 'Sold' : 'TurnedAway' }]);
  },
  update: (event: { type: 'Opened' | 'Wanted' | 'Sold' | 'TurnedAway' }, state) => ({
    open: state.open || event.type === 'Opened',
    turnedAway: state.turnedAway + (event.type === 'TurnedAway' ? 1 : 0),
  }),
});
const shopping = await exhaust({
  entities: [Shop],
  start: [
    { ref: Shop.ref('shop'), message: { type: 'Open' } },
    { ref: Shop.ref('ann'), message: { type: 'Buy', shop: 'shop' } },
  ],
  invariant: async (view) => (await view.read(Shop.ref('shop'))).turnedAway === 0,
});
if (!shopping.ok) console.log(shopping.report);
