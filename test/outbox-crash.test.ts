/**
 * Guarantee: outbox rows survive the process that committed them (SQLite and PostgreSQL). A
 * process killed after the commit and before delivery: the effect is delivered after restart, and
 * a message is handled by its target exactly once.
 *
 * A child process (support/outbox-crash-child.ts) commits a decision at version 3 of an Order that
 * asks for the at-least-once effect Notify (and, in the message cases, sends a message to an
 * Inbox), then dies with SIGKILL before the rows are settled, in one of three ways:
 * - `self-kill`: by itself inside Notify's first attempt, holding the row's 500 ms lease;
 * - `parent-kill`: by the parent as soon as it reads the call's acknowledgement (Notify may not
 *   have started; if it did, it never finishes);
 * - `kill-before-settle`: by itself through a wrapped store, just before the deliverer records an
 *   outcome: Notify's after it finished (no message), or the message's after the Inbox committed it.
 *
 * Then a fresh system in this process, with a Notify that records what it is given, takes over. It
 * checks:
 * - Notify runs here once, with the idempotency key `<order id>:3:0` of the committed decision and
 *   its payload; when the child had leased the row, only after that lease expired, as attempt 2
 *   (after `kill-before-settle` that makes two runs in all with one key: at least once, not exactly
 *   once);
 * - the message is in the Inbox's log exactly once, also when the child had handled it already;
 * - the sender's log holds the three events once;
 * - the outbox is then empty (`stats().depth === 0`) and there are no dead letters.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createSystem, type EffectContext, type Store, type System } from 'pachyderm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useChildProcesses } from './support/child-process.js';
import {
  Inbox,
  LEASE_MS,
  type Mode,
  Notify,
  type NotifyContext,
  type NotifyPayload,
  Order,
} from './support/outbox-crash-child.js';
import { eventsOf } from './support/reads.js';
import { type StorePlace, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();
const childScript = fileURLToPath(new URL('./support/outbox-crash-child.ts', import.meta.url));

const processes = useChildProcesses();
/** Systems still open, closed after every test whatever its outcome. */
const systems = new Set<System>();
async function cleanUp(): Promise<void> {
  await Promise.all([...systems].map((system) => system.close()));
  systems.clear();
}
afterEach(cleanUp);
afterAll(cleanUp);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the child wrote before it died. */
interface ChildRun {
  readonly version: number;
  /** When the `Place` call started in the child: the rows were leased after this. */
  readonly callStartedAt: number;
  /** Notify's first attempt, if it started in the child. */
  readonly effect?: { readonly key: string; readonly attempt: number; readonly at: number };
  /** `kill-before-settle`: the outcome the child was about to record when it killed itself. */
  readonly settling?: string;
}

/** Runs the child until it dies by SIGKILL: its own, or ours on its ack line in `parent-kill` mode. */
function runChild(address: StorePlace['address'], mode: Mode, orderId: string, inboxId?: string): Promise<ChildRun> {
  const args = [JSON.stringify(address), mode, orderId, ...(inboxId === undefined ? [] : [inboxId])];
  let ack: { version: number; callStartedAt: number } | undefined;
  let effect: ChildRun['effect'];
  let settling: string | undefined;
  let killedByUs = false;
  const child = processes.start(childScript, args, (line) => {
    const ackLine = /^ack (\d+) (\d+)$/.exec(line);
    const effectLine = /^effect (\S+) (\d+) (\d+)$/.exec(line);
    const settlingLine = /^settling (done|failed)$/.exec(line);
    if (ackLine) {
      ack = { version: Number(ackLine[1]), callStartedAt: Number(ackLine[2]) };
      if (mode === 'parent-kill') {
        killedByUs = true;
        child.process.kill('SIGKILL');
      }
    } else if (effectLine) {
      effect = { key: effectLine[1] as string, attempt: Number(effectLine[2]), at: Number(effectLine[3]) };
    } else if (settlingLine) {
      settling = settlingLine[1];
    } else {
      throw new Error(`unexpected line from the child: ${JSON.stringify(line)}`);
    }
  });
  // A child that neither dies nor acknowledges must not hang the test.
  const timeout = setTimeout(() => child.process.kill('SIGKILL'), 20_000);
  return child.killed
    .finally(() => clearTimeout(timeout))
    .then(({ stderr }) => {
      if (!ack) throw new Error(`the child died before acknowledging the call:\n${stderr}`);
      if (mode !== 'parent-kill' && killedByUs)
        throw new Error(`the child did not kill itself in ${mode} mode:\n${stderr}`);
      if (mode === 'self-kill' && !effect) throw new Error('the child died in Notify without saying so');
      if (mode === 'kill-before-settle' && !settling)
        throw new Error('the child died before an outcome without saying so');
      return { ...ack, ...(effect ? { effect } : {}), ...(settling ? { settling } : {}) };
    });
}

