/** The seed's counter: every increment is an event; the tenth asks for a mail to the admin. */
import { defineEffect, defineEntity, ok } from 'pachyderm';

export interface Mailer {
  send(to: string, text: string): Promise<void>;
}

declare module 'pachyderm' {
  interface Register {
    context: { mailer: Mailer };
  }
}

export const AdminMailer = defineEffect('AdminMailer', async (payload: { threshold: number }, ctx) => {
  await ctx.context.mailer.send('admin@myapp.example', `Reached ${payload.threshold}`);
});

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
