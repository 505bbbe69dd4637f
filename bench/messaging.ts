/**
 * Messages between entities in `npm run bench`, end to end: senders commit a `send`, the outbox
 * delivers it, the target handles it; the clock stops when `system.settled()` says every message
 * was handled. Against the per-message raw floor of the same run: the two transactions a message
 * costs when written by hand with the driver (the sender's event with its outbox row; the target's
 * event with the row's removal), fsynced each. And the outbox's claim cost with and without
 * 100,000 rows waiting in it.
 */
import { randomUUID } from 'node:crypto';
import {
  createSystem,
  defineEffect,
  defineEntity,
  error,
  ok,
  type Store,
  type System,
  send,
  silentLogger,
} from 'pachyderm';
import { drive, fmt, type Measured, RUNS, range, repeat, type Sample, type Stat, stat } from './measure.js';

/** The per-message raw floor: both transactions of one message, written with the driver. */
export interface RawMessaging {
  /** Appends the sender's event and an outbox row, then the target's event and deletes the row. */
  message(sender: string, target: string, payload: string): Promise<void>;
}

export interface MessagingTarget {
  readonly name: string;
  store(): Store;
  /** Messages per run. */
  readonly size: number;
  readonly raw?: RawMessaging;
}

/** What a handled message reports: when its `send` was called, to time delivery end to end. */
interface Handled {
  readonly at: number;
}
interface LatencyContext {
  handled(at: number): void;
}
const Record = defineEffect<Handled>('BenchHandled', async ({ at }, ctx) =>
  (ctx.context as LatencyContext).handled(at),
);

const Target = defineEntity({
  type: 'BenchTarget',
  init: () => ({ received: 0, lastSeq: -1, inOrder: true }),
  handle: (message: { type: 'Deliver'; seq: number; at: number }) =>
    ok([{ type: 'Received' as const, seq: message.seq }], [Record.with({ at: message.at })]),
  update: (event, state) => ({
    received: state.received + 1,
    lastSeq: event.seq,
    inOrder: state.inOrder && event.seq > state.lastSeq,
  }),
});
const Sender = defineEntity({
  type: 'BenchSender',
  init: () => ({ sent: 0 }),
  handle: (message: { type: 'Send'; to: string; seq: number; at: number }) =>
    ok(
      [{ type: 'Sent' as const }],
      [send(Target.ref(message.to), { type: 'Deliver', seq: message.seq, at: message.at })],
    ),
  update: (_event, state) => ({ sent: state.sent + 1 }),
});
const START_BALANCE = 100;
type AccountMessage =
  | { type: 'Transfer'; to: string; amount: number; at: number }
  | { type: 'Credit'; amount: number; at: number };
type AccountEvent = { type: 'Debited'; amount: number } | { type: 'Credited'; amount: number };
const Account = defineEntity({
  type: 'BenchAccount',
  init: () => ({ balance: START_BALANCE }),
  handle(message: AccountMessage, state, entity) {
    if (message.type === 'Credit') {
      const credited: AccountEvent = { type: 'Credited', amount: message.amount };
      return ok([credited], [Record.with({ at: message.at })]);
    }
    if (state.balance < message.amount) return error('insufficient funds');
    const debited: AccountEvent = { type: 'Debited', amount: message.amount };
    const credit: AccountMessage = { type: 'Credit', amount: message.amount, at: message.at };
    return ok([debited], [send(entity.ref(message.to), credit)]);
  },
  update: (event: AccountEvent, state) => ({
    balance: state.balance + (event.type === 'Credited' ? event.amount : -event.amount),
  }),
});

const CONCURRENCY = 256;
const PEERS = 1_000;
/** The target of the i-th message of the fan-out: each sender's messages go to different targets. */
const targetOf = (i: number) => (i * 7919 + Math.floor(i / PEERS)) % PEERS;