interface Delivery {
  readonly idempotencyKey: string;
  readonly attempt: number;
  readonly payload: NotifyPayload;
  readonly at: number;
}

/** What the store holds right after the child died, read through the port: a system would start delivering. */
async function observe(place: StorePlace, inboxId?: string) {
  const store: Store = place.newStore();
  store.retain();
  await store.open();
  try {
    const at = Date.now();
    const stats = await store.outboxStats(at);
    const inboxEvents = inboxId === undefined ? 0 : (await eventsOf(store, inboxId)).length;
    return { at, stats, inboxEvents };
  } finally {
    await store.release();
  }
}

/** A fresh system on the place, as after a restart, whose Notify records what it is given. */
function restart(place: StorePlace): { system: System; deliveries: Delivery[] } {
  const deliveries: Delivery[] = [];
  const context: NotifyContext = {
    async notify(payload: NotifyPayload, ctx: EffectContext) {
      deliveries.push({ idempotencyKey: ctx.idempotencyKey, attempt: ctx.attempt, payload, at: Date.now() });
    },
  };
  const system = createSystem({
    store: place.newStore(),
    entities: [Order, Inbox],
    effects: [Notify],
    context,
    leaseMs: LEASE_MS,
    pollIntervalMs: 50,
  });
  systems.add(system);
  return { system, deliveries };
}

/** Waits until Notify was delivered and the outbox is empty; then two more leases, to see nothing else comes. */
async function drained(system: System, deliveries: Delivery[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const stats = await system.stats();
    if (deliveries.length > 0 && stats.depth === 0) break;
    if (Date.now() > deadline) throw new Error(`not delivered in time: ${JSON.stringify(stats)}`);
    await sleep(20);
  }
  await sleep(2 * LEASE_MS);
  expect(await system.stats()).toMatchObject({ depth: 0, inFlight: 0, retrying: 0, deadLetters: 0 });
  expect(await system.deadLetters()).toEqual([]);
}

/** Checks that the restarted system ran Notify of the decision the child committed, once. */
function checkNotify(orderId: string, run: ChildRun, deliveries: Delivery[], mode: Mode): Delivery {
  const key = `${orderId}:${run.version}:0`;
  expect(run.version).toBe(3);
  expect(deliveries).toHaveLength(1);
  const [delivery] = deliveries as [Delivery];
  expect(delivery).toMatchObject({ idempotencyKey: key, payload: { note: `note for ${orderId}` } });
  if (run.effect) {
    // The child leased the row and started the first attempt: this is the second, and it came
    // only once the dead process's lease had expired (the lease was taken after the call started).
    expect(run.effect).toMatchObject({ key, attempt: 1 });
    expect(delivery.attempt).toBe(2);
    expect(delivery.at).toBeGreaterThanOrEqual(run.callStartedAt + LEASE_MS);
  } else {
    // Killed before Notify started: the row may have been leased (attempt 2) or not (attempt 1).
    expect(mode).toBe('parent-kill');
    expect([1, 2]).toContain(delivery.attempt);
  }
  return delivery;
}

