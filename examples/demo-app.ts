/**
 * The demo's application as the `pachyderm` CLI loads it (`--app examples/demo-app.ts`): the
 * options `npm start` creates its systems with, on the same SQLite file.
 *
 *   npm run pachyderm -- dashboard --app examples/demo-app.ts
 *   npm run pachyderm -- inspect Counter <id> --app examples/demo-app.ts
 */
import type { SystemOptions } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';
import { AdminMailer, Counter, type Mailer } from './counter.js';

/** The SQLite file of the demo, in the directory it runs from. */
export const filename = 'pachyderm-demo.db';

export const mailer: Mailer = {
  async send(to, text) {
    console.log(`  ✉  mail to ${to}: "${text}"`);
  },
};

export function demoOptions(): SystemOptions {
  return { store: sqliteStore({ filename }), entities: [Counter], effects: [AdminMailer], context: { mailer } };
}

export default demoOptions;
