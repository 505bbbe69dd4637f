/**
 * The read side in `npm run bench`: catch-up of an async projection over 100,000 events against
 * inserting the same rows with the driver in transactions of the same size; latency from commit to
 * a follower in the same process and in another; and what an inline projection costs calls.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  createSystem,
  defineEntity,
  defineProjection,
  inline,
  ok,
  type ProjectionDefinition,
  type Store,
  type System,
  silentLogger,
  sql,
} from 'pachyderm';
import { drive, fmt, type Measured, RUNS, range, repeat, type Stat, stat } from './measure.js';

export interface ReadSideTarget {
  readonly name: string;
  store(): Store;
  /** Where a child process finds the same database. */
  readonly address: { filename?: string; url?: string; schema?: string };
  /** Inserts rows into `raw_rows (id, version, amount)` with the driver, one transaction per chunk. */
  rawInsert(rows: readonly (readonly [string, number, number])[], chunk: number): Promise<void>;
  /** Empties `raw_rows` (made if missing). */
  rawReset(): Promise<void>;
}

export interface ReadSideResults {
  catchUp: { store: string; ours: Stat; raw: Stat }[];
  follow: { store: string; sameProcess: Stat; otherProcess: Stat; pollMs: number }[];
  inline: { store: string; without: Measured; with: Measured }[];
}

export const readSideResults: ReadSideResults = { catchUp: [], follow: [], inline: [] };

const EVENTS = 100_000;
/** Events per transaction of the projection runner (its batch), and so of the raw baseline. */
const CHUNK = 500;

const Ledger = defineEntity({
  type: 'BenchLedger',
  init: () => ({ count: 0 }),
  handle: (message: { n: number }) =>
    ok(Array.from({ length: message.n }, (_, i) => ({ type: 'Moved' as const, amount: i }))),
  update: (_event, state) => ({ count: state.count + 1 }),
});
const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }) => ok([{ type: 'Increased' as const, amount: 1 }]),
  update: (event, state) => ({ count: state.count + event.amount }),
});

const rowsProjection = (name: string) =>
  defineProjection({
    name,
    entities: [Ledger],
    setup: [
      sql`CREATE TABLE IF NOT EXISTS catchup_rows (id TEXT NOT NULL, version INTEGER NOT NULL, amount INTEGER NOT NULL)`,
    ],
    handle: (event, meta) => [
      sql`INSERT INTO catchup_rows (id, version, amount) VALUES (${meta.ref.id}, ${meta.version}, ${event.amount})`,
    ],
  });

/** Catch-up of an async projection over 100,000 events, against the raw inserts of the same rows. */
export async function projectionCatchUp(target: ReadSideTarget): Promise<void> {
  const writer = createSystem({ store: target.store(), entities: [Ledger], snapshotEvery: 0, logger: silentLogger });
  const ids = Array.from({ length: EVENTS / 1000 }, () => randomUUID());
  let last = '';
  for (const id of ids) {
    const result = await writer.call(Ledger.ref(id), { n: 1000 });
    if (result.ok && result.position > last) last = result.position;
  }
  const rows = ids.flatMap((id) => Array.from({ length: 1000 }, (_, i) => [id, i + 1, i] as const));
  const ours: number[] = [];
  const raw: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await writer.query(
      sql`CREATE TABLE IF NOT EXISTS catchup_rows (id TEXT NOT NULL, version INTEGER NOT NULL, amount INTEGER NOT NULL)`,
    );
    await writer.query(sql`DELETE FROM catchup_rows`);
    const projection = rowsProjection(`catchup-${randomUUID()}`);
    const started = performance.now();
    const system = createSystem({
      store: target.store(),
      entities: [],
      projections: [projection],
      logger: silentLogger,
    });
    await system.projection(projection).waitFor(last);
    ours.push(EVENTS / ((performance.now() - started) / 1000));
    await system.close();

    await target.rawReset();
    const t = performance.now();
    await target.rawInsert(rows, CHUNK);
    raw.push(EVENTS / ((performance.now() - t) / 1000));
    process.stdout.write(
      `\r  ${target.name}, projection catch-up: run ${run + 1}/${RUNS}, ${fmt(ours.at(-1) ?? 0)} events/s   `,
    );
  }
  process.stdout.write('\n');
  await writer.close();
  readSideResults.catchUp.push({ store: target.name, ours: stat(ours), raw: stat(raw) });
}

