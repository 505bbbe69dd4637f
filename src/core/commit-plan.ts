/**
 * The commit plan: what the checked effects of the decisions in one append write with its events
 * (outbox rows, timers to remove) and what runs after it (at-most-once effects). The rules every
 * store shares are decided here, once: idempotency keys, due times, order keys, and one pending
 * timer per target and key.
 */
import type { EntityRef } from '../define/entity.js';
import type { OutboxWrite, TimerKey } from '../store/port/index.js';
import type { PlannedEffect } from './plan-effect.js';

/** An at-most-once effect to run after the commit, with the version its decision committed at. */
export type PlannedRun = Extract<PlannedEffect, { kind: 'run' }> & {
  readonly version: number;
  readonly idempotencyKey: string;
  /** The `traceparent` of the call whose decision asked for it (tracing on). */
  readonly traceContext?: string;
};

export interface CommitPlan {
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

export function emptyPlan(): CommitPlan {
  return { outbox: [], cancelTimers: [], runs: [] };
}

/**
 * Adds one decision's effects to the plan of the append that carries it.
 *
 * @param version the entity's version after this decision's events
 * @param now the commit's time: `sendAfter` counts from it
 * @param traceContext the deciding call's `traceparent`, carried by the rows and runs (tracing on)
 */
export function addToPlan(
  plan: CommitPlan,
  source: EntityRef,
  effects: readonly PlannedEffect[],
  version: number,
  now: number,
  traceContext?: string,
): void {
  const traced = traceContext === undefined ? {} : { traceContext };
  for (const effect of effects) {
    const idempotencyKey = idempotencyKeyOf(source.id, version, effect.index);
    switch (effect.kind) {
      case 'run':
        plan.runs.push({ ...effect, version, idempotencyKey, ...traced });
        break;
      case 'outbox':
        plan.outbox.push({
          kind: 'effect',
          name: effect.effect,
          payload: effect.payload,
          idempotencyKey,
          sourceVersion: version,
          dueAt: now,
          timer: false,
          // Effects of one entity start in commit order.
          orderKey: `e:${source.id}`,
          ...traced,
        });
        break;
      case 'send': {
        const timer = effect.afterMs !== undefined || effect.at !== undefined;
        if (effect.key !== undefined) replaceTimer(plan, { targetId: effect.target.id, key: effect.key });
        plan.outbox.push({
          kind: 'message',
          name: effect.target.type,
          targetId: effect.target.id,
          payload: effect.message,
          idempotencyKey,
          sourceVersion: version,
          dueAt: effect.at ?? now + (effect.afterMs ?? 0),
          timer,
          ...(effect.key === undefined ? {} : { timerKey: effect.key }),
          // Messages from one sender to one target arrive in order; timers keep their own time.
          orderKey: timer ? null : `m:${source.id.length}:${source.id}${effect.target.id}`,
          ...traced,
        });
        break;
      }
      case 'cancelTimer':
        replaceTimer(plan, { targetId: effect.target.id, key: effect.key });
        break;
    }
  }
}

/**
 * One pending timer per target and key: a keyed timer or a cancel drops the rows of that target
 * and key that earlier decisions of the same append wrote, and removes the stored one. Decided
 * here, once, so every store only deletes what `cancelTimers` names and inserts what `outbox` holds.
 */
function replaceTimer(plan: CommitPlan, timer: TimerKey): void {
  const { outbox, cancelTimers } = plan;
  for (let i = outbox.length - 1; i >= 0; i--) {
    const row = outbox[i] as OutboxWrite;
    if (row.timerKey === timer.key && row.targetId === timer.targetId) outbox.splice(i, 1);
  }
  if (!cancelTimers.some((t) => t.key === timer.key && t.targetId === timer.targetId)) cancelTimers.push(timer);
}
