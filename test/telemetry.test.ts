/**
 * Telemetry through `@opentelemetry/api`, seen by the OpenTelemetry SDK's in-memory exporters: a
 * call's span and its phases, the trace crossing the outbox (a message's handling and an effect are
 * children of the call that sent them, also in another process after a restart), and the metrics.
 */
import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { defineEffect, defineEntity, defineReactor, error, ok, send, silentLogger } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { useChildProcesses } from './support/child-process.js';
import { storeKinds, useSystems } from './support/systems.js';
import { installTelemetry, parentOf } from './support/telemetry.js';
import { Inbox, Sender, T0, TIMER_MS } from './support/telemetry-child.js';

const telemetry = installTelemetry();
afterAll(() => telemetry.shutdown());
beforeEach(() => telemetry.reset());
const running = useSystems();
const children = useChildProcesses();

/** The spans the effects saw active while they ran. */
const activeInEffects: { effect: string; spanId: string | undefined }[] = [];
const Mailed = defineEffect(
  'Mailed',
  () => {
    activeInEffects.push({ effect: 'Mailed', spanId: trace.getActiveSpan()?.spanContext().spanId });
  },
  { delivery: 'at-least-once' },
);
const Noticed = defineEffect('Noticed', () => {
  activeInEffects.push({ effect: 'Noticed', spanId: trace.getActiveSpan()?.spanContext().spanId });
});

const Shop = defineEntity({
  type: 'Shop',
  init: () => ({ sales: 0 }),
  handle(message: { type: 'Sell'; inbox: string } | { type: 'Refuse' }) {
    if (message.type === 'Refuse') return error('closed');
    return ok(
      [{ type: 'Sold' as const }],
      [send(Inbox.ref(message.inbox), { note: 'sold' }), Mailed.with({}), Noticed.with({})],
    );
  },
  update: (_event, state) => ({ sales: state.sales + 1 }),
});

/** An at-least-once effect that runs until the test opens `gate`. */
let gate = Promise.resolve();
const Stuck = defineEffect('Stuck', () => gate, { delivery: 'at-least-once' });

/** Sends a message that its target rejects (a dead letter) and starts an effect that waits. */
const Refuser = defineEntity({
  type: 'Refuser',
  init: () => ({}),
  handle: (_message: { note: string }) => error('refused'),
  update: (_event: never, state) => state,
});
const Desk = defineEntity({
  type: 'Desk',
  init: () => ({ opened: 0 }),
  handle: (message: { to: string }) =>
    ok([{ type: 'Opened' as const }], [send(Refuser.ref(message.to), { note: 'hi' }), Stuck.with({})]),
  update: (_event, state) => ({ opened: state.opened + 1 }),
});

const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((span) => span.name === name);
const idOf = (span: ReadableSpan | undefined) => span?.spanContext().spanId;
const attributesOf = (span: ReadableSpan | undefined) => span?.attributes ?? {};

/** The sum of a counter's points whose attributes include these. */
function sumOf(points: readonly { attributes: object; value: unknown }[] | undefined, attributes: object): number {
  let sum = 0;
  for (const point of points ?? []) {
    if (Object.entries(attributes).every(([k, v]) => (point.attributes as Record<string, unknown>)[k] === v))
      sum += point.value as number;
  }
  return sum;
}