/** Latency from a commit (the call's answer) to a follower, in this process and in another. */
export async function followLatency(target: ReadSideTarget, pollMs: number): Promise<void> {
  const system = createSystem({ store: target.store(), entities: [Counter], logger: silentLogger });
  const samePerRun: number[] = [];
  const otherPerRun: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      samePerRun.push(await sameProcess(system));
      otherPerRun.push(await otherProcess(system, target, pollMs));
      process.stdout.write(
        `\r  ${target.name}, follow latency: run ${run + 1}/${RUNS}, p50 ${fmt(samePerRun.at(-1) ?? 0, 2)} ms here, ${fmt(otherPerRun.at(-1) ?? 0, 1)} ms in another process   `,
      );
    }
  } finally {
    await system.close();
  }
  process.stdout.write('\n');
  readSideResults.follow.push({
    store: target.name,
    sameProcess: stat(samePerRun),
    otherProcess: stat(otherPerRun),
    pollMs,
  });
}

const CALLS = 100;
const now = () => performance.timeOrigin + performance.now();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** p50 over one run of the time from a call's answer to its event reaching a follower (0 when it was there first). */
async function sameProcess(system: System): Promise<number> {
  const ref = Counter.ref(randomUUID());
  const seen = new Map<number, number>();
  const controller = new AbortController();
  const following = (async () => {
    for await (const { version } of system.follow(ref, { signal: controller.signal })) {
      seen.set(version, now());
      if (version === CALLS) return;
    }
  })();
  const answered = new Map<number, number>();
  for (let i = 0; i < CALLS; i++) {
    const result = await system.call(ref, { type: 'Increment' });
    if (result.ok) answered.set(result.version, now());
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await following;
  controller.abort();
  return median([...answered].map(([version, at]) => Math.max(0, (seen.get(version) ?? Number.NaN) - at)));
}

/** The same with the follower in a child process that polls every `pollMs`. */
async function otherProcess(system: System, target: ReadSideTarget, pollMs: number): Promise<number> {
  const id = randomUUID();
  const script = fileURLToPath(new URL('./follower-child.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify(target.address), id, String(pollMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const seen = new Map<number, number>();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready();
      const match = /^seen (\d+) ([\d.]+)$/.exec(line);
      if (match) seen.set(Number(match[1]), Number(match[2]));
    }
  });
  await isReady;
  const answered = new Map<number, number>();
  const calls = 30;
  for (let i = 0; i < calls; i++) {
    const result = await system.call(Counter.ref(id), { type: 'Increment' });
    if (result.ok) answered.set(result.version, now());
    await new Promise((resolve) => setTimeout(resolve, pollMs * (0.3 + Math.random())));
  }
  const deadline = Date.now() + 30_000;
  while (seen.size < calls && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, pollMs));
  child.kill('SIGKILL');
  if (seen.size < calls) throw new Error(`the follower in another process saw ${seen.size} of ${calls} events`);
  return median([...answered].map(([version, at]) => Math.max(0, (seen.get(version) ?? Number.NaN) - at)));
}

