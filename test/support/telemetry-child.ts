/**
 * The definitions of the restart case of test/telemetry.test.ts, and a process that registers an
 * OpenTelemetry SDK, makes a call whose decision sets a timer (an outbox row carrying its trace
 * context) on a test clock that never moves, writes the call's span and waits to be killed:
 *
 *   node --import tsx test/support/telemetry-child.ts '<json address>' <sender id> <inbox id>
 *
 *   sent <trace id> <span id>    the call committed; its timer waits in the outbox
 */
import { pathToFileURL } from 'node:url';
import { createSystem, defineEntity, ok, sendAfter } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { type StorePlace, storeAt } from './stores.js';
import { installTelemetry } from './telemetry.js';
import { writeLine } from './write-line.js';

/** The test clock's start, in both processes: the timer is due a minute after it. */
export const T0 = Date.UTC(2026, 11, 4);
export const TIMER_MS = 60_000;

export const Inbox = defineEntity({
  type: 'Inbox',
  init: () => ({ notes: [] as string[] }),
  handle: (message: { note: string }) => ok([{ type: 'Noted' as const, note: message.note }]),
  update: (event, state) => ({ notes: [...state.notes, event.note] }),
});

export const Sender = defineEntity({
  type: 'Sender',
  init: () => ({ sent: 0 }),
  handle: (message: { inbox: string }) =>
    ok([{ type: 'Scheduled' as const }], [sendAfter(Inbox.ref(message.inbox), { note: 'later' }, TIMER_MS)]),
  update: (_event, state) => ({ sent: state.sent + 1 }),
});

async function main(): Promise<void> {
  const [addressJson, senderId, inboxId] = process.argv.slice(2);
  if (!addressJson || !senderId || !inboxId) throw new Error('usage: telemetry-child.ts <address> <sender> <inbox>');
  const telemetry = installTelemetry();
  const system = createSystem({
    store: storeAt(JSON.parse(addressJson) as StorePlace['address']),
    entities: [Sender, Inbox],
    clock: createTestClock(T0),
  });
  const result = await system.call(Sender.ref(senderId), { inbox: inboxId });
  if (!result.ok) throw new Error('the call was rejected');
  const span = telemetry.spans().find((s) => s.name === 'pachyderm.call');
  if (!span) throw new Error('no pachyderm.call span');
  writeLine(1, `sent ${span.spanContext().traceId} ${span.spanContext().spanId}\n`);
  await new Promise(() => {});
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    writeLine(
      2,
      `telemetry-child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
