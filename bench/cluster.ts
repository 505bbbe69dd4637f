/**
 * The cluster in `npm run bench`: 1, 2 and 3 processes on one PostgreSQL database, with and
 * without `cluster`, each process making its share of the calls (many entities, and one hot
 * entity); throughput, latency and the conflict rate. Then failover: a node of three SIGKILLed,
 * timed until its partitions are owned again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { postgresStore } from 'pachyderm/postgres';
import pg from 'pg';
import { fmt, range, type Stat, stat } from './measure.js';

const RUNS = 5;
const CALLS = 12_000;
const CONCURRENCY = 256;
const script = fileURLToPath(new URL('./cluster-node.ts', import.meta.url));

interface ScalingRow {
  processes: number;
  cluster: boolean;
  target: 'many' | 'hot';
  rate: Stat;
  p50: Stat;
  p99: Stat;
  conflicts: Stat;
  forwarded: Stat;
}

export const clusterResults: { scaling: ScalingRow[]; failover: Stat | undefined; failovers: number[] } = {
  scaling: [],
  failover: undefined,
  failovers: [],
};

interface Node {
  readonly name: string;
  readonly child: ChildProcess;
  next(): Promise<string>;
}

function startNode(url: string, schema: string, name: string, cluster: boolean, members: number): Node {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify({ url, schema, name, cluster, members })],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const resolve = waiting.shift();
    if (resolve) resolve(line);
    else lines.push(line);
  });
  return {
    name,
    child,
    next: () => {
      const line = lines.shift();
      return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

async function ready(nodes: readonly Node[]): Promise<void> {
  for (const node of nodes) {
    const line = await node.next();
    if (line !== 'ready') throw new Error(`cluster node ${node.name} said ${line}`);
  }
}

async function stop(nodes: readonly Node[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve) => {
          if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve();
          node.child.once('exit', () => resolve());
          node.child.stdin?.end();
        }),
    ),
  );
}

const newSchema = () => `bench_cluster_${randomBytes(4).toString('hex')}`;

async function dropSchemas(url: string, schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Throughput, latency and conflicts with 1, 2 and 3 processes, with and without `cluster`. */
export async function clusterScaling(url: string): Promise<void> {
  const schemas: string[] = [];
  try {
    for (const processes of [1, 2, 3]) {
      for (const cluster of [false, true]) {
        const schema = newSchema();
        schemas.push(schema);
        const nodes = Array.from({ length: processes }, (_, i) =>
          startNode(url, schema, `node-${i}`, cluster, processes),
        );
        await ready(nodes);
        for (const target of ['many', 'hot'] as const) {
          const runs: { rate: number; p50: number; p99: number; conflicts: number; forwarded: number }[] = [];
          for (let run = 0; run < RUNS; run++) {
            const share = Math.floor(CALLS / processes);
            for (const node of nodes)
              node.child.stdin?.write(`run ${share} ${Math.ceil(CONCURRENCY / processes)} ${target}\n`);
            const done = (await Promise.all(nodes.map((node) => node.next()))).map((line) =>
              line.split(' ').map(Number),
            );
            const ms = Math.max(...done.map((d) => d[1] as number));
            const total = share * processes;
            runs.push({
              rate: total / (ms / 1000),
              p50: stat(done.map((d) => d[2] as number)).median,
              p99: Math.max(...done.map((d) => d[3] as number)),
              conflicts: done.reduce((sum, d) => sum + (d[4] as number), 0) / total,
              forwarded: done.reduce((sum, d) => sum + (d[5] as number), 0) / total,
            });
            process.stdout.write(
              `\r  PostgreSQL, ${processes} process(es), ${cluster ? 'cluster' : 'no cluster'}, ${target}: run ${run + 1}/${RUNS}, ${fmt(runs.at(-1)?.rate ?? 0)} calls/s   `,
            );
          }
          clusterResults.scaling.push({
            processes,
            cluster,
            target,
            rate: stat(runs.map((r) => r.rate)),
            p50: stat(runs.map((r) => r.p50)),
            p99: stat(runs.map((r) => r.p99)),
            conflicts: stat(runs.map((r) => r.conflicts)),
            forwarded: stat(runs.map((r) => r.forwarded)),
          });
        }
        await stop(nodes);
      }
    }
    process.stdout.write('\n');
  } finally {
    await dropSchemas(url, schemas);
  }
}

