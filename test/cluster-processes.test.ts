/**
 * A healthy cluster of three processes on one store (a SQLite file, a PostgreSQL schema), real
 * HTTP between them: each process makes calls to random ones of 1,000 entities and to one hot
 * entity (support/cluster-child.ts). Fewer than 0.5% of appends conflict, no call gives up, about
 * two thirds are forwarded, and every acknowledged call is in its entity's log exactly once, at the
 * version it was answered with, with gapless versions. And the local example of three processes
 * (examples/cluster/run.ts) runs.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSystem, silentLogger } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { useChildProcesses } from './support/child-process.js';
import { Ledger } from './support/entities.js';
import { useStorePlaces } from './support/stores.js';

const places = useStorePlaces();
const processes = useChildProcesses();
const script = fileURLToPath(new URL('./support/cluster-child.ts', import.meta.url));
const CALLS = 1000;

describe.each(['sqlite', 'postgres'] as const)('three processes in a cluster on %s', (kind) => {
  it('route each entity to one owner: few conflicts, two thirds forwarded, each call in the log once', async () => {
    const place = await places.place(kind);
    const acks = new Map<string, { id: string; version: number }>();
    const failed: string[] = [];
    const stats: number[][] = [];
    const names = ['p0', 'p1', 'p2'];
    const children = names.map((name) =>
      processes.start(script, [JSON.stringify(place.address), name, String(CALLS), String(names.length)], (line) => {
        const [kind, ...rest] = line.split(' ');
        if (kind === 'ack') acks.set(rest[1] as string, { id: rest[0] as string, version: Number(rest[2]) });
        else if (kind === 'failed') failed.push(line);
        else if (kind === 'stats') stats.push(rest.map(Number));
        else throw new Error(`unexpected line: ${line}`);
      }),
    );
    for (const child of children) child.killed.catch(() => {});
    const deadline = Date.now() + 60_000;
    while (stats.length < names.length) {
      if (Date.now() > deadline) throw new Error(`only ${stats.length} processes finished in time`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const child of children) child.process.kill('SIGKILL');
    await Promise.all(children.map((child) => child.killed));

    const total = CALLS * names.length;
    expect(failed).toEqual([]);
    expect(acks.size).toBe(total);
    const [conflicts, forwarded, fallbacks] = [0, 1, 2].map((i) => stats.reduce((sum, s) => sum + (s[i] ?? 0), 0));
    expect(conflicts).toBeLessThan(total * 0.005);
    expect(fallbacks).toBe(0);
    expect((forwarded as number) / total).toBeGreaterThan(0.55);
    expect((forwarded as number) / total).toBeLessThan(0.78);

    const reader = createSystem({ store: place.newStore(), entities: [Ledger], logger: silentLogger });
    try {
      const byEntity = new Map<string, Map<string, number>>();
      for (const [callId, { id, version }] of acks) {
        byEntity.set(id, (byEntity.get(id) ?? new Map()).set(callId, version));
      }
      for (const [id, expected] of byEntity) {
        const logged = new Map<string, number>();
        let version = 0;
        for await (const recorded of reader.events(Ledger.ref(id))) {
          expect(recorded.version).toBe(++version);
          const { callId } = recorded.event as { callId: string };
          expect(logged.has(callId), `${callId} recorded twice`).toBe(false);
          logged.set(callId, recorded.version);
        }
        expect(logged).toEqual(expected);
      }
    } finally {
      await reader.close();
    }
    console.info(`${kind}: ${total} calls, ${forwarded} forwarded, ${conflicts} conflicts`);
  }, 90_000);
});

describe('the local cluster example', () => {
  it('starts three processes, routes their calls, closes them gracefully, and every deposit counts', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/cluster/run.ts'], {
      cwd: root,
    });
    expect(stdout.trim().split('\n')).toEqual([
      'node-a done',
      'node-b done',
      'node-c done',
      ...Array.from({ length: 5 }, (_, i) => `acct-${i}: 30`),
    ]);
  }, 60_000);
});
