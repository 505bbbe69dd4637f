/**
 * A cluster of nodes on one store (a SQLite file, a PostgreSQL schema), each with its own store
 * object and its own HTTP endpoint on 127.0.0.1: one owner per entity, calls forwarded to it,
 * fallbacks when the owner takes nothing, `OWNER_UNREACHABLE` when it took the call and went
 * quiet, requests without the secret refused, partitions moved by their share only, a graceful
 * leave under load without an error. Every acknowledged call is checked in the log, once.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { type ClusterOptions, type Store, type System, type SystemOptions, silentLogger } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { Ledger } from './support/entities.js';
import type { StorePlace } from './support/stores.js';
import { useSystems } from './support/systems.js';

const SECRET = 'test-cluster-secret';
const PARTITIONS = 64;
const TTL = 600;

describe.each(['sqlite', 'postgres'] as const)('a cluster on %s', (kind) => {
  const { place, start } = useSystems();

  const node = (
    where: StorePlace,
    name: string,
    cluster: Partial<ClusterOptions> = {},
    extra: Partial<SystemOptions> = {},
  ) =>
    start({
      store: where.newStore(),
      entities: [Ledger],
      logger: silentLogger,
      cluster: {
        name,
        listen: { host: '127.0.0.1', port: 0 },
        secret: SECRET,
        heartbeatMs: 100,
        memberTtlMs: TTL,
        partitions: PARTITIONS,
        ...cluster,
      },
      ...extra,
    });

  it('routes each call to one owner: the nodes agree, about two thirds are forwarded, none conflict', async () => {
    const where = await place(kind);
    const nodes = ['n0', 'n1', 'n2'].map((name) => node(where, name));
    await settled(nodes);
    const ids = [...Array.from({ length: 200 }, () => randomUUID()), 'hot'];
    for (const id of ids.slice(0, 20)) {
      const owners = nodes.map((n) => n.cluster.ownerOf(Ledger.ref(id))?.name);
      expect(new Set(owners).size).toBe(1);
      expect(owners[0]).toBeDefined();
    }
    const acked = await load(nodes, ids, 900);
    const stats = await Promise.all(nodes.map(async (n) => (await n.stats()).cluster));
    const total = (key: 'forwarded' | 'conflicts' | 'servedForPeers' | 'fallbacks') =>
      stats.reduce((sum, s) => sum + (s?.[key] ?? 0), 0);
    expect(total('forwarded') / 900).toBeGreaterThan(0.5);
    expect(total('forwarded') / 900).toBeLessThan(0.8);
    expect(total('servedForPeers')).toBe(total('forwarded'));
    expect(total('conflicts')).toBeLessThanOrEqual(900 * 0.005);
    expect(total('fallbacks')).toBe(0);
    expect(stats.reduce((sum, s) => sum + (s?.partitionsOwned ?? 0), 0)).toBe(PARTITIONS);
    await expectEachOnce(nodes[0] as System, acked);
  });

  it('forwards an idempotent call with its key: repeats from every node get the first answer, handled once', async () => {
    const where = await place(kind);
    const nodes = ['i0', 'i1', 'i2'].map((name) => node(where, name));
    await settled(nodes);
    const ids = Array.from({ length: 12 }, () => randomUUID());
    for (const id of ids) {
      const ref = Ledger.ref(id);
      const owner = (nodes[0] as System).cluster.ownerOf(ref)?.name;
      // From a node that forwards it first, then from every node (the owner among them).
      const from = nodes[['i0', 'i1', 'i2'].findIndex((name) => name !== owner)] as System;
      const first = await from.call(ref, { type: 'Record', callId: id }, { idempotencyKey: `req-${id}` });
      const repeats = await Promise.all(
        nodes.map((n) => n.call(ref, { type: 'Record', callId: id }, { idempotencyKey: `req-${id}` })),
      );
      for (const repeat of repeats) expect(repeat).toEqual(first);
      expect(await (nodes[1] as System).read(ref)).toMatchObject({ version: 1 });
    }
    const forwarded = await Promise.all(nodes.map(async (n) => (await n.stats()).cluster?.forwarded ?? 0));
    expect(forwarded.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('refuses forwarded calls without the secret, and malformed ones, and does nothing for them', async () => {
    const where = await place(kind);
    const target = node(where, 'target', { maxRequestBytes: 2048 });
    await settled([target]);
    const address = (target.cluster.members()[0] as { address: string }).address;
    const id = randomUUID();
    const body = JSON.stringify({ calls: [{ type: 'Ledger', id, message: { type: 'Record', callId: 'x' } }] });
    const path = '/pachyderm/v1/calls';
    expect((await post(address, path, body, {})).status).toBe(401);
    expect((await post(address, '/', body, {}, 'GET')).status).toBe(401);
    expect((await post(address, path, body, { authorization: 'Bearer wrong-secret' })).status).toBe(401);
    expect((await post(address, path, body, { authorization: SECRET })).status).toBe(401);
    const auth = { authorization: `Bearer ${SECRET}` };
    expect((await post(address, path, '{not json', auth)).status).toBe(400);
    expect((await post(address, path, JSON.stringify({ calls: [{ type: 'Ledger' }] }), auth)).status).toBe(400);
    expect((await post(address, path, JSON.stringify({ calls: [], pad: 'x'.repeat(4096) }), auth)).status).toBe(413);
    expect((await post(address, '/elsewhere', body, auth)).status).toBe(404);
    expect((await post(address, path, body, auth, 'GET')).status).toBe(405);
    expect((await target.read(Ledger.ref(id))).version).toBe(0);
    // The same request with the secret is served: the refusals above were about what they lacked.
    const served = await post(address, path, body, auth);
    expect(served.status).toBe(200);
    expect(JSON.parse(served.text).answers[0].answer).toMatchObject({ ok: true, version: 1 });
    expect((await target.read(Ledger.ref(id))).version).toBe(1);
  });

  it('moves about a third of the partitions to a joining third node, and only to it', async () => {
    const where = await place(kind);
    const observer = await opened(where);
    const first = [node(where, 'j0'), node(where, 'j1')];
    await settled(first);
    const before = await ownersByName(observer);
    const joining = node(where, 'j2');
    await settled([...first, joining]);
    const after = await ownersByName(observer);
    const moved = after.filter((owner, partition) => owner !== before[partition]);
    expect(moved.every((owner) => owner === 'j2')).toBe(true);
    expect(moved.length / PARTITIONS).toBeGreaterThan(0.15);
    expect(moved.length / PARTITIONS).toBeLessThan(0.55);
    await observer.release();
  });

  it('leaves gracefully under load: its partitions go to the others, and no caller sees an error', async () => {
    const where = await place(kind);
    const nodes = ['g0', 'g1', 'g2'].map((name) => node(where, name));
    await settled(nodes);
    const ids = Array.from({ length: 100 }, () => randomUUID());
    const running = load(nodes.slice(1), ids, 1500);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await (nodes[0] as System).close();
    const acked = await running;
    const survivors = nodes.slice(1);
    await settled(survivors);
    const owned = await Promise.all(survivors.map(async (n) => (await n.stats()).cluster?.partitionsOwned ?? 0));
    expect((owned[0] ?? 0) + (owned[1] ?? 0)).toBe(PARTITIONS);
    await expectEachOnce(survivors[0] as System, acked);
  });

  it('sees a write from a process outside the cluster before the owner decides again: no conflict', async () => {
    const where = await place(kind);
    const owner = node(where, 'o0');
    await settled([owner]);
    // A hostile id: quotes, a backslash, a newline, markup and characters beyond ASCII cross the hint intact.
    const id = `${randomUUID()} "q" \\ \n</script> é 🐘`;
    const outside = start({ store: where.newStore(), entities: [Ledger], logger: silentLogger });
    let version = 0;
    // PostgreSQL tells the owner by NOTIFY, soon after the commit; SQLite's data_version at once.
    // A hint is lost while the owner's LISTEN connection is not up yet (or was refused by a busy
    // server): the owner then reads before deciding anyway, and the test writes again to see one.
    const deadline = Date.now() + 10_000;
    for (;;) {
      await owner.call(Ledger.ref(id), { type: 'Record', callId: `a${version}` });
      await outside.call(Ledger.ref(id), { type: 'Record', callId: `b${version}` });
      version += 2;
      if (kind === 'sqlite') break;
      const hinted = Date.now() + 1000;
      while (Date.now() < hinted && (await owner.stats()).cluster?.staleCopies === 0) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if ((await owner.stats()).cluster?.staleCopies) break;
      if (Date.now() > deadline) throw new Error('no hint reached the owner in 10 s');
    }
    const next = await owner.call(Ledger.ref(id), { type: 'Record', callId: 'c' });
    expect(next).toMatchObject({ ok: true, version: version + 1, state: { count: version + 1 } });
    expect((await owner.stats()).cluster?.conflicts).toBe(0);
  });

  describe('with an owner that is not a real node', () => {
    /** A member in the store owning every partition, kept alive by this test's heartbeats. */
    async function impostor(where: StorePlace, address: string) {
      const store = await opened(where);
      const incarnation = `impostor-${randomUUID()}`;
      const beat = { incarnation, ttlMs: TTL, now: Date.now() };
      await store.joinCluster({ ...beat, name: 'zzz-impostor', address });
      const partitions = Array.from({ length: PARTITIONS }, (_, p) => p);
      expect(await store.claimPartitions({ ...beat, partitions })).toHaveLength(PARTITIONS);
      const timer = setInterval(() => {
        void store.heartbeat({ incarnation, ttlMs: TTL, now: Date.now(), status: 'active', partitions: PARTITIONS });
      }, 100);
      return {
        async stop() {
          clearInterval(timer);
          await store.leaveCluster(incarnation);
          await store.release();
        },
      };
    }

    it('runs the call here when the owner refuses the connection', async () => {
      const where = await place(kind);
      const closedPort = await freePort();
      const owner = await impostor(where, `http://127.0.0.1:${closedPort}`);
      const caller = node(where, 'caller');
      await settled([caller], 2);
      const id = randomUUID();
      expect(caller.cluster.ownerOf(Ledger.ref(id))?.name).toBe('zzz-impostor');
      const result = await caller.call(Ledger.ref(id), { type: 'Record', callId: 'r' });
      expect(result).toMatchObject({ ok: true, version: 1 });
      expect((await caller.stats()).cluster).toMatchObject({ fallbacks: 1, forwarded: 0 });
      await owner.stop();
    });

    it('rejects with OWNER_UNREACHABLE when the owner took the call and gave no answer', async () => {
      const where = await place(kind);
      const silent = net.createServer((socket) => socket.on('data', () => {}));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as net.AddressInfo).port;
      const owner = await impostor(where, `http://127.0.0.1:${port}`);
      const caller = node(where, 'caller', { forwardTimeoutMs: 300 });
      await settled([caller], 2);
      const id = randomUUID();
      await expect(caller.call(Ledger.ref(id), { type: 'Record', callId: 'u' })).rejects.toMatchObject({
        code: 'OWNER_UNREACHABLE',
        retryable: true,
      });
      expect((await caller.stats()).cluster).toMatchObject({ unreachable: 1, fallbacks: 0 });
      expect((await caller.read(Ledger.ref(id))).version).toBe(0);
      await owner.stop();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
  });
});

