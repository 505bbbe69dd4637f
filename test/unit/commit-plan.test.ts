/**
 * The commit plan: what the effects of one append's decisions write. Idempotency keys, due times
 * and order keys are decided here once for every store, and so is the rule of one pending timer per
 * target and key (a property over random sequences of keyed timers and cancels).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addToPlan, emptyPlan } from '../../src/core/commit-plan.js';
import type { PlannedEffect } from '../../src/core/plan-effect.js';

const source = { type: 'Cart', id: 'c1' };
const target = (id: string) => ({ type: 'Seat', id });

describe('the commit plan', () => {
  it('gives each effect a key of its decision and index, and rows their due time and order key', () => {
    const plan = emptyPlan();
    addToPlan(
      plan,
      source,
      [
        { kind: 'run', index: 0, effect: 'Mail', payload: { to: 'a' } },
        { kind: 'outbox', index: 1, effect: 'Charge', payload: '{"cents":1}' },
        { kind: 'send', index: 2, target: target('s1'), message: '"hi"' },
        { kind: 'send', index: 3, target: target('s1'), message: '"later"', afterMs: 60_000 },
        { kind: 'send', index: 4, target: target('s2'), message: '"then"', at: 5_000 },
      ],
      4,
      1_000,
    );
    expect(plan.runs).toEqual([
      { kind: 'run', index: 0, effect: 'Mail', payload: { to: 'a' }, version: 4, idempotencyKey: 'c1:4:0' },
    ]);
    expect(plan.outbox.map((r) => [r.kind, r.idempotencyKey, r.dueAt, r.timer, r.orderKey])).toEqual([
      ['effect', 'c1:4:1', 1_000, false, 'e:c1'],
      ['message', 'c1:4:2', 1_000, false, 'm:2:c1s1'],
      ['message', 'c1:4:3', 61_000, true, null],
      ['message', 'c1:4:4', 5_000, true, null],
    ]);
    expect(plan.cancelTimers).toEqual([]);
  });

  it('keeps the order keys of different senders and targets apart, whatever their ids', () => {
    const orderKey = (from: string, to: string) => {
      const plan = emptyPlan();
      addToPlan(plan, { type: 'A', id: from }, [{ kind: 'send', index: 0, target: target(to), message: '1' }], 1, 0);
      return plan.outbox[0]?.orderKey;
    };
    expect(orderKey('ab', 'c')).not.toBe(orderKey('a', 'bc'));
  });

  it('leaves at most one row per target and key: the last set after the last cancel, and cancels the stored one', () => {
    const step = fc.record({
      cancel: fc.boolean(),
      target: fc.constantFrom('s1', 's2'),
      key: fc.constantFrom('k', 'j'),
    });
    fc.assert(
      fc.property(fc.array(fc.array(step, { maxLength: 4 }), { maxLength: 5 }), (decisions) => {
        const plan = emptyPlan();
        let index = 0;
        decisions.forEach((steps, d) => {
          const effects: PlannedEffect[] = steps.map((s) =>
            s.cancel
              ? { kind: 'cancelTimer', index: index++, target: target(s.target), key: s.key }
              : { kind: 'send', index: index++, target: target(s.target), message: '1', afterMs: 10, key: s.key },
          );
          addToPlan(plan, source, effects, d + 1, 0);
        });
        const all = decisions.flat().map((s, i) => ({ ...s, i }));
        for (const t of ['s1', 's2']) {
          for (const key of ['k', 'j']) {
            const touched = all.filter((s) => s.target === t && s.key === key);
            const rows = plan.outbox.filter((r) => r.targetId === t && r.timerKey === key);
            const last = touched.at(-1);
            // The stored timer is cancelled whenever the append touches the key.
            expect(plan.cancelTimers.filter((c) => c.targetId === t && c.key === key)).toHaveLength(
              touched.length > 0 ? 1 : 0,
            );
            if (!last || last.cancel) expect(rows).toEqual([]);
            else expect(rows.map((r) => Number(r.idempotencyKey.split(':')[2]))).toEqual([last.i]);
          }
        }
      }),
    );
  });
});
