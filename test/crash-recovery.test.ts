/**
 * Guarantee: a process doing calls that is killed with SIGKILL at a random moment loses no
 * acknowledged call; after restart the log is gapless (SQLite and PostgreSQL).
 *
 * A child process (support/crash-child.ts) keeps 8 calls in flight to one Ledger entity and prints
 * `ack <id> <callId> <version>` after each call resolves. The parent kills it with SIGKILL at a
 * random moment, starts it again on the same store, and so on. After every kill a fresh system
 * checks the log: versions 1..N without gaps, each call id at most once, every acknowledged call
 * exactly once at its acknowledged version, and the state (from snapshots and from events alone)
 * counts N events.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createSystem, defineEntity } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { useChildProcesses } from './support/child-process.js';
import { Ledger } from './support/entities.js';
import { type StorePlace, useStorePlaces } from './support/stores.js';

const places = useStorePlaces();
const childScript = fileURLToPath(new URL('./support/crash-child.ts', import.meta.url));

/** The same entity with another snapshot version: its reads ignore snapshots and fold every event. */
const LedgerFromEvents = defineEntity({
  type: Ledger.type,
  init: Ledger.init,
  handle: Ledger.handle,
  update: Ledger.update,
  snapshotVersion: 'ignore snapshots',
});

const children = useChildProcesses();

const randomBetween = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

interface Round {
  /** callId → version, for every call the child acknowledged before it died. */
  readonly acks: Map<string, number>;
  readonly pid: number;
}

/**
 * Runs the child until it is killed. `killAfter` decides the moment: counted from the first
 * acknowledgement, or from the start when `fromStart` is set (the kill may then land during start
 * up, migrations or the first commit, before any acknowledgement).
 */
function runUntilKilled(
  address: StorePlace['address'],
  id: string,
  killAfter: { ms: number; fromStart?: boolean },
): Promise<Round> {
  const acks = new Map<string, number>();
  let killTimer: NodeJS.Timeout | undefined;
  const schedule = () => {
    killTimer ??= setTimeout(() => child.process.kill('SIGKILL'), killAfter.ms);
  };
  const child = children.start(childScript, [JSON.stringify(address), id], (line) => {
    const match = /^ack (.+) (\S+) (\d+)$/.exec(line);
    if (!match || match[1] !== id) throw new Error(`unexpected line from the child: ${JSON.stringify(line)}`);
    const callId = match[2] as string;
    if (acks.has(callId)) throw new Error(`call ${callId} acknowledged twice`);
    acks.set(callId, Number(match[3]));
    clearTimeout(startTimeout);
    schedule();
  });
  if (killAfter.fromStart) schedule();
  // A child that never acknowledges a call must not hang the test.
  const startTimeout = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
  return child.killed
    .then(({ pid }) => ({ acks, pid }))
    .finally(() => {
      clearTimeout(startTimeout);
      clearTimeout(killTimer);
    });
}

/** Reads the log with a fresh system on a new store object and checks it against the acknowledgements. */
async function checkLog(place: StorePlace, id: string, acknowledged: ReadonlyMap<string, number>, pids: number[]) {
  const system = createSystem({ store: place.newStore(), entities: [Ledger] });
  const fromEvents = createSystem({ store: place.newStore(), entities: [LedgerFromEvents] });
  try {
    const versions: number[] = [];
    const logged = new Map<string, number>();
    for await (const { version, event } of system.events(Ledger.ref(id))) {
      const { callId } = event as { callId: string };
      versions.push(version);
      expect(logged.has(callId), `call ${callId} is in the log twice`).toBe(false);
      logged.set(callId, version);
    }
    const n = versions.length;
    expect(versions).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const [callId, version] of acknowledged) {
      expect(logged.get(callId), `acknowledged call ${callId}`).toBe(version);
    }
    // Nothing in the log that no child asked for.
    for (const callId of logged.keys()) expect(pids).toContain(Number(callId.split('-')[0]));
    expect(await system.read(Ledger.ref(id))).toEqual({ state: { count: n }, version: n });
    expect(await fromEvents.read(LedgerFromEvents.ref(id))).toEqual({ state: { count: n }, version: n });
    return n;
  } finally {
    await Promise.all([system.close(), fromEvents.close()]);
  }
}

describe.each(['sqlite', 'postgres'] as const)('a process killed with SIGKILL on %s', (kind) => {
  it('loses no acknowledged call, and the log stays gapless across restarts', async () => {
    const place = await places.place(kind);
    const id = randomUUID();
    const acknowledged = new Map<string, number>();
    const pids: number[] = [];
    const summary: string[] = [];
    // The first kill lands at a random moment from the start (maybe during migrations or the
    // first commit); the others between 200 and 1500 ms after the first acknowledgement.
    const kills = [
      { ms: randomBetween(400, 2500), fromStart: true },
      { ms: randomBetween(200, 1500) },
      { ms: randomBetween(200, 1500) },
      { ms: randomBetween(200, 1500) },
    ];
    let logged = 0;
    for (const killAfter of kills) {
      const { acks, pid } = await runUntilKilled(place.address, id, killAfter);
      pids.push(pid);
      for (const [callId, version] of acks) {
        expect(acknowledged.has(callId)).toBe(false);
        acknowledged.set(callId, version);
      }
      // A restarted process continues after every call acknowledged before.
      const versions = [...acks.values()];
      if (versions.length > 0) expect(Math.min(...versions)).toBeGreaterThan(logged);
      logged = await checkLog(place, id, acknowledged, pids);
      summary.push(`kill after ${killAfter.ms} ms: ${acks.size} acks, log ${logged}`);
    }
    // The rounds after the first had time to acknowledge calls.
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(logged).toBeGreaterThanOrEqual(acknowledged.size);
    console.info(`${kind}: ${summary.join('; ')}`);
  }, 30_000);
});