describe('cluster options', () => {
  const { start } = useSystems();
  it('refuses a cluster without a secret, or with an endpoint that cannot work', async () => {
    const { memoryStore } = await import('pachyderm');
    const base = { store: memoryStore(), entities: [Ledger], logger: silentLogger };
    const listen = { host: '127.0.0.1', port: 0 };
    const bad: unknown[] = [
      { listen },
      { listen, secret: '' },
      { secret: SECRET },
      { listen: { host: '127.0.0.1', port: 70000 }, secret: SECRET },
      { listen, secret: SECRET, advertise: 'not a url' },
      { listen, secret: SECRET, heartbeatMs: 1000, memberTtlMs: 1000 },
      { listen, secret: SECRET, partitions: 0 },
    ];
    for (const cluster of bad) {
      expect(() => start({ ...base, cluster: cluster as ClusterOptions })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
      );
    }
    const alone = start(base);
    expect(alone.cluster.members()).toEqual([]);
    expect(alone.cluster.ownerOf(Ledger.ref('x'))).toBeUndefined();
    expect((await alone.stats()).cluster).toBeUndefined();
  });
});

/** Waits until every node lists `count` members and all agree on who owns every partition they route. */
async function settled(nodes: readonly System[], count = nodes.length): Promise<void> {
  const probes = Array.from({ length: 200 }, (_, i) => Ledger.ref(`probe-${i}`));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const agreed =
      nodes.every((n) => n.cluster.members().length === count) &&
      probes.every((ref) => {
        const owners = nodes.map((n) => n.cluster.ownerOf(ref)?.name);
        return owners[0] !== undefined && owners.every((o) => o === owners[0]);
      });
    if (agreed) {
      // One more round, so that every node has also seen the last moves.
      await new Promise((resolve) => setTimeout(resolve, 250));
      return;
    }
    if (Date.now() > deadline) throw new Error('the cluster did not settle in 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `total` calls, each with its own call id, to random entities through random nodes, 32 at a time. */
async function load(nodes: readonly System[], ids: readonly string[], total: number) {
  const acked: { id: string; callId: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const i = next++;
        const id = (i % 5 === 0 ? 'hot' : ids[Math.floor(Math.random() * ids.length)]) as string;
        const callId = `call-${i}`;
        const through = nodes[Math.floor(Math.random() * nodes.length)] as System;
        const result = await through.call(Ledger.ref(id), { type: 'Record', callId });
        expect(result.ok).toBe(true);
        acked.push({ id, callId });
      }
    }),
  );
  return acked;
}

