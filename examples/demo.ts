/**
 * `npm start`: the seed's story on the embedded SQLite default. Ten increments, the admin mail at
 * ten, then the system restarted from the same file with the state recovered.
 */
import { randomUUID } from 'node:crypto';
import { createSystem } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';
import { AdminMailer, Counter, type Mailer } from './counter.js';

const filename = 'pachyderm-demo.db';
const mailer: Mailer = {
  async send(to, text) {
    console.log(`  ✉  mail to ${to}: "${text}"`);
  },
};
const ref = Counter.ref(randomUUID());

console.log(`Pachyderm demo: one Counter entity (id ${ref.id}) in the SQLite file ${filename}.\n`);
console.log('First run: ten increments. The counter asks for a mail to the admin when it reaches ten;');
console.log('the mail is sent only after the tenth increment is safely on disk.');
const first = createSystem({
  store: sqliteStore({ filename }),
  entities: [Counter],
  effects: [AdminMailer],
  context: { mailer },
});
for (let i = 0; i < 10; i++) {
  const result = await first.call(ref, { type: 'Increment' });
  if (result.ok)
    console.log(`  increment ${i + 1}: count is ${result.state.count} (event log at version ${result.version})`);
}
await first.close();
console.log('\nThe system is shut down. Nothing is left in memory.\n');

console.log(`Second run: a new system on the same file ${filename}.`);
const second = createSystem({
  store: sqliteStore({ filename }),
  entities: [Counter],
  effects: [AdminMailer],
  context: { mailer },
});
const recovered = await second.read(ref);
console.log(`  recovered from the event log: count is ${recovered.state.count} at version ${recovered.version}`);
const next = await second.call(ref, { type: 'Increment' });
if (next.ok) console.log(`  one more increment: count is ${next.state.count}, and no second mail`);
await second.close();
console.log('\nDone. Run `npm test` to see every guarantee proven on memory, SQLite and PostgreSQL.');
