/**
 * One process of the cluster benchmark (bench/cluster.ts):
 *
 *   node --import tsx bench/cluster-node.ts '<json options>'
 *
 * Options: { url, schema, name, cluster: boolean, members }. It prints `ready` once it sees
 * `members` members and the partitions have moved (at once without a cluster). Each line `run <calls> <concurrency> <target>`
 * on stdin makes that many counter calls from this process (`target`: `many` for random ones of
 * 1,000 entities, `hot` for one entity), then prints
 * `done <ms> <p50> <p99> <conflicts> <forwarded> <unreachable>` (the last three since the
 * previous run). It runs until killed or its stdin closes.
 */
import { createInterface } from 'node:readline';
import { createSystem, defineEntity, isPachydermError, ok, silentLogger } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { drive } from './measure.js';

const options = JSON.parse(process.argv[2] as string) as {
  url: string;
  schema: string;
  name: string;
  cluster: boolean;
  members: number;
};

const Counter = defineEntity({
  type: 'ClusterCounter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }) => ok([{ type: 'Increased' as const }]),
  update: (_event, state) => ({ count: state.count + 1 }),
});

const system = createSystem({
  store: postgresStore({ connectionString: options.url, schema: options.schema, poolSize: 10 }),
  entities: [Counter],
  logger: silentLogger,
  ...(options.cluster
    ? {
        cluster: {
          name: options.name,
          listen: { host: '127.0.0.1', port: 0 },
          secret: 'bench-cluster-secret',
        },
      }
    : {}),
});

const counters = async () => {
  const stats = await system.stats();
  return [stats.conflicts, stats.cluster?.forwarded ?? 0, stats.cluster?.unreachable ?? 0];
};

while (options.cluster && system.cluster.members().length < options.members) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
// Two more heartbeats: every node has claimed its share and handed over the rest.
if (options.cluster) await new Promise((resolve) => setTimeout(resolve, 2500));
// A first call opens the pool and checks the schema outside the timed runs.
await system.call(Counter.ref(`${options.name}-warm`), { type: 'Increment' });
process.stdout.write('ready\n');

let previous = await counters();
for await (const line of createInterface({ input: process.stdin })) {
  const [command, calls, concurrency, target] = line.split(' ');
  if (command !== 'run') continue;
  const started = performance.now();
  const sample = await drive(Number(calls), Number(concurrency), async () => {
    const id = target === 'hot' ? 'hot' : `e${Math.floor(Math.random() * 1000)}`;
    try {
      await system.call(Counter.ref(id), { type: 'Increment' });
    } catch (error) {
      if (!isPachydermError(error)) throw error;
    }
  });
  const now = await counters();
  const delta = now.map((value, i) => value - (previous[i] ?? 0));
  previous = now;
  process.stdout.write(
    `done ${(performance.now() - started).toFixed(1)} ${sample.p50.toFixed(3)} ${sample.p99.toFixed(3)} ${delta.join(' ')}\n`,
  );
}
await system.close();
