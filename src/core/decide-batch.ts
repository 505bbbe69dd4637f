/**
 * The pure step for a mailbox batch: the messages waiting for one entity are decided back to
 * back, each on the state the ones before it lead to, and all their events go into one append.
 * A message that is rejected or whose code throws affects only its own caller, except that the
 * later messages of a lane whose message threw are not decided (`deferred`): a lane is handled in
 * order. The answer of an idempotent call (one with a key) is recorded with the append.
 */
import type { EntityDefinition, EntityRef, EntitySelf } from '../define/entity.js';
import type { KeyedAnswer } from '../store/port/index.js';
import { addToPlan, type CommitPlan, emptyPlan } from './commit-plan.js';
import { decide, type Registrations, withSender } from './decide.js';
import type { Loaded } from './fold.js';
import { encodeJson } from './json.js';

/** What one message of the batch gets, once the batch's append is committed. */
export type BatchAnswer =
  | { readonly ok: true; readonly state: unknown; readonly version: number }
  | { readonly ok: false; readonly error: unknown }
  | { readonly fault: unknown }
  | { readonly deferred: true };

/** A message of the batch; delivered messages carry their lane (see `Delivery` in the worker). */
export interface BatchInput {
  readonly message: unknown;
  readonly lane?: string;
  /** The `traceparent` of the message's call span, for the rows its decision writes (tracing on). */
  readonly trace?: string;
  /** An idempotent call's key: its answer is recorded under it. */
  readonly key?: string;
  /** The entity whose `send` delivered the message: `entity.sender` in `handle`. */
  readonly sender?: EntityRef;
}

export interface BatchDecision {
  readonly answers: BatchAnswer[];
  /** Every accepted message's events, in order: one append. */
  readonly events: string[];
  readonly plan: CommitPlan;
  /** The answers of the idempotent calls, to record with the append (a fault is not an answer). */
  readonly keyed: KeyedAnswer[];
  /** The state and version after all of them. */
  readonly after: Loaded<unknown>;
}

/** @param now the commit's time, for timers */
export function decideBatch(
  definition: EntityDefinition,
  ref: EntityRef,
  self: EntitySelf,
  start: Loaded<unknown>,
  inputs: readonly BatchInput[],
  registrations: Registrations,
  now: number,
): BatchDecision {
  const answers: BatchAnswer[] = [];
  const events: string[] = [];
  const plan = emptyPlan();
  const keyed: KeyedAnswer[] = [];
  let { state, version } = start;
  const stopped = new Set<string>();
  for (const { message, lane, trace, key, sender } of inputs) {
    if (lane !== undefined && stopped.has(lane)) {
      answers.push({ deferred: true });
      continue;
    }
    try {
      const entity = sender === undefined ? self : withSender(self, sender);
      const outcome = decide(definition, state, message, registrations, entity);
      if (outcome.kind === 'rejected') {
        if (key !== undefined) {
          const what = `The rejection of an idempotent call by ${definition.type}.handle (it is recorded under its key)`;
          keyed.push({ key, version, rejection: encodeJson(outcome.reason, what) });
        }
        answers.push({ ok: false, error: outcome.reason });
        continue;
      }
      state = outcome.state;
      version += outcome.encodedEvents.length;
      for (const event of outcome.encodedEvents) events.push(event);
      addToPlan(plan, ref, outcome.effects, version, now, trace);
      if (key !== undefined) keyed.push({ key, version });
      answers.push({ ok: true, state, version });
    } catch (fault) {
      answers.push({ fault });
      if (lane !== undefined) stopped.add(lane);
    }
  }
  return { answers, events, plan, keyed, after: { state, version } };
}
