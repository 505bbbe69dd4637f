/**
 * Without an OpenTelemetry SDK registered, telemetry costs nothing the application would notice:
 * calls, messages and effects work, and no trace context is written to outbox rows (the worker does
 * no tracing work at all; the bench measures the rest).
 */
import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { createSystem, defineEffect, defineEntity, memoryStore, ok, send } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { installTelemetry } from './support/telemetry.js';

const Target = defineEntity({
  type: 'Target',
  init: () => ({ got: 0 }),
  handle: (_message: { n: number }) => ok([{ type: 'Got' as const }]),
  update: (_event, state) => ({ got: state.got + 1 }),
});
const Audit = defineEffect('Audit', () => {}, { delivery: 'at-least-once' });
const Source = defineEntity({
  type: 'Source',
  init: () => ({}),
  handle: (message: { to: string }) =>
    ok([{ type: 'Sent' as const }], [send(Target.ref(message.to), { n: 1 }), Audit.with({})]),
  update: (_event, state) => state,
});

describe('telemetry without an SDK', () => {
  it('writes no trace context on outbox rows, and everything is delivered', async () => {
    expect(trace.getActiveSpan()).toBeUndefined();
    const store = memoryStore();
    const system = createSystem({ store, entities: [Source, Target], effects: [Audit] });
    // A store object that the system does not own, to read the rows before they are delivered.
    const id = `source-${randomUUID()}`;
    const to = `target-${randomUUID()}`;
    const written: (string | undefined)[] = [];
    const commit = store.commit.bind(store);
    store.commit = async (request) => {
      for (const append of request.appends) for (const row of append.outbox ?? []) written.push(row.traceContext);
      return commit(request);
    };
    try {
      await system.call(Source.ref(id), { to });
      await system.settled();
      expect(written).toEqual([undefined, undefined]);
      expect((await system.read(Target.ref(to))).state.got).toBe(1);
    } finally {
      await system.close();
    }
  });

  it('traces once an SDK is registered, also for a system created before it', async () => {
    const system = createSystem({ store: memoryStore(), entities: [Source, Target], effects: [Audit] });
    try {
      await system.call(Target.ref('before'), { n: 1 });
      const telemetry = installTelemetry();
      try {
        await system.call(Target.ref('after'), { n: 1 });
        const calls = telemetry.spans().filter((span) => span.name === 'pachyderm.call');
        expect(calls.map((span) => span.attributes['pachyderm.entity.id'])).toEqual(['after']);
      } finally {
        await telemetry.shutdown();
      }
    } finally {
      await system.close();
    }
  });
});