/** Calls/s of many entities at concurrency 256, with an inline projection and without, in one run. */
export async function inlineCost(target: ReadSideTarget, size: number): Promise<void> {
  const Totals: ProjectionDefinition = defineProjection({
    name: 'bench-totals',
    entities: [Counter],
    setup: [sql`CREATE TABLE IF NOT EXISTS bench_totals (id TEXT PRIMARY KEY, total INTEGER NOT NULL)`],
    handle: (event, meta) => [
      sql`INSERT INTO bench_totals (id, total) VALUES (${meta.ref.id}, ${event.amount})
          ON CONFLICT (id) DO UPDATE SET total = bench_totals.total + excluded.total`,
    ],
  });
  const run = (projections: readonly ProjectionDefinition[], label: string) =>
    repeat(`${target.name}, many entities, concurrency 256, ${label}`, async () => {
      const system = createSystem({
        store: target.store(),
        entities: [Counter],
        projections: projections.map((p) => inline(p)),
        logger: silentLogger,
      });
      try {
        const prefix = randomUUID();
        return await drive(size, 256, (i) => system.call(Counter.ref(`${prefix}-${i}`), { type: 'Increment' }));
      } finally {
        await system.close();
      }
    });
  const without = await run([], 'no projection');
  const withInline = await run([Totals], 'inline projection');
  readSideResults.inline.push({ store: target.name, without, with: withInline });
}

/** The read side's targets, as rows of the targets table. */
export function readSideTargets(line: (target: string, value: number | undefined, goal: number) => string): string[] {
  const worst = <T>(items: T[], value: (item: T) => number) =>
    items.length ? Math.min(...items.map(value)) : undefined;
  const { catchUp, follow } = readSideResults;
  return [
    line(
      'Projection catch-up over 100,000 events: ≥ 0.5× the raw inserts (worst store)',
      worst(catchUp, (c) => c.ours.median / c.raw.median),
      0.5,
    ),
    line(
      'Follow, same process: p50 under 5 ms (as 5 ms ÷ p50, worst store)',
      worst(follow, (f) => 5 / Math.max(f.sameProcess.median, 0.001)),
      1,
    ),
    line(
      'Follow, another process: p50 under 2 poll intervals (as 2 intervals ÷ p50, worst store)',
      worst(follow, (f) => (2 * f.pollMs) / Math.max(f.otherProcess.median, 0.001)),
      1,
    ),
    line(
      'An inline projection costs calls at most 1.5× (as 1.5 ÷ cost, worst store)',
      worst(readSideResults.inline, (i) => 1.5 / (i.without.rate.median / i.with.rate.median)),
      1,
    ),
  ];
}

/** The read side's section of BENCHMARKS.md. */
export function readSideSection(): string {
  const { catchUp, follow, inline: inlineRows } = readSideResults;
  return `## Read side

Catch-up: 100,000 events of 100 entities already in the log; a new async projection inserts one
row per event; timed from \`createSystem\` until \`waitFor\` the last position. The raw baseline
inserts the same 100,000 rows with the driver, ${CHUNK} per transaction (the runner's batch).

| Scenario | Store | Pachyderm | Raw inserts | Ratio |
| --- | --- | --- | --- | --- |
${catchUp.map((c) => `| Projection catch-up, 100,000 events | ${c.store} | ${range(c.ours)} events/s | ${range(c.raw)} rows/s | ${fmt(c.ours.median / c.raw.median, 2)}× |`).join('\n')}

Follow latency: from a call's answer (its commit) to the event reaching \`follow\` (0 when the
follower had it first); p50 per run of ${CALLS} calls in the same process, 30 calls with a
follower in another process polling every given interval.

| Scenario | Store | Same process, p50 | Another process, p50 | Poll interval |
| --- | --- | --- | --- | --- |
${follow.map((f) => `| Commit to follower | ${f.store} | ${range(f.sameProcess, 2)} ms | ${range(f.otherProcess, 1)} ms | ${f.pollMs} ms |`).join('\n')}

Inline projection: calls of many entities at concurrency 256, each with an inline projection
(one upsert per event, in the commit's transaction) and without, in the same run.

| Scenario | Store | Without | With an inline projection | Cost |
| --- | --- | --- | --- | --- |
${inlineRows.map((i) => `| Many entities, concurrency 256 | ${i.store} | ${range(i.without.rate)} calls/s | ${range(i.with.rate)} calls/s | ${fmt(i.without.rate.median / i.with.rate.median, 2)}× |`).join('\n')}
`;
}
