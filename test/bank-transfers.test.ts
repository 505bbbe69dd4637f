/**
 * Guarantee: money is neither made nor lost by messages between entities, across crashes
 * (SQLite and PostgreSQL).
 *
 * 20 accounts of 1000 each (support/bank.ts). Two child processes (support/bank-child.ts) on one
 * store make random transfers, each a `Transfer` call on the paying account that records `Debited`
 * and `send`s `Credit` to the payee, which records `Credited`. Both processes also deliver the
 * outbox, sharing it through short leases. The harness kills one of the two with SIGKILL at random
 * moments (every 0.3 to 1.5 s) and starts it again, until about 2,000 transfers were acknowledged
 * (accepted calls only: rejections for insufficient funds are counted apart and not in the 2,000)
 * and at least 4 kills were made. Then both are killed,
 * and a fresh system in this process delivers what is left of the outbox. The same runs with three
 * processes that form a cluster (one owner per account, calls forwarded): each kill waits until the
 * killed node's partitions are owned again by the others (within 5 s), and the node comes back
 * under the same name, as a new incarnation. Last, one node is paused (SIGSTOP) for twice the
 * member TTL: its partitions go to the others, and once resumed it joins again as a new incarnation
 * and goes on transferring. At the end:
 *
 * - the outbox is empty and there are no dead letters (credits never fail);
 * - the sum of the balances is 20 × 1000, and no balance ever went below zero;
 * - every transfer is debited once and credited once: the multiset of `Debited` transfer ids
 *   equals the multiset of `Credited` ids, each exactly once, with matching accounts and amount;
 * - every acknowledged transfer's `Debited` event is in the payer's log at the acknowledged version;
 * - each account's state (snapshot plus later events) equals the fold of its whole log, and its
 *   versions are gapless;
 * - in the cluster, no call gave up with `CONFLICT_RETRIES_EXHAUSTED`.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSystem, type Store, type System } from 'pachyderm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ACCOUNT_COUNT,
  Account,
  type AccountEvent,
  type AccountState,
  accountIds,
  applyAccountEvent,
  CLUSTER,
  INITIAL_BALANCE,
} from './support/bank.js';
import { useChildProcesses } from './support/child-process.js';
import { type StorePlace, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();
const childScript = fileURLToPath(new URL('./support/bank-child.ts', import.meta.url));

const TARGET_ACKS = 2000;
/** Kills before the end even if the transfers come quickly. */
const MIN_KILLS = 4;
/** Transfers each child keeps in flight. */
const IN_FLIGHT = 6;

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
const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

interface Ack {
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly version: number;
}

/** What every child answered, across all of them. */
interface Ledger {
  readonly acks: Map<string, Ack>;
  readonly rejected: Set<string>;
  readonly failed: Map<string, string>;
}

/** A running child: its label (the prefix of its transfer ids) and a promise of its end. */
interface Child {
  readonly label: string;
  readonly process: ChildProcess;
  readonly ended: Promise<void>;
  /** What it wrote to stderr, once it was killed. */
  readonly stderr: Promise<string>;
}

/**
 * Starts a child; every line it writes goes into the ledger. `ended` resolves when it was killed
 * with SIGKILL and every line it wrote has been read, and rejects if it ended any other way or wrote
 * something unexpected.
 */
function startChild(address: StorePlace['address'], label: string, ledger: Ledger, node?: string): Child {
  const args = [JSON.stringify(address), label, `${IN_FLIGHT}`, ...(node ? [node] : [])];
  const child = processes.start(childScript, args, (line) => {
    const parts = line.split(' ');
    const [kind, id] = parts;
    if (!id?.startsWith(`${label}-`)) throw new Error(`unexpected line from child ${label}: ${JSON.stringify(line)}`);
    const seen = ledger.acks.has(id) || ledger.rejected.has(id) || ledger.failed.has(id);
    if (seen) throw new Error(`transfer ${id} answered twice`);
    if (kind === 'ack' && parts.length === 6) {
      const [, , from, to, amount, version] = parts as [string, string, string, string, string, string];
      ledger.acks.set(id, { from, to, amount: Number(amount), version: Number(version) });
    } else if (kind === 'rejected' && parts.length === 2) {
      ledger.rejected.add(id);
    } else if (kind === 'failed' && parts.length === 3) {
      ledger.failed.set(id, parts[2] as string);
    } else {
      throw new Error(`unexpected line from child ${label}: ${JSON.stringify(line)}`);
    }
  });
  const ended = child.killed.then(() => {});
  // Observed by the harness; a rejection must not go unhandled in the meantime.
  ended.catch(() => {});
  return {
    label,
    process: child.process,
    ended,
    stderr: child.killed.then(
      (k) => k.stderr,
      () => '',
    ),
  };
}

