/**
 * The pure core step: given a definition, a state and a message, decide which events to record
 * and which effects to run, and compute the state those events lead to. Nothing runs here: the
 * runtime commits the events, then dispatches the effects.
 *
 * `update` is applied to the events as decoded from their stored (JSON) form, exactly as replay
 * does, so the state after a call equals the state rebuilt after a restart.
 */
import type { EffectCall, EntityDefinition, EntityRef, EntitySelf } from '../define/entity.js';
import { EntityCodeError, ErrorCode, messageOf } from '../errors.js';
import { deepFreeze, encodeAndDecode } from './json.js';
import { type PlannedEffect, planEffect, type Registrations } from './plan-effect.js';

export type { PlannedEffect, Registrations } from './plan-effect.js';

export type Outcome<S, E, R> =
  | { readonly kind: 'rejected'; readonly reason: R }
  | {
      readonly kind: 'accepted';
      /** The events as decoded from their stored form (what `update` saw). */
      readonly events: readonly E[];
      /** The events' stored form, encoded once. */
      readonly encodedEvents: readonly string[];
      readonly effects: readonly PlannedEffect[];
      /** The effect requests as `handle` returned them. */
      readonly requested: readonly EffectCall[];
      /** The state after folding the events. */
      readonly state: S;
    };

/** The third argument of `handle` for the entity `type`/`id`. */
export function entitySelf(type: string, id: string): EntitySelf {
  return { self: { type, id }, ref: (other: string) => ({ type, id: other }) };
}

/** The third argument of `handle` for a message that `sender` sent: `self` with `entity.sender`. */
export function withSender(self: EntitySelf, sender: EntityRef): EntitySelf {
  return { self: self.self, ref: self.ref, sender };
}

/** Builds the first state of an entity. */
export function initialState<S>(definition: EntityDefinition<string, S>): S {
  try {
    return deepFreeze(definition.init());
  } catch (cause) {
    throw new EntityCodeError(ErrorCode.InitThrew, `${definition.type}.init threw: ${messageOf(cause)}`, cause);
  }
}

/** Folds one decoded event into the state. */
export function applyEvent<S, E>(definition: EntityDefinition<string, S, unknown, E>, state: S, event: E): S {
  let next: S;
  try {
    next = definition.update(event, state);
  } catch (cause) {
    const hint =
      cause instanceof TypeError ? ' (state and events are frozen: return a new state instead of changing it)' : '';
    throw new EntityCodeError(
      ErrorCode.UpdateThrew,
      `${definition.type}.update threw: ${messageOf(cause)}${hint}`,
      cause,
    );
  }
  return deepFreeze(next);
}

/**
 * Runs `handle` and, when it accepts, folds the events it returned.
 *
 * @param registrations what the system serves: effects and messages to anything else are refused.
 * @throws EntityCodeError, SerializationError, NotRegisteredError — nothing is to be committed.
 */
export function decide<S, M, E, R>(
  definition: EntityDefinition<string, S, M, E, R>,
  state: S,
  message: M,
  registrations: Registrations,
  entity: EntitySelf,
): Outcome<S, E, R> {
  const decision = runHandle(definition, state, message, entity);
  if (!decision.ok) return { kind: 'rejected', reason: decision.reason };

  const returned = decision.events;
  const requested = decision.effects ?? [];
  if (returned.length === 0 && requested.length > 0) {
    throw new EntityCodeError(
      ErrorCode.EffectsWithoutEvents,
      `${definition.type}.handle returned effects without events: effects run only after a commit, and a decision with no events commits nothing. Record an event that says why the effect runs.`,
    );
  }

  const encodedEvents: string[] = new Array(returned.length);
  const events: E[] = new Array(returned.length);
  let next = state;
  for (let i = 0; i < returned.length; i++) {
    // The stored text, and the frozen value decoding it gives: `update` sees what replay will see.
    const { text, decoded } = encodeAndDecode<E>(returned[i], `Event ${i} returned by ${definition.type}.handle`);
    encodedEvents[i] = text;
    events[i] = decoded;
    next = applyEvent(definition, next, decoded);
  }

  const effects: PlannedEffect[] = new Array(requested.length);
  for (let i = 0; i < requested.length; i++) {
    effects[i] = planEffect(definition.type, requested[i], i, registrations);
  }
  return { kind: 'accepted', events, encodedEvents, effects, requested, state: next };
}

function runHandle<S, M, E, R>(
  definition: EntityDefinition<string, S, M, E, R>,
  state: S,
  message: M,
  entity: EntitySelf,
) {
  let result: unknown;
  try {
    result = definition.handle(message, state, entity as EntitySelf<string, M, S>);
  } catch (cause) {
    const hint = isFrozenWrite(cause) ? ' (state is frozen: handle must not change it)' : '';
    throw new EntityCodeError(
      ErrorCode.HandleThrew,
      `${definition.type}.handle threw: ${messageOf(cause)}${hint}`,
      cause,
    );
  }
  if (isThenable(result)) {
    // The promise's outcome is ignored; keep a rejection from becoming an unhandled one.
    Promise.resolve(result).catch(() => {});
    throw new EntityCodeError(
      ErrorCode.HandleReturnedPromise,
      `${definition.type}.handle returned a promise: handle must be synchronous and pure; do asynchronous work in an effect`,
    );
  }
  if (!isDecision(result)) {
    throw new EntityCodeError(
      ErrorCode.InvalidDecision,
      `${definition.type}.handle must return ok(events, effects?) or error(reason), got ${messageOf(result)}`,
    );
  }
  return result as { ok: true; events: readonly E[]; effects?: readonly EffectCall[] } | { ok: false; reason: R };
}

/** A TypeError from writing to a frozen object (V8's wording). */
function isFrozenWrite(error: unknown): boolean {
  return (
    error instanceof TypeError && /read[- ]only|not extensible|Cannot (assign|add|delete|define)/i.test(error.message)
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function isDecision(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const v = value as { ok?: unknown; events?: unknown; effects?: unknown };
  if (v.ok === true) return Array.isArray(v.events) && (v.effects === undefined || Array.isArray(v.effects));
  return v.ok === false && 'reason' in v;
}