describe.each(storeKinds)('telemetry on %s', (kind) => {
  it("records a call's span under the caller's, with its decide, commit wait and commit phases", async () => {
    const system = running.start({
      store: (await running.place(kind)).newStore(),
      entities: [Shop, Inbox],
      effects: [Mailed, Noticed],
    });
    const id = `shop-${randomUUID()}`;
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('request', async (request) => {
      await system.call(Shop.ref(id), { type: 'Refuse' });
      request.end();
    });
    const spans = telemetry.spans();
    const [call] = named(spans, 'pachyderm.call');
    expect(parentOf(call as ReadableSpan)).toBe(idOf(named(spans, 'request')[0]));
    expect(attributesOf(call)).toMatchObject({
      'pachyderm.entity.type': 'Shop',
      'pachyderm.entity.id': id,
      'pachyderm.outcome': 'rejected',
      'pachyderm.delivered': false,
    });
    // A rejection commits nothing: it is decided, and answered without a commit.
    expect(named(spans, 'pachyderm.decide').map(parentOf)).toEqual([idOf(call)]);
    expect(named(spans, 'pachyderm.commit')).toEqual([]);

    telemetry.reset();
    await system.call(Shop.ref(id), { type: 'Sell', inbox: `inbox-${randomUUID()}` });
    const sold = telemetry.spans();
    const sell = named(sold, 'pachyderm.call').find((span) => span.attributes['pachyderm.entity.type'] === 'Shop');
    expect(attributesOf(sell)).toMatchObject({ 'pachyderm.outcome': 'ok', 'pachyderm.entity.version': 1 });
    for (const phase of ['pachyderm.decide', 'pachyderm.commit.wait', 'pachyderm.commit']) {
      const [span] = named(sold, phase).filter((s) => parentOf(s) === idOf(sell));
      expect(span, phase).toBeDefined();
      expect(span?.spanContext().traceId).toBe(sell?.spanContext().traceId);
    }
    const [commit] = named(sold, 'pachyderm.commit').filter((s) => parentOf(s) === idOf(sell));
    expect(commit?.attributes['pachyderm.commit.appends']).toBeGreaterThanOrEqual(1);
  });

  it('carries the trace across the outbox: the message, its handling and the effects are children of the call that sent them', async () => {
    const system = running.start({
      store: (await running.place(kind)).newStore(),
      entities: [Shop, Inbox],
      effects: [Mailed, Noticed],
    });
    activeInEffects.length = 0;
    await system.call(Shop.ref(`shop-${randomUUID()}`), { type: 'Sell', inbox: `inbox-${randomUUID()}` });
    await system.settled();
    const spans = telemetry.spans();
    const sell = named(spans, 'pachyderm.call').find((s) => s.attributes['pachyderm.entity.type'] === 'Shop');
    const traceId = sell?.spanContext().traceId;
    const [deliver] = named(spans, 'pachyderm.deliver');
    expect(parentOf(deliver as ReadableSpan)).toBe(idOf(sell));
    const handled = named(spans, 'pachyderm.call').find((s) => s.attributes['pachyderm.entity.type'] === 'Inbox');
    expect(parentOf(handled as ReadableSpan)).toBe(idOf(deliver));
    // And linked to the span that sent it, directly.
    expect(handled?.links.map((link) => link.context.spanId)).toEqual([idOf(sell)]);
    expect(attributesOf(handled)).toMatchObject({ 'pachyderm.delivered': true, 'pachyderm.outcome': 'ok' });
    const effects = named(spans, 'pachyderm.effect');
    expect(effects.map((s) => s.attributes['pachyderm.effect.name']).sort()).toEqual(['Mailed', 'Noticed']);
    for (const effect of effects) {
      expect(parentOf(effect)).toBe(idOf(sell));
      expect(effect.spanContext().traceId).toBe(traceId);
    }
    // Each effect ran with its span active, so the application's own spans nest under it.
    expect(activeInEffects.map((seen) => seen.spanId).sort()).toEqual(effects.map(idOf).sort());
  });

  it('counts calls by outcome, their duration, commit sizes, conflicts, deliveries and active entities', async () => {
    const place = await running.place(kind);
    const store = place.newStore();
    const options = { entities: [Shop, Inbox], effects: [Mailed, Noticed] };
    const system = running.start({ store, ...options });
    const other = running.start({ store: kind === 'memory' ? store : place.newStore(), ...options });
    const id = `shop-${randomUUID()}`;
    const sell = () => ({ type: 'Sell' as const, inbox: `inbox-${randomUUID()}` });
    const before = await telemetry.collect();
    await system.call(Shop.ref(id), sell());
    await other.call(Shop.ref(id), { type: 'Refuse' });
    // Both loaded at version 1 decide at once: one append is refused by the version check.
    await Promise.all([system.call(Shop.ref(id), sell()), other.call(Shop.ref(id), sell())]);
    await Promise.all([system.settled(), other.settled()]);
    await other.close();
    const after = await telemetry.collect();
    const delta = (name: string, attributes: object) =>
      sumOf(after.get(name) as never, attributes) - sumOf(before.get(name) as never, attributes);
    expect(delta('pachyderm.calls', { 'pachyderm.entity.type': 'Shop', 'pachyderm.outcome': 'ok' })).toBe(3);
    expect(delta('pachyderm.calls', { 'pachyderm.entity.type': 'Shop', 'pachyderm.outcome': 'rejected' })).toBe(1);
    expect(delta('pachyderm.calls', { 'pachyderm.entity.type': 'Inbox', 'pachyderm.outcome': 'ok' })).toBe(3);
    const durations = (after.get('pachyderm.call.duration') ?? []) as {
      attributes: object;
      value: { count: number };
    }[];
    const shopOk = durations.find(
      (p) =>
        (p.attributes as Record<string, unknown>)['pachyderm.outcome'] === 'ok' &&
        (p.attributes as Record<string, unknown>)['pachyderm.entity.type'] === 'Shop',
    );
    expect(shopOk?.value.count).toBeGreaterThanOrEqual(3);
    expect(delta('pachyderm.conflicts', { 'pachyderm.entity.type': 'Shop' })).toBeGreaterThanOrEqual(1);
    const commits = (after.get('pachyderm.commit.batch_size') ?? []) as { value: { count: number; min: number } }[];
    expect(commits[0]?.value.count).toBeGreaterThanOrEqual(4);
    expect(commits[0]?.value.min).toBeGreaterThanOrEqual(1);
    const deliveries = (kind: string) =>
      delta('pachyderm.outbox.deliveries', { 'pachyderm.outbox.kind': kind, 'pachyderm.outcome': 'done' });
    expect(deliveries('message')).toBe(3);
    expect(deliveries('effect')).toBe(3);
    const [active] = after.get('pachyderm.entities.active') ?? [];
    expect(active?.value).toBe((await system.stats()).activeEntities);
  });

  it('reports the outbox depth, the age of its oldest row, dead letters and projection lag', async () => {
    const clock = createTestClock(T0);
    let open: () => void = () => {};
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const Slow = defineReactor({ name: `slow-${randomUUID()}`, entities: [Desk], handle: () => gate });
    const system = running.start({
      store: (await running.place(kind)).newStore(),
      entities: [Desk, Refuser],
      effects: [Stuck],
      reactors: [Slow],
      clock,
      logger: silentLogger,
    });
    try {
      await system.call(Desk.ref(`desk-${randomUUID()}`), { to: `refuser-${randomUUID()}` });
      await vi.waitFor(async () => expect((await system.deadLetters()).length).toBeGreaterThanOrEqual(1));
      clock.advance(5000);
      const metrics = await telemetry.collect();
      const value = (name: string) => metrics.get(name)?.[0]?.value as number | undefined;
      // The effect is still running: its row waits in the outbox, due five seconds ago.
      expect(value('pachyderm.outbox.depth')).toBeGreaterThanOrEqual(1);
      expect(value('pachyderm.outbox.oldest_age')).toBeGreaterThanOrEqual(5);
      expect(value('pachyderm.outbox.dead_letters')).toBeGreaterThanOrEqual(1);
      const ofSlow = (name: string) =>
        (metrics.get(name) ?? []).find(
          (p) => (p.attributes as Record<string, unknown>)['pachyderm.projection.name'] === Slow.name,
        )?.value;
      expect(ofSlow('pachyderm.projection.lag')).toBe(1);
      expect(ofSlow('pachyderm.projection.lag_time')).toBeGreaterThanOrEqual(5);
    } finally {
      open();
    }
  });
});