async function kill(child: Child): Promise<void> {
  child.process.kill('SIGKILL');
  await child.ended;
}

/** Every account's log, read with a fresh system; checks versions are gapless. */
async function readLogs(system: System): Promise<Map<string, AccountEvent[]>> {
  const logs = new Map<string, AccountEvent[]>();
  for (const id of accountIds) {
    const events: AccountEvent[] = [];
    for await (const { version, event } of system.events(Account.ref(id))) {
      expect(version, `${id}: versions are gapless`).toBe(events.length + 1);
      events.push(event);
    }
    logs.set(id, events);
  }
  return logs;
}

/** The cluster's members and partition owners as the store has them (an observer is never a member). */
const observe = (store: Store) =>
  store.heartbeat({
    incarnation: 'observer',
    ttlMs: CLUSTER.memberTtlMs,
    now: Date.now(),
    status: 'active',
    partitions: CLUSTER.partitions,
  });

/**
 * Waits until no partition is owned by a member named `name` and every partition has a live owner;
 * answers how long that took.
 */
async function ownedAgainWithout(store: Store, name: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const view = await observe(store);
    const live = new Map(view.members.map((m) => [m.incarnation, m.name]));
    if (view.owners.every((owner) => owner !== null && live.has(owner) && live.get(owner) !== name)) {
      return Date.now() - started;
    }
    if (Date.now() - started > 20_000) throw new Error(`the partitions of ${name} were not owned again in 20 s`);
    await sleep(25);
  }
}

/** The incarnations of the live members named `name`. */
async function incarnationsOf(store: Store, name: string): Promise<string[]> {
  const view = await observe(store);
  return view.members.filter((m) => m.name === name).map((m) => m.incarnation);
}

