/**
 * A delivered message that arrives twice in one mailbox batch (its row claimed again after a lease
 * ran out while the first copy waited) gets the first copy's answer, whatever it is: were the
 * repeat answered as already handled while the first copy failed, its deliverer would settle the
 * row as done and the message would be lost. A keyed call repeated in one batch gets the first
 * call's answer the same way; keys and message ids are names of their own.
 */
import { describe, expect, it } from 'vitest';
import type { Loaded } from '../../src/core/fold.js';
import type { Registrations } from '../../src/core/plan-effect.js';
import { defineEntity, ok } from '../../src/index.js';
import { EntityWorker, type WorkerRuntime } from '../../src/runtime/worker.js';

const Target = defineEntity({
  type: 'Target',
  init: () => ({ seen: 0 }),
  handle(message: { fail: boolean }) {
    if (message.fail) throw new Error('the handler failed');
    return ok([{ type: 'Seen' as const }]);
  },
  update: (_event, state) => ({ seen: state.seen + 1 }),
});

const registrations: Registrations = { effect: () => undefined, hasEntity: () => true };

function worker(): EntityWorker {
  let version = 0;
  const runtime: WorkerRuntime = {
    registrations,
    maxConflictRetries: 3,
    changeToken: () => undefined,
    load: async () => ({ state: { seen: 0 }, version: 0 }) as Loaded<never>,
    append: async (append) => {
      version += append.events.length;
      return { ok: true, version, position: String(version) };
    },
    maxBatch: 100,
    backoff: async () => {},
    now: () => 0,
    committed: () => {},
    answered: async () => new Map(),
    repeat: async () => {
      throw new Error('no keyed calls here');
    },
    keysSince: () => 0,
  };
  return new EntityWorker(Target as never, 't1', runtime);
}

describe('a delivered message twice in one batch', () => {
  it('gives the repeat the first copy\'s failure, not "already handled"', async () => {
    const target = worker();
    const delivery = { messageId: 'm1', lane: 'l1' };
    const answers = await Promise.allSettled([
      target.call({ fail: true }, delivery),
      target.call({ fail: true }, delivery),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
  });

  it("gives the repeat the first copy's answer when it is handled", async () => {
    const target = worker();
    const delivery = { messageId: 'm1' };
    const [first, second] = await Promise.all([
      target.call({ fail: false }, delivery),
      target.call({ fail: false }, delivery),
    ]);
    expect(first).toMatchObject({ ok: true, version: 1 });
    expect(second).toEqual(first);
  });
});

describe('a keyed call in a batch', () => {
  it('gives a repeat of its key the first answer, and is not taken for a delivered message of the same name', async () => {
    const target = worker();
    const [first, repeat, delivered] = await Promise.all([
      target.call({ fail: false }, undefined, undefined, { key: 'm1' }),
      target.call({ fail: false }, undefined, undefined, { key: 'm1' }),
      target.call({ fail: false }, { messageId: 'm1' }),
    ]);
    expect(first).toMatchObject({ ok: true, version: 1 });
    expect(repeat).toEqual(first);
    // The delivery named like the key is a message of its own: handled, at the next version.
    expect(delivered).toMatchObject({ ok: true, version: 2 });
  });
});
