/**
 * Compile-time checks for an application that declares its context (run by `tsc -p` on this
 * folder in `npm run check`). A project of its own: `declare module` holds for a whole
 * compilation, and test/types.check.ts checks the application that declares none.
 */
import { createSystem, defineEffect, memoryStore } from 'pachyderm';

interface Mailer {
  send(to: string, text: string): Promise<void>;
}

declare module 'pachyderm' {
  interface Register {
    context: { mailer: Mailer };
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_value?: T): void {}

const Notify = defineEffect('Notify', async (payload: { to: string }, ctx) => {
  assertType<Equal<typeof ctx.context, { mailer: Mailer }>>();
  await ctx.context.mailer.send(payload.to, 'hello');
});

const mailer: Mailer = { send: async () => {} };

createSystem({ store: memoryStore(), entities: [], effects: [Notify], context: { mailer } });
// @ts-expect-error the declared context is required
createSystem({ store: memoryStore(), entities: [], effects: [Notify] });
// @ts-expect-error and of the declared type
createSystem({ store: memoryStore(), entities: [], effects: [Notify], context: { mail: mailer } });
// @ts-expect-error undefined is not a context
createSystem({ store: memoryStore(), entities: [], context: undefined });
