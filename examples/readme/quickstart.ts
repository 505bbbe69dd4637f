import { createSystem, defineEffect, defineEntity, ok } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

const mailer = {
  async send(to: string, text: string) {
    console.log(`mail to ${to}: ${text}`);
  },
};

const AdminMailer = defineEffect('AdminMailer', async (payload: { threshold: number }, _ctx) => {
  await mailer.send('admin@myapp.example', `Reached ${payload.threshold}`);
});

const Counter = defineEntity({
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

const system = createSystem({
  store: sqliteStore({ filename: 'pachyderm.db' }),
  entities: [Counter],
  effects: [AdminMailer],
});

const counter = Counter.ref(crypto.randomUUID());
const first = await system.call(counter, { type: 'Increment' });
if (first.ok) console.log({ ok: first.ok, state: first.state, version: first.version });
for (let i = 0; i < 9; i++) await system.call(counter, { type: 'Increment' });
console.log(await system.read(counter));
await system.close();
