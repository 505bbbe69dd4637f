import { defineEffect, defineEntity, ok } from 'pachyderm';
import { given } from 'pachyderm/testing';

const AdminMailer = defineEffect('AdminMailer', async (_payload: { threshold: number }) => {});
const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle(_message: { type: 'Increment' }, state) {
    const events = [{ type: 'Increased' as const, amount: 1 }];
    return state.count === 9 ? ok(events, [AdminMailer.with({ threshold: 10 })]) : ok(events);
  },
  update: (event, state) => ({ count: state.count + event.amount }),
});

const nine = Array.from({ length: 9 }, () => ({ type: 'Increased' as const, amount: 1 }));

given(Counter)
  .when({ type: 'Increment' })
  .then([{ type: 'Increased', amount: 1 }]);
given(Counter, nine)
  .when({ type: 'Increment' })
  .thenEffects([AdminMailer.with({ threshold: 10 })]);
given(Counter, nine).when({ type: 'Increment' }).thenState({ count: 10 });
console.log('all three specifications hold');