describe.each([
  ['sqlite', 'two processes'],
  ['postgres', 'two processes'],
  ['sqlite', 'a cluster of three'],
  ['postgres', 'a cluster of three'],
] as const)('bank transfers on %s under SIGKILL, %s', (kind, shape) => {
  const clustered = shape === 'a cluster of three';
  it('keeps the sum of balances, and credits every debit exactly once', async () => {
    const started = Date.now();
    const place = await places.place(kind);
    const ledger: Ledger = { acks: new Map(), rejected: new Set(), failed: new Map() };
    let spawned = 0;
    const labels: string[] = [];
    // In a cluster, a restarted process keeps its node's name (a new incarnation of it).
    const spawnOne = (slot: number) => {
      const label = `c${spawned++}`;
      labels.push(label);
      return startChild(place.address, label, ledger, clustered ? `node-${slot}` : undefined);
    };
    const observer = place.newStore();
    observer.retain();
    await observer.open();
    const failovers: number[] = [];

    // Processes on one store. Until enough transfers are acknowledged and enough kills made, kill one of them at a
    // random moment (counted from the previous restart: it may land during start up) and restart it. In a cluster,
    // the restart waits until the killed node's partitions are owned again by the others.
    const children: Child[] = Array.from({ length: clustered ? 3 : 2 }, (_, slot) => spawnOne(slot));
    const deadline = started + 90_000;
    let kills = 0;
    const enough = () => ledger.acks.size >= TARGET_ACKS && kills >= MIN_KILLS;
    while (!enough()) {
      if (Date.now() > deadline) throw new Error(`only ${ledger.acks.size} transfers acknowledged in time`);
      // Stop as soon as enough transfers are acknowledged; a child that failed on its own fails the
      // test now rather than at the end.
      const killAt = Date.now() + randomBetween(300, 1500);
      while (Date.now() < killAt && !enough()) {
        await Promise.race([sleep(20), ...children.map((c) => c.ended)]);
      }
      if (enough()) break;
      const slot = Math.floor(Math.random() * children.length);
      await kill(children[slot] as Child);
      kills++;
      if (clustered) failovers.push(await ownedAgainWithout(observer, `node-${slot}`));
      children[slot] = spawnOne(slot);
    }
    if (clustered) {
      // A node paused for twice the member TTL loses its partitions; resumed, it joins again as a new incarnation.
      const paused = children[0] as Child;
      const before = await incarnationsOf(observer, 'node-0');
      paused.process.kill('SIGSTOP');
      await sleep(2 * CLUSTER.memberTtlMs);
      failovers.push(await ownedAgainWithout(observer, 'node-0'));
      paused.process.kill('SIGCONT');
      const rejoinDeadline = Date.now() + 20_000;
      while ((await incarnationsOf(observer, 'node-0')).every((incarnation) => before.includes(incarnation))) {
        if (Date.now() > rejoinDeadline) {
          const now = await incarnationsOf(observer, 'node-0');
          paused.process.kill('SIGKILL');
          const stderr = await paused.stderr;
          throw new Error(
            `the paused node did not join again: before ${before.join(', ')}, now ${now.join(', ')}; its stderr:\n${stderr.slice(-3000)}`,
          );
        }
        // A node that died on its own fails the test here, with its stderr.
        await Promise.race([sleep(100), paused.ended]);
      }
      const acksBefore = ledger.acks.size;
      while (ledger.acks.size < acksBefore + 200) await Promise.race([sleep(20), ...children.map((c) => c.ended)]);
    }
    // All stop dead, with transfers and deliveries under way.
    await Promise.all(children.map(kill));
    await observer.release();
    const harnessMs = Date.now() - started;

    // A fresh process delivers what is left: rows still leased by the dead processes after their
    // leases expire, the others at once.
    const system = createSystem({ store: place.newStore(), entities: [Account], leaseMs: 1000, pollIntervalMs: 100 });
    systems.add(system);
    const left = await system.stats();
    const drainDeadline = Date.now() + 30_000;
    let stats = left;
    while (stats.depth > 0) {
      if (Date.now() > drainDeadline) throw new Error(`the outbox did not drain: ${JSON.stringify(stats)}`);
      await sleep(50);
      stats = await system.stats();
    }
    const drainMs = Date.now() - started - harnessMs;
    expect(stats).toMatchObject({ depth: 0, inFlight: 0, retrying: 0, deadLetters: 0, pendingTimers: 0 });
    expect(await system.deadLetters()).toEqual([]);

    const logs = await readLogs(system);
    const debits = new Map<string, { from: string; to: string; amount: number; version: number }>();
    const credits = new Map<string, { from: string; to: string; amount: number }>();
    let total = 0;
    for (const [id, events] of logs) {
      // The state the system serves (snapshot plus later events) is the fold of the whole log.
      let state: AccountState = Account.init();
      events.forEach((event, index) => {
        state = applyAccountEvent(event, state);
        expect(state.balance, `${id} never goes below zero`).toBeGreaterThanOrEqual(0);
        if (event.type === 'Debited') {
          expect(debits.has(event.transfer), `transfer ${event.transfer} debited twice`).toBe(false);
          debits.set(event.transfer, { from: id, to: event.to, amount: event.amount, version: index + 1 });
        } else {
          expect(credits.has(event.transfer), `transfer ${event.transfer} credited twice`).toBe(false);
          credits.set(event.transfer, { from: event.from, to: id, amount: event.amount });
        }
      });
      expect(await system.read(Account.ref(id))).toEqual({ state, version: events.length });
      total += state.balance;
    }

    expect(total).toBe(ACCOUNT_COUNT * INITIAL_BALANCE);
    // Every debit has exactly one credit, of the same amount between the same accounts, and no
    // credit comes without its debit.
    expect([...credits.keys()].sort()).toEqual([...debits.keys()].sort());
    for (const [transfer, { from, to, amount }] of debits) {
      expect(credits.get(transfer), `the credit of ${transfer}`).toEqual({ from, to, amount });
    }
    // Every acknowledged transfer is debited at the version its call answered.
    for (const [transfer, ack] of ledger.acks) {
      expect(debits.get(transfer), `acknowledged transfer ${transfer}`).toEqual(ack);
    }
    // Nothing rejected was debited, and nothing in the logs that no child asked for.
    for (const transfer of ledger.rejected) expect(debits.has(transfer), `rejected ${transfer}`).toBe(false);
    for (const transfer of debits.keys()) expect(labels).toContain(transfer.split('-')[0]);

    if (clustered) {
      // Routing keeps conflicts rare: nobody gave up on them. A killed node's partitions were owned again within 5 s.
      expect([...ledger.failed.values()]).not.toContain('CONFLICT_RETRIES_EXHAUSTED');
      expect(Math.max(...failovers)).toBeLessThan(5000);
    }
    const unacknowledged = debits.size - ledger.acks.size;
    const failures: Record<string, number> = {};
    for (const code of ledger.failed.values()) failures[code] = (failures[code] ?? 0) + 1;
    console.info(
      `${kind}, ${shape}: ${spawned} processes, ${kills} kills${clustered ? ` (partitions owned again after ${failovers.join(', ')} ms)` : ''}, ${ledger.acks.size} transfers acknowledged ` +
        `(+${ledger.rejected.size} rejected for insufficient funds, ${ledger.failed.size} failed: ` +
        `${JSON.stringify(failures)}), ` +
        `${unacknowledged} committed but not acknowledged before a kill; after the kills the outbox held ` +
        `${left.depth} rows (${left.inFlight} leased by dead processes), delivered by the last system in ${drainMs} ms; ` +
        `harness ${harnessMs} ms, total ${Date.now() - started} ms`,
    );
  }, 150_000);
});
