/**
 * The definitions of test/outbox-crash.test.ts, and a process that commits one decision with
 * outbox rows and then dies by SIGKILL before the rows are settled.
 *
 *   node --import tsx test/support/outbox-crash-child.ts '<json address>' <mode> <order id> [inbox id]
 *
 * It calls `Touch` twice on the Order entity (so the decision under test is at version 3), then
 * `Place`, whose decision records `Placed` and asks for the at-least-once effect `Notify` (index 0)
 * and, with an inbox id, a message `send(Inbox.ref(inbox), { type: 'Deliver' })` (index 1). Then it
 * writes, each line with one synchronous write:
 *
 *   ack <version> <call started, ms since the epoch>   `Place` is committed
 *   effect <idempotency key> <attempt> <ms>             Notify started in this process
 *
 * `mode` says how the process dies:
 * - `self-kill`: Notify, on its first attempt, waits for the ack line, writes its line and kills
 *   its own process with SIGKILL, holding the row's lease;
 * - `parent-kill`: Notify writes its line and never finishes; the parent kills the process when it
 *   reads the ack line (the effect may not have started yet);
 * - `kill-before-settle`: the store is wrapped so that the process kills itself when the deliverer
 *   records its first outcome, after the ack line: without a message, Notify's (Notify waits for
 *   the ack line and finishes, so its side effect happened but is not recorded); with a message,
 *   the message's, after the Inbox committed it (Notify then never finishes). It writes
 *   `settling done|failed` first.
 *
 * Every mode uses a 500 ms lease, so another process takes the row over soon after.
 */

import { pathToFileURL } from 'node:url';
import { createSystem, defineEffect, defineEntity, type EffectContext, ok, type Store, send } from 'pachyderm';
import { type StorePlace, storeAt } from './stores.js';
import { writeLine } from './write-line.js';

export const LEASE_MS = 500;

export interface NotifyPayload {
  readonly note: string;
}

/** What a process does with a Notify: `ctx.context` decides, so the child and the test share the definition. */
export interface NotifyContext {
  notify(payload: NotifyPayload, ctx: EffectContext): Promise<void>;
}

export const Notify = defineEffect(
  'Notify',
  (payload: NotifyPayload, ctx) => (ctx.context as NotifyContext).notify(payload, ctx),
  { delivery: 'at-least-once', retry: { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 500 } },
);

/** Receives messages; its state lists them, so a message handled twice would show. */
export const Inbox = defineEntity({
  type: 'Inbox',
  init: () => ({ received: [] as string[] }),
  handle(message: { type: 'Deliver'; note: string }, _state) {
    return ok([{ type: 'Received' as const, note: message.note }]);
  },
  update(event, state) {
    return { received: [...state.received, event.note] };
  },
});

export type OrderMessage =
  | { type: 'Touch' }
  | { type: 'Place'; note: string }
  | { type: 'PlaceAndSend'; note: string; inbox: string };

export const Order = defineEntity({
  type: 'Order',
  init: () => ({ events: 0 }),
  handle(message: OrderMessage, _state) {
    if (message.type === 'Touch') return ok([{ type: 'Touched' as const }]);
    const placed = [{ type: 'Placed' as const, note: message.note }];
    const notify = Notify.with({ note: message.note });
    if (message.type === 'Place') return ok(placed, [notify]);
    return ok(placed, [notify, send(Inbox.ref(message.inbox), { type: 'Deliver', note: message.note })]);
  },
  update(_event, state) {
    return { events: state.events + 1 };
  },
});

const modes = ['self-kill', 'parent-kill', 'kill-before-settle'] as const;
export type Mode = (typeof modes)[number];

async function main(): Promise<void> {
  const [addressJson, modeArg, orderId, inboxId] = process.argv.slice(2);
  const mode = modes.find((m) => m === modeArg);
  if (!addressJson || !mode || !orderId) {
    writeLine(2, `usage: outbox-crash-child.ts <json address> ${modes.join('|')} <order id> [inbox id]\n`);
    process.exit(2);
  }
  let acked: () => void = () => {};
  const ackWritten = new Promise<void>((resolve) => {
    acked = resolve;
  });
  const context: NotifyContext = {
    async notify(_payload, ctx) {
      if (mode !== 'parent-kill') await ackWritten;
      writeLine(1, `effect ${ctx.idempotencyKey} ${ctx.attempt} ${Date.now()}\n`);
      if (mode === 'self-kill') process.kill(process.pid, 'SIGKILL');
      // Finished, with no message to wait for: its outcome is what the store is told next.
      if (mode === 'kill-before-settle' && inboxId === undefined) return;
      // In progress when the process is killed.
      await new Promise(() => {});
    },
  };
  const store = storeAt(JSON.parse(addressJson) as StorePlace['address']);
  const instrumented: Store = {
    ...store,
    // The first outcome recorded, in kill-before-settle mode: the effect's when there is no message
    // (the effect is then still in progress), else the message's, after the target committed it.
    async settleOutbox(owner, settlements) {
      if (mode === 'kill-before-settle') {
        await ackWritten;
        const outcome = settlements[0]?.outcome ?? { done: true };
        writeLine(1, `settling ${'done' in outcome ? 'done' : 'failed'}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
      return store.settleOutbox(owner, settlements);
    },
  };
  const system = createSystem({
    store: instrumented,
    entities: [Order, Inbox],
    effects: [Notify],
    context,
    leaseMs: LEASE_MS,
    pollIntervalMs: 50,
  });
  const order = Order.ref(orderId);
  await system.call(order, { type: 'Touch' });
  await system.call(order, { type: 'Touch' });
  const note = `note for ${orderId}`;
  const startedAt = Date.now();
  const result = await system.call(
    order,
    inboxId === undefined ? { type: 'Place', note } : { type: 'PlaceAndSend', note, inbox: inboxId },
  );
  if (!result.ok) throw new Error('Place was rejected');
  writeLine(1, `ack ${result.version} ${startedAt}\n`);
  acked();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    writeLine(
      2,
      `outbox-crash-child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
