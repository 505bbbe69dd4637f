/**
 * The pure step for a mailbox batch: each message is decided on the state the ones before it lead
 * to; the accepted ones' events make one append; a rejection or a fault touches only its own answer.
 */
import { defineEffect, defineEntity, error, ok } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { entitySelf, initialState } from '../../src/core/decide.js';
import { decideBatch } from '../../src/core/decide-batch.js';
import type { Registrations } from '../../src/core/plan-effect.js';

const Mail = defineEffect('Mail', (_payload: { to: string }) => {});
const Till = defineEntity({
  type: 'Till',
  init: () => ({ cash: 0 }),
  handle(message: { add: number } | { take: number } | { type: 'Break' }, state) {
    if ('type' in message) throw new Error('broken');
    if ('add' in message) return ok([{ delta: message.add }], [Mail.with({ to: `cash ${state.cash}` })]);
    if (message.take > state.cash) return error({ short: message.take - state.cash });
    return ok([{ delta: -message.take }, { delta: 0 }]);
  },
  update: (event, state) => ({ cash: state.cash + event.delta }),
});
const registrations: Registrations = { effect: (name) => (name === 'Mail' ? Mail : undefined), hasEntity: () => true };
const ref = { type: 'Till', id: 't1' };

function decide(messages: readonly unknown[], start = { state: initialState(Till), version: 7 }) {
  const inputs = messages.map((message) => ({ message }));
  return decideBatch(Till, ref, entitySelf('Till', 't1'), start, inputs, registrations, 1_000);
}

describe('decideBatch', () => {
  it('decides each message on the state the earlier ones lead to, and answers each with its own version', () => {
    const decided = decide([{ add: 5 }, { take: 3 }, { add: 1 }]);
    expect(decided.answers).toEqual([
      { ok: true, state: { cash: 5 }, version: 8 },
      { ok: true, state: { cash: 2 }, version: 10 },
      { ok: true, state: { cash: 3 }, version: 11 },
    ]);
    expect(decided.events).toEqual(['{"delta":5}', '{"delta":-3}', '{"delta":0}', '{"delta":1}']);
    expect(decided.after).toEqual({ state: { cash: 3 }, version: 11 });
    // Effects carry the version of their own decision and the state it saw.
    expect(decided.plan.runs.map((r) => [r.version, r.payload, r.idempotencyKey])).toEqual([
      [8, { to: 'cash 0' }, 't1:8:0'],
      [11, { to: 'cash 2' }, 't1:11:0'],
    ]);
  });

  it('lets a rejection or a throwing handle affect only its own answer', () => {
    const decided = decide([{ take: 1 }, { type: 'Break' }, { add: 2 }, { take: 5 }]);
    expect(decided.answers[0]).toEqual({ ok: false, error: { short: 1 } });
    expect(decided.answers[1]).toMatchObject({ fault: { code: 'HANDLE_THREW' } });
    expect(decided.answers[2]).toEqual({ ok: true, state: { cash: 2 }, version: 8 });
    expect(decided.answers[3]).toEqual({ ok: false, error: { short: 3 } });
    expect(decided.events).toEqual(['{"delta":2}']);
    expect(decided.after).toEqual({ state: { cash: 2 }, version: 8 });
  });

  it('does not decide the later messages of a lane whose message threw; other lanes go on', () => {
    const inputs = [
      { message: { add: 1 }, lane: 'a' },
      { message: { type: 'Break' }, lane: 'a' },
      { message: { add: 2 }, lane: 'b' },
      { message: { add: 4 }, lane: 'a' },
      { message: { add: 8 } },
    ];
    const decided = decideBatch(
      Till,
      ref,
      entitySelf('Till', 't1'),
      { state: { cash: 0 }, version: 0 },
      inputs,
      registrations,
      1,
    );
    expect(decided.answers.map((a) => ('fault' in a ? 'fault' : 'deferred' in a ? 'deferred' : a.ok))).toEqual([
      true,
      'fault',
      true,
      'deferred',
      true,
    ]);
    expect(decided.after).toEqual({ state: { cash: 11 }, version: 3 });
  });

  it('records nothing when no message is accepted: the state and version stay', () => {
    const start = { state: { cash: 4 }, version: 3 };
    const decided = decide([{ take: 9 }], start);
    expect(decided.events).toEqual([]);
    expect(decided.after).toEqual(start);
  });
});