async function checkSender(system: System, orderId: string): Promise<void> {
  const types: string[] = [];
  for await (const { event } of system.events(Order.ref(orderId))) types.push(event.type);
  expect(types).toEqual(['Touched', 'Touched', 'Placed']);
  expect(await system.read(Order.ref(orderId))).toEqual({ state: { events: 3 }, version: 3 });
}

/** Rounds per mode: the parent's kill lands at a different moment each time; the others are deterministic. */
const rounds: Record<Mode, number> = { 'self-kill': 1, 'parent-kill': 3, 'kill-before-settle': 1 };
const modes = Object.keys(rounds) as Mode[];

describe.each(['sqlite', 'postgres'] as const)('a process killed after the commit, before delivery, on %s', (kind) => {
  it.each(modes)('an at-least-once effect is delivered after restart (%s)', async (mode) => {
    const place = await places.place(kind);
    const outcomes: string[] = [];
    for (let round = 0; round < rounds[mode]; round++) {
      const orderId = randomUUID();
      const run = await runChild(place.address, mode, orderId);
      const before = await observe(place);
      // The row is still there; if the child leased it and we looked soon enough, still leased.
      expect(before.stats.depth).toBe(1);
      if (mode !== 'parent-kill' && before.at < run.callStartedAt + LEASE_MS) expect(before.stats.inFlight).toBe(1);
      if (mode === 'kill-before-settle') expect(run.settling).toBe('done');

      const { system, deliveries } = restart(place);
      await drained(system, deliveries);
      const delivery = checkNotify(orderId, run, deliveries, mode);
      if (mode !== 'parent-kill') expect(delivery.attempt).toBe(2);
      await checkSender(system, orderId);
      await system.close();
      outcomes.push(
        `Notify ${run.effect ? (run.settling ? 'finished' : 'started') : 'not started'} in the child, ` +
          `store read ${before.at - run.callStartedAt} ms after the call started (row ${before.stats.inFlight ? 'leased' : 'not leased'}), ` +
          `delivered here as attempt ${delivery.attempt} ${delivery.at - run.callStartedAt} ms after the call started`,
      );
    }
    console.info(`${kind} ${mode} effect: ${outcomes.join('; ')}`);
  });

  it.each(modes)('a message sent by a decision is handled by its target exactly once (%s)', async (mode) => {
    const place = await places.place(kind);
    const outcomes: string[] = [];
    for (let round = 0; round < rounds[mode]; round++) {
      const orderId = randomUUID();
      const inboxId = randomUUID();
      const run = await runChild(place.address, mode, orderId, inboxId);
      const before = await observe(place, inboxId);
      // Notify's row is left. The message's row too unless the child delivered it and recorded
      // that; in kill-before-settle mode the Inbox committed it but the outcome was not recorded.
      expect(before.inboxEvents).toBeLessThanOrEqual(1);
      expect(before.stats.depth).toBeLessThanOrEqual(2);
      expect(before.stats.depth).toBeGreaterThanOrEqual(2 - before.inboxEvents);
      if (mode === 'kill-before-settle') {
        expect(run.settling).toBe('done');
        expect(before.inboxEvents).toBe(1);
        expect(before.stats.depth).toBe(2);
      }

      const { system, deliveries } = restart(place);
      await drained(system, deliveries);
      checkNotify(orderId, run, deliveries, mode);
      await checkSender(system, orderId);
      const note = `note for ${orderId}`;
      const received: unknown[] = [];
      for await (const { event } of system.events(Inbox.ref(inboxId))) received.push(event);
      expect(received).toEqual([{ type: 'Received', note }]);
      expect(await system.read(Inbox.ref(inboxId))).toEqual({ state: { received: [note] }, version: 1 });
      await system.close();
      outcomes.push(
        `message ${before.inboxEvents ? 'handled' : 'not handled'} in the child (${before.stats.depth} rows left), ` +
          `Notify ${run.effect ? 'started' : 'not started'} in the child`,
      );
    }
    console.info(`${kind} ${mode} message: ${outcomes.join('; ')}`);
  });
});