/** A node of three SIGKILLed, with the default heartbeat and TTL: time until its partitions are owned again. */
export async function clusterFailover(url: string): Promise<void> {
  const schema = newSchema();
  const observer = postgresStore({ connectionString: url, schema, poolSize: 1 });
  observer.retain();
  const nodes = Array.from({ length: 3 }, (_, i) => startNode(url, schema, `node-${i}`, true, 3));
  try {
    await ready(nodes);
    await observer.open();
    for (let round = 0; round < RUNS; round++) {
      const slot = round % 3;
      const victim = nodes[slot] as Node;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const killed = Date.now();
      victim.child.kill('SIGKILL');
      for (;;) {
        const view = await observer.heartbeat({
          incarnation: 'observer',
          ttlMs: 3000,
          now: Date.now(),
          status: 'active',
          partitions: 1024,
        });
        const live = new Map(view.members.map((m) => [m.incarnation, m.name]));
        if (view.owners.every((owner) => owner !== null && live.has(owner) && live.get(owner) !== victim.name)) break;
        if (Date.now() - killed > 30_000) throw new Error('partitions were not owned again in 30 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      clusterResults.failovers.push(Date.now() - killed);
      process.stdout.write(
        `\r  PostgreSQL, failover after SIGKILL: ${round + 1}/${RUNS}, ${clusterResults.failovers.at(-1)} ms   `,
      );
      nodes[slot] = startNode(url, schema, victim.name, true, 3);
      await ready([nodes[slot] as Node]);
    }
    process.stdout.write('\n');
    clusterResults.failover = stat(clusterResults.failovers);
  } finally {
    for (const node of nodes) node.child.kill('SIGKILL');
    await observer.release();
    await dropSchemas(url, [schema]);
  }
}

const row = (r: ScalingRow | undefined) => r?.rate.median ?? 0;
const find = (processes: number, cluster: boolean, target: 'many' | 'hot') =>
  clusterResults.scaling.find((r) => r.processes === processes && r.cluster === cluster && r.target === target);

/** The cluster's targets, as rows of the targets table. */
export function clusterTargets(line: (target: string, value: number | undefined, goal: number) => string): string[] {
  const clustered = clusterResults.scaling.filter((r) => r.cluster);
  const worstConflicts = clustered.length ? Math.max(...clustered.map((r) => r.conflicts.median)) : undefined;
  const scaling = find(1, true, 'many') ? row(find(3, true, 'many')) / row(find(1, true, 'many')) : undefined;
  return [
    line(
      'Cluster: conflicts under 1% of calls (as 1% ÷ worst rate, 1–3 processes)',
      worstConflicts === undefined ? undefined : 0.01 / Math.max(worstConflicts, 0.0001),
      1,
    ),
    line('Cluster: 3 processes ≥ 0.8× the throughput of 1 (many entities)', scaling, 0.8),
    line(
      'Cluster: partitions owned again within 5 s of a SIGKILL (as 5 s ÷ median)',
      clusterResults.failover && 5000 / clusterResults.failover.median,
      1,
    ),
  ];
}

/** The cluster's section of BENCHMARKS.md. */
export function clusterSection(): string {
  const pct = (s: Stat) => `${fmt(s.median * 100, 2)}% (${fmt(s.min * 100, 2)}–${fmt(s.max * 100, 2)}%)`;
  return `## Cluster

1, 2 and 3 processes on one PostgreSQL database (pool of 10 each), each making its share of
${fmt(CALLS)} counter calls, ${CONCURRENCY} in flight across them: to random ones of 1,000 entities
(many) or to one entity (hot); with \`cluster\` (calls forwarded to the owner) and without (every
process runs what it gets). Conflicts: appends refused by the version check, per call. Medians of
${RUNS} runs. This machine has 2 cores: three processes share them, so more processes cannot
show more throughput here; more cores would.

| Processes | Cluster | Entities | Calls/s | p50 | p99 | Conflicts per call | Forwarded |
| --- | --- | --- | --- | --- | --- | --- | --- |
${clusterResults.scaling
  .map(
    (r) =>
      `| ${r.processes} | ${r.cluster ? 'yes' : 'no'} | ${r.target} | ${range(r.rate)} | ${fmt(r.p50.median, 2)} ms | ${fmt(r.p99.median, 2)} ms | ${pct(r.conflicts)} | ${pct(r.forwarded)} |`,
  )
  .join('\n')}

Failover: a node of three SIGKILLed (default \`heartbeatMs\` 1000, \`memberTtlMs\` 3000), timed
until every partition has a live owner again: ${clusterResults.failover ? `${range(clusterResults.failover)} ms` : 'not measured'} (runs: ${clusterResults.failovers.join(', ')} ms).
`;
}
