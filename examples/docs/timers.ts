import { createSystem, defineEntity, memoryStore, ok, sendAfter } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';

// A seat hold that expires after fifteen minutes, unless the seat is bought first.
const Seat = defineEntity({
  type: 'Seat',
  init: () => ({ status: 'free' as 'free' | 'held' | 'sold' }),
  handle(message: { type: 'Hold' } | { type: 'Buy' } | { type: 'Expire' }, state, { self }) {
    switch (message.type) {
      case 'Hold':
        return ok([{ type: 'Held' as const }], [sendAfter(self, { type: 'Expire' }, 15 * 60_000, { key: 'hold' })]);
      case 'Buy':
        return ok([{ type: 'Sold' as const }]);
      case 'Expire':
        // A no-op when the seat was sold meanwhile: the expiry is decided on the latest state.
        return state.status === 'held' ? ok([{ type: 'Freed' as const }]) : ok([]);
    }
  },
  update: (event, _state) => ({ status: event.type === 'Held' ? 'held' : event.type === 'Sold' ? 'sold' : 'free' }),
});

const clock = createTestClock(Date.UTC(2026, 11, 2, 9));
const system = createSystem({ store: memoryStore(), entities: [Seat], clock });
const [a, b] = [Seat.ref('a1'), Seat.ref('b7')];
await system.call(a, { type: 'Hold' });
await system.call(b, { type: 'Hold' });
await system.call(b, { type: 'Buy' });

clock.advance(15 * 60_000); // exactly when the holds end
await system.settled(); // the timers were delivered and handled
console.log((await system.read(a)).state, (await system.read(b)).state);
console.log(await system.stats().then(({ pendingTimers, depth }) => ({ pendingTimers, depth })));
await system.close();