interface MessagingResult {
  readonly scenario: string;
  readonly store: string;
  readonly ours: Measured;
  readonly floor?: Measured;
}
export const messagingResults: MessagingResult[] = [];
const backlogResults: { store: string; empty: Stat; full: Stat }[] = [];

/**
 * Sends `total` messages, `CONCURRENCY` calls in flight, until all are handled. Rate: messages per
 * second from the first call to settled; p50/p99: from a `send` call to its handling committed.
 */
async function endToEnd(
  system: System,
  total: number,
  call: (i: number, at: number) => Promise<unknown>,
  handled: number[],
): Promise<Sample> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, total) }, async () => {
      while (next < total) {
        const i = next++;
        await call(i, performance.now());
      }
    }),
  );
  await system.settled();
  const seconds = (performance.now() - started) / 1000;
  if (handled.length !== total) throw new Error(`${handled.length} of ${total} messages handled`);
  const sorted = Float64Array.from(handled).sort();
  return {
    callsPerSecond: total / seconds,
    p50: sorted[Math.floor(total * 0.5)] as number,
    p99: sorted[Math.min(total - 1, Math.floor(total * 0.99))] as number,
  };
}

function systemFor(target: MessagingTarget, handled: number[]): System {
  return createSystem({
    store: target.store(),
    entities: [Sender, Target, Account],
    effects: [Record],
    context: { handled: (at: number) => handled.push(performance.now() - at) } satisfies LatencyContext,
    logger: silentLogger,
  });
}

async function scenario(
  target: MessagingTarget,
  label: string,
  total: number,
  run: (system: System, prefix: string) => (i: number, at: number) => Promise<unknown>,
  check?: (system: System, prefix: string) => Promise<void>,
): Promise<Measured> {
  return repeat(`${target.name}, ${label}`, async () => {
    const handled: number[] = [];
    const system = systemFor(target, handled);
    try {
      const prefix = randomUUID();
      const sample = await endToEnd(system, total, run(system, prefix), handled);
      await check?.(system, prefix);
      return sample;
    } finally {
      await system.close();
    }
  });
}

/** Fan-out, one ordered lane and a bank, on one store, with the floor when it has one. */
export async function messaging(target: MessagingTarget): Promise<void> {
  const total = target.size;
  const raw = target.raw;
  const floor = raw
    ? await repeat(`${target.name}, per-message raw floor`, () => {
        const prefix = randomUUID();
        return drive(total, CONCURRENCY, (i) =>
          raw.message(`${prefix}-s${i % PEERS}`, `${prefix}-t${targetOf(i)}`, `{"seq":${i}}`),
        );
      })
    : undefined;
  const report = (scenarioName: string, ours: Measured) =>
    messagingResults.push({ scenario: scenarioName, store: target.name, ours, ...(floor ? { floor } : {}) });

  report(
    'Fan-out, 1,000 senders to 1,000 targets',
    await scenario(
      target,
      'fan-out 1,000 -> 1,000',
      total,
      (system, prefix) => (i, at) =>
        system.call(Sender.ref(`${prefix}-s${i % PEERS}`), {
          type: 'Send',
          to: `${prefix}-t${targetOf(i)}`,
          seq: i,
          at,
        }),
    ),
  );
  report(
    'One ordered lane, 1 sender to 1 target',
    await scenario(
      target,
      'one lane 1 -> 1',
      total,
      (system, prefix) => (i, at) =>
        system.call(Sender.ref(`${prefix}-s`), { type: 'Send', to: `${prefix}-t`, seq: i, at }),
      async (system, prefix) => {
        const { state } = await system.read(Target.ref(`${prefix}-t`));
        if (state.received !== total || !state.inOrder) throw new Error('the lane lost or reordered messages');
      },
    ),
  );
  report(
    'Bank, 1,000 accounts, transfers through send',
    await scenario(
      target,
      'bank of 1,000',
      total,
      (system, prefix) => (i, at) =>
        system.call(Account.ref(`${prefix}-a${i % PEERS}`), {
          type: 'Transfer',
          to: `${prefix}-a${(i * 7919 + 1) % PEERS}`,
          amount: 1,
          at,
        }),
      async (system, prefix) => {
        let sum = 0;
        for (let a = 0; a < PEERS; a++) sum += (await system.read(Account.ref(`${prefix}-a${a}`))).state.balance;
        if (sum !== PEERS * START_BALANCE) throw new Error(`the bank holds ${sum}, not ${PEERS * START_BALANCE}`);
      },
    ),
  );
}

