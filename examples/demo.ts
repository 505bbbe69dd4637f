/**
 * `npm start`: the seed's story on the embedded SQLite default. Ten increments, the admin mail at
 * ten, then the system restarted from the same file with the state recovered.
 */
import { randomUUID } from 'node:crypto';
import { createSystem } from 'pachyderm';
import { Counter } from './counter.js';
import { demoOptions, filename } from './demo-app.js';

const ref = Counter.ref(randomUUID());

console.log(`Pachyderm demo: one Counter entity (id ${ref.id}) in the SQLite file ${filename}.\n`);
console.log('First run: ten increments. The counter asks for a mail to the admin when it reaches ten;');
console.log('the mail is sent only after the tenth increment is safely on disk.');
const first = createSystem(demoOptions());
for (let i = 0; i < 10; i++) {
  const result = await first.call(ref, { type: 'Increment' });
  if (result.ok)
    console.log(`  increment ${i + 1}: count is ${result.state.count} (event log at version ${result.version})`);
}
await first.close();
console.log('\nThe system is shut down. Nothing is left in memory.\n');

console.log(`Second run: a new system on the same file ${filename}.`);
const second = createSystem(demoOptions());
const recovered = await second.read(ref);
console.log(`  recovered from the event log: count is ${recovered.state.count} at version ${recovered.version}`);
const next = await second.call(ref, { type: 'Increment' });
if (next.ok) console.log(`  one more increment: count is ${next.state.count}, and no second mail`);
await second.close();
console.log('\nDone. Run `npm test` to see every guarantee proven on memory, SQLite and PostgreSQL.');
console.log(`\nLook inside ${filename}: its state at every version, its events, the outbox:`);
console.log('  npm run pachyderm -- dashboard --app examples/demo-app.ts');
console.log('  (it prints the address to open, with a token for this run; Ctrl-C stops it)');
console.log(`  npm run pachyderm -- inspect Counter ${ref.id} --at 5 --app examples/demo-app.ts`);