describe.each(storeKinds.filter((kind) => kind !== 'memory'))('telemetry across a restart on %s', (kind) => {
  it('a timer set by a process that was killed is delivered by another in the trace of the call that set it', async () => {
    const place = await running.place(kind);
    const [senderId, inboxId] = [`sender-${randomUUID()}`, `inbox-${randomUUID()}`];
    let sent: { traceId: string; spanId: string } | undefined;
    const child = children.start(
      'test/support/telemetry-child.ts',
      [JSON.stringify(place.address), senderId, inboxId],
      (line) => {
        const [word, traceId, spanId] = line.split(' ');
        if (word !== 'sent' || !traceId || !spanId) throw new Error(`unexpected line: ${line}`);
        sent = { traceId, spanId };
        child.process.kill('SIGKILL');
      },
    );
    await child.killed;
    expect(sent).toBeDefined();

    const clock = createTestClock(T0);
    const system = running.start({ store: place.newStore(), entities: [Sender, Inbox], clock });
    clock.advance(TIMER_MS + 1000);
    await system.settled();
    expect((await system.read(Inbox.ref(inboxId))).state.notes).toEqual(['later']);
    const spans = telemetry.spans();
    const deliver = named(spans, 'pachyderm.deliver').find((s) => s.attributes['pachyderm.entity.id'] === inboxId);
    expect(deliver?.spanContext().traceId).toBe(sent?.traceId);
    expect(parentOf(deliver as ReadableSpan)).toBe(sent?.spanId);
    const handled = named(spans, 'pachyderm.call').find((s) => s.attributes['pachyderm.entity.id'] === inboxId);
    expect(parentOf(handled as ReadableSpan)).toBe(idOf(deliver));
    expect(handled?.links.map((link) => link.context)).toEqual([
      expect.objectContaining({ traceId: sent?.traceId, spanId: sent?.spanId }),
    ]);
  });
});

