/** Turns the checked effects of a decision into what its commit writes. */
import type { EntityRef } from './definition.js';
import type { PlannedEffect } from './plan-effect.js';
import type { OutboxWrite, TimerKey } from './store/port.js';

/** An at-most-once effect to run after the commit, with the version its decision committed at. */
export type PlannedRun = Extract<PlannedEffect, { kind: 'run' }> & {
  readonly version: number;
  readonly idempotencyKey: string;
};

export interface CommitEffects {
  /** Rows written with the events: at-least-once effects, messages, timers. */
  readonly outbox: OutboxWrite[];
  /** Keyed timers removed with the events. */
  readonly cancelTimers: TimerKey[];
  /** At-most-once effects, run in this process after the commit. */
  readonly runs: PlannedRun[];
}

/** The key of the effect at `index` of the decision committed at `version`: stable and unique. */
function idempotencyKeyOf(id: string, version: number, index: number): string {
  return `${id}:${version}:${index}`;
}

export function noEffects(): CommitEffects {
  return { outbox: [], cancelTimers: [], runs: [] };
}

/**
 * Adds one decision's effects to what a commit writes.
 *
 * @param version the entity's version after this decision's events
 * @param now the commit's time: `sendAfter` counts from it
 */
export function addCommitEffects(
  effects: CommitEffects,
  source: EntityRef,
  plans: readonly PlannedEffect[],
  version: number,
  now: number,
): void {
  for (const plan of plans) {
    const idempotencyKey = idempotencyKeyOf(source.id, version, plan.index);
    switch (plan.kind) {
      case 'run':
        effects.runs.push({ ...plan, version, idempotencyKey });
        break;
      case 'outbox':
        effects.outbox.push({
          kind: 'effect',
          name: plan.effect,
          payload: plan.payload,
          idempotencyKey,
          sourceVersion: version,
          dueAt: now,
          timer: false,
          // Effects of one entity start in commit order.
          orderKey: `e:${source.id}`,
        });
        break;
      case 'send': {
        const timer = plan.afterMs !== undefined || plan.at !== undefined;
        if (plan.key !== undefined) replaceTimer(effects, { targetId: plan.target.id, key: plan.key });
        effects.outbox.push({
          kind: 'message',
          name: plan.target.type,
          targetId: plan.target.id,
          payload: plan.message,
          idempotencyKey,
          sourceVersion: version,
          dueAt: plan.at ?? now + (plan.afterMs ?? 0),
          timer,
          ...(plan.key === undefined ? {} : { timerKey: plan.key }),
          // Messages from one sender to one target arrive in order; timers keep their own time.
          orderKey: timer ? null : `m:${source.id.length}:${source.id}${plan.target.id}`,
        });
        break;
      }
      case 'cancelTimer':
        replaceTimer(effects, { targetId: plan.target.id, key: plan.key });
        break;
    }
  }
}

/**
 * One pending timer per target and key: a keyed timer or a cancel drops the rows of that target
 * and key that earlier decisions of the same commit wrote, and removes the stored one. Decided
 * here, once, so every store only deletes what `cancelTimers` names and inserts what `outbox` holds.
 */
function replaceTimer(effects: CommitEffects, timer: TimerKey): void {
  const { outbox, cancelTimers } = effects;
  for (let i = outbox.length - 1; i >= 0; i--) {
    const row = outbox[i] as OutboxWrite;
    if (row.timerKey === timer.key && row.targetId === timer.targetId) outbox.splice(i, 1);
  }
  if (!cancelTimers.some((t) => t.key === timer.key && t.targetId === timer.targetId)) cancelTimers.push(timer);
}