/** Every acknowledged call is in its entity's log exactly once, and the versions have no gap. */
async function expectEachOnce(system: System, acked: readonly { id: string; callId: string }[]) {
  const byId = new Map<string, string[]>();
  for (const { id, callId } of acked) byId.set(id, [...(byId.get(id) ?? []), callId]);
  for (const [id, callIds] of byId) {
    const logged: string[] = [];
    let version = 0;
    for await (const recorded of system.events(Ledger.ref(id))) {
      expect(recorded.version).toBe(++version);
      logged.push((recorded.event as { callId: string }).callId);
    }
    expect([...logged].sort()).toEqual([...callIds].sort());
  }
}

/** A store object of its own on the place, open (the test releases it). */
async function opened(where: StorePlace): Promise<Store> {
  const store = where.newStore();
  store.retain();
  await store.open();
  return store;
}

async function ownersByName(store: Store): Promise<(string | null)[]> {
  const view = await store.heartbeat({
    incarnation: 'observer',
    ttlMs: TTL,
    now: Date.now(),
    status: 'active',
    partitions: PARTITIONS,
  });
  const names = new Map(view.members.map((m) => [m.incarnation, m.name]));
  return view.owners.map((owner) => (owner === null ? null : (names.get(owner) ?? null)));
}

function post(address: string, path: string, body: string, headers: Record<string, string>, method = 'POST') {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(new URL(path, address), {
      method,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.end(body);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