describe('telemetry in a cluster', () => {
  it("a call sent to its owner is a forward span, and the owner's call span is its child over HTTP", async () => {
    const where = await running.place('postgres');
    const node = (name: string) =>
      running.start({
        store: where.newStore(),
        entities: [Shop, Inbox],
        effects: [Mailed, Noticed],
        logger: silentLogger,
        cluster: { name, listen: { host: '127.0.0.1', port: 0 }, secret: 's3cret', heartbeatMs: 100, partitions: 16 },
      });
    const [a, b] = [node('a'), node('b')];
    await vi.waitFor(
      () => {
        expect(a.cluster.members().length).toBe(2);
        expect(b.cluster.members().length).toBe(2);
      },
      { timeout: 10_000, interval: 50 },
    );
    // An id that `b` owns, called on `a`.
    let id = '';
    await vi.waitFor(
      () => {
        id = Array.from({ length: 64 }, (_, i) => `shop-${i}`).find((candidate) =>
          [a, b].every((n) => n.cluster.ownerOf(Shop.ref(candidate))?.name === 'b'),
        ) as string;
        expect(id).toBeTruthy();
      },
      { timeout: 10_000, interval: 50 },
    );
    telemetry.reset();
    const result = await a.call(Shop.ref(id), { type: 'Refuse' });
    expect(result.ok).toBe(false);
    const spans = telemetry.spans();
    const forward = named(spans, 'pachyderm.forward').find((s) => s.attributes['pachyderm.entity.id'] === id);
    expect(attributesOf(forward)).toMatchObject({ 'pachyderm.cluster.member': 'b', 'pachyderm.entity.type': 'Shop' });
    const owned = named(spans, 'pachyderm.call').find((s) => s.attributes['pachyderm.entity.id'] === id);
    expect(parentOf(owned as ReadableSpan)).toBe(idOf(forward));
    expect(owned?.spanContext().traceId).toBe(forward?.spanContext().traceId);
  });
});
