/**
 * Effect planning, part of the pure step: each effect request of an accepted decision is checked
 * and turned into a plan before anything is committed; a bad request throws with a code.
 */
import { cancelTimer, defineEffect, ErrorCode, send, sendAfter, sendAt } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { planEffect, type Registrations } from '../../src/core/plan-effect.js';

const Mail = defineEffect('Mail', (_payload: { to: string }) => {});
const Charge = defineEffect('Charge', (_payload: { cents: number }) => {}, { delivery: 'at-least-once' });
const registrations: Registrations = {
  effect: (name) => ({ Mail, Charge })[name as 'Mail' | 'Charge'],
  hasEntity: (type) => type === 'Inbox',
};
const inbox = { type: 'Inbox', id: 'i1' } as const;
const plan = (call: unknown, index = 0) => planEffect('Source', call, index, registrations);

describe('planEffect', () => {
  it('runs at-most-once effects in process, with the payload as decoded from JSON', () => {
    expect(plan(Mail.with({ to: 'a' }), 2)).toEqual({ kind: 'run', index: 2, effect: 'Mail', payload: { to: 'a' } });
  });

  it('writes at-least-once effects to the outbox as JSON text', () => {
    expect(plan(Charge.with({ cents: 5 }))).toEqual({
      kind: 'outbox',
      index: 0,
      effect: 'Charge',
      payload: '{"cents":5}',
    });
  });

  it('plans messages and timers with their target, text, delay, date and key', () => {
    expect(plan(send(inbox, { n: 1 }))).toEqual({ kind: 'send', index: 0, target: inbox, message: '{"n":1}' });
    expect(plan(sendAfter(inbox, 'x', 500, { key: 'k' }))).toEqual({
      kind: 'send',
      index: 0,
      target: inbox,
      message: '"x"',
      afterMs: 500,
      key: 'k',
    });
    expect(plan(sendAt(inbox, 'x', new Date(86_400_000)))).toMatchObject({ at: 86_400_000 });
    expect(plan(cancelTimer(inbox, 'k'))).toEqual({ kind: 'cancelTimer', index: 0, target: inbox, key: 'k' });
  });

  it('refuses what cannot be delivered, naming it, with a stable code', () => {
    const refused = (call: unknown) => {
      try {
        plan(call);
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'accepted';
    };
    expect(refused({ not: 'an effect call' })).toBe(ErrorCode.InvalidDecision);
    expect(refused({ effect: 'Unknown', payload: 1 })).toBe(ErrorCode.UnknownEffect);
    expect(refused(send({ type: 'Elsewhere', id: 'x' }, 1))).toBe(ErrorCode.UnknownEntityType);
    expect(refused(send({ type: 'Inbox', id: '' }, 1))).toBe(ErrorCode.InvalidId);
    expect(refused(send(inbox, () => 1))).toBe(ErrorCode.NotSerializable);
    expect(refused(sendAfter(inbox, 1, -1))).toBe(ErrorCode.InvalidDecision);
    expect(refused(sendAfter(inbox, 1, Number.POSITIVE_INFINITY))).toBe(ErrorCode.InvalidDecision);
    expect(refused(sendAt(inbox, 1, new Date('not a date')))).toBe(ErrorCode.InvalidDecision);
    expect(refused(sendAfter(inbox, 1, 5, { key: '' }))).toBe(ErrorCode.InvalidDecision);
    expect(refused(Mail.with({ to: 1n as never }))).toBe(ErrorCode.NotSerializable);
  });
});