const BACKLOG = 100_000;
const ROUNDS = 50;
const BATCH = 64;

/**
 * Claim cost against backlog, straight on the store: rounds of claiming and settling a batch of 64
 * ready rows, in an outbox otherwise empty and in one with 100,000 message rows waiting in 1,000
 * lanes behind heads not yet due (rows a claim must not take, which it used to check one by one).
 * `fresh` opens an empty store each time.
 */
export async function outboxBacklog(name: string, fresh: () => Store): Promise<void> {
  const samples = { empty: [] as number[], full: [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    for (const backlog of [0, BACKLOG] as const) {
      const store = fresh();
      await store.open();
      try {
        const now = Date.now();
        if (backlog > 0) await fill(store, now, backlog);
        const id = randomUUID();
        const ready = Array.from({ length: BATCH * ROUNDS }, (_, k) => ({
          kind: 'effect' as const,
          name: 'BenchEffect',
          payload: null,
          idempotencyKey: `${id}:${k}`,
          sourceVersion: 1,
          dueAt: now,
          timer: false,
          orderKey: null,
        }));
        await store.commit({
          appends: [
            { streamId: id, expectedVersion: 0, events: ['{}'], entityType: 'Bench', eventVersion: 1, outbox: ready },
          ],
          recordedAt: now,
        });
        const started = performance.now();
        for (let round = 0; round < ROUNDS; round++) {
          const claimed = await store.claimOutbox({ owner: 'bench', now, leaseMs: 60_000, limit: BATCH });
          if (claimed.length !== BATCH) throw new Error(`claimed ${claimed.length} rows, not ${BATCH}`);
          await store.settleOutbox(
            'bench',
            claimed.map((row) => ({ id: row.id, outcome: { done: true } })),
          );
        }
        samples[backlog === 0 ? 'empty' : 'full'].push((performance.now() - started) / ROUNDS);
      } finally {
        await store.release();
      }
    }
    process.stdout.write(
      `\r  ${name}, outbox backlog: run ${run + 1}/${RUNS}, ${fmt(samples.empty.at(-1) ?? 0, 2)} ms empty, ${fmt(samples.full.at(-1) ?? 0, 2)} ms with ${fmt(BACKLOG)} waiting   `,
    );
  }
  process.stdout.write('\n');
  backlogResults.push({ store: name, empty: stat(samples.empty), full: stat(samples.full) });
}

/** `backlog` message rows in 1,000 lanes of one sender each; each lane's first row is due in a year. */
async function fill(store: Store, now: number, backlog: number): Promise<void> {
  const lanes = 1_000;
  const perLane = backlog / lanes;
  for (let lane = 0; lane < lanes; lane += 50) {
    const appends = Array.from({ length: 50 }, (_, k) => {
      const id = randomUUID();
      return {
        streamId: id,
        expectedVersion: 0,
        events: ['{}'],
        entityType: 'Bench',
        eventVersion: 1,
        outbox: Array.from({ length: perLane }, (_, n) => ({
          kind: 'message' as const,
          name: 'BenchTarget',
          targetId: `t${lane + k}`,
          payload: '{}',
          idempotencyKey: `${id}:${n}`,
          sourceVersion: 1,
          dueAt: n === 0 ? now + 365 * 86_400_000 : now,
          timer: false,
          orderKey: `m:${id}`,
        })),
      };
    });
    await store.commit({ appends, recordedAt: now });
  }
}

export function messagingTargets(line: (target: string, value: number | undefined, goal: number) => string): string[] {
  const ratio = (scenarioPrefix: string, store: string) => {
    const r = messagingResults.find((m) => m.scenario.startsWith(scenarioPrefix) && m.store.startsWith(store));
    return r?.floor ? r.ours.rate.median / r.floor.rate.median : undefined;
  };
  const worstBacklog = backlogResults.length
    ? Math.min(...backlogResults.map((b) => b.empty.median / b.full.median))
    : undefined;
  return [
    line('Messages, SQLite fan-out: ≥ 3× the per-message raw floor', ratio('Fan-out', 'SQLite'), 3),
    line('Messages, PostgreSQL fan-out: ≥ 2× the per-message raw floor', ratio('Fan-out', 'PostgreSQL'), 2),
    line('Messages, SQLite ordered lane: ≥ 1× the per-message raw floor', ratio('One ordered lane', 'SQLite'), 1),
    line(
      'Messages, PostgreSQL ordered lane: ≥ 1× the per-message raw floor',
      ratio('One ordered lane', 'PostgreSQL'),
      1,
    ),
    line(
      'Outbox claim with 100,000 rows waiting: within 1.25× of an empty outbox (as empty ÷ full, worst store)',
      worstBacklog === undefined ? undefined : worstBacklog * 1.25,
      1,
    ),
  ];
}

export function messagingSection(): string {
  const ratio = (m: MessagingResult) =>
    m.floor ? `${fmt(m.ours.rate.median / m.floor.rate.median, 2)}× (${fmt(m.floor.rate.median)} msgs/s)` : 'n/a';
  const floors = [...new Map(messagingResults.flatMap((m) => (m.floor ? [[m.store, m.floor]] : []))).entries()];
  return `## Messages between entities

End to end: ${CONCURRENCY} callers call senders, whose decisions \`send\` one message each; the
outbox delivers them and the targets handle them; the clock stops when \`system.settled()\` says
all are handled. Latency is per message, from the \`send\` call to the target's handling committed
(an at-most-once effect of the target reports it). The per-message raw floor writes what a
message costs by hand with the driver, ${CONCURRENCY} in flight: the sender's event with an outbox
row in one fsynced transaction, then the target's event with the row's deletion in another
(PostgreSQL over 32 connections). The lane scenario checks the target saw every message in order;
the bank checks no money was made or lost.

| Scenario | Store | Pachyderm | Latency per message | Ratio to the per-message raw floor |
| --- | --- | --- | --- | --- |
${messagingResults.map((m) => `| ${m.scenario} | ${m.store} | ${range(m.ours.rate)} msgs/s | p50 ${fmt(m.ours.p50.median, 1)} ms, p99 ${fmt(m.ours.p99.median, 1)} ms | ${ratio(m)} |`).join('\n')}

| Per-message raw floor | Rate | Latency |
| --- | --- | --- |
${floors.map(([store, f]) => `| ${store} | ${range(f.rate)} msgs/s | p50 ${fmt(f.p50.median, 1)} ms, p99 ${fmt(f.p99.median, 1)} ms |`).join('\n')}

Outbox backlog: ${ROUNDS} rounds of claiming and settling ${BATCH} ready rows, straight on the store,
in an empty outbox and in one with ${fmt(BACKLOG)} message rows waiting in 1,000 lanes behind heads
not yet due (a fresh database file or schema each time).

| Store | Per round, empty outbox | Per round, ${fmt(BACKLOG)} waiting | Ratio |
| --- | --- | --- | --- |
${backlogResults.map((b) => `| ${b.store} | ${range(b.empty, 2)} ms | ${range(b.full, 2)} ms | ${fmt(b.full.median / b.empty.median, 2)}× |`).join('\n')}
`;
}
