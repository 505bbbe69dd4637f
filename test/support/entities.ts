/** Entity definitions shared by the tests. */
import { defineEffect, defineEntity, error, ok } from 'pachyderm';

export const AdminMailer = defineEffect('AdminMailer', async (payload: { threshold: number }, ctx) => {
  (ctx.context as { sent: unknown[] }).sent.push({ payload, version: ctx.version, key: ctx.idempotencyKey });
});

/** The counter: the tenth increment asks for the admin mail. */
export const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle(message: { type: 'Increment' }, state) {
    const events = [{ type: 'Increased' as const, amount: 1 }];
    if (state.count === 9) return ok(events, [AdminMailer.with({ threshold: 10 })]);
    return ok(events);
  },
  update(event, state) {
    return { count: state.count + event.amount };
  },
});

/**
 * Records each call's id, so tests can check that every acknowledged call is in the log once.
 * `Fail` rejects; `Peek` records nothing.
 */
export const Ledger = defineEntity({
  type: 'Ledger',
  init: () => ({ count: 0 }),
  handle(message: { type: 'Record'; callId: string } | { type: 'Fail' } | { type: 'Peek' }, _state) {
    if (message.type === 'Fail') return error('refused' as const);
    if (message.type === 'Peek') return ok([]);
    return ok([{ type: 'Recorded', callId: message.callId }]);
  },
  update(_event, state) {
    return { count: state.count + 1 };
  },
});
