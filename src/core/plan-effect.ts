/**
 * Part of the pure decision step: checks each effect request of an accepted decision and turns it
 * into a plan, before anything is committed. Bad requests throw; nothing is half-done.
 */
import type { EffectDefinition } from '../define/effect.js';
import type { EffectCall } from '../define/entity.js';
import { CANCEL_TIMER, type CancelTimerRequest, SEND, type SendRequest } from '../define/messaging.js';
import { EntityCodeError, ErrorCode, NotRegisteredError } from '../errors.js';
import { assertValidId } from './id.js';
import { decodeJson, encodeJson } from './json.js';

/** What a decision's effects may use: the effects and entity types the system serves. */
export interface Registrations {
  effect(name: string): EffectDefinition | undefined;
  hasEntity(type: string): boolean;
}

interface Target {
  readonly type: string;
  readonly id: string;
}

/** One effect of an accepted decision, checked. `index` is its place in the decision's effects. */
export type PlannedEffect =
  /** An at-most-once effect, run in this process after the commit. */
  | { readonly kind: 'run'; readonly index: number; readonly effect: string; readonly payload: unknown }
  /** An at-least-once effect, written to the outbox with the events. */
  | { readonly kind: 'outbox'; readonly index: number; readonly effect: string; readonly payload: string | null }
  /** A message (`send`, or a timer when `afterMs`/`at` is set), written to the outbox. */
  | {
      readonly kind: 'send';
      readonly index: number;
      readonly target: Target;
      readonly message: string;
      readonly afterMs?: number;
      readonly at?: number;
      readonly key?: string;
    }
  /** Removes a pending keyed timer in the commit's transaction. */
  | { readonly kind: 'cancelTimer'; readonly index: number; readonly target: Target; readonly key: string };

export function planEffect(type: string, call: unknown, index: number, registrations: Registrations): PlannedEffect {
  if (call === null || typeof call !== 'object' || typeof (call as EffectCall).effect !== 'string') {
    throw invalid(`Effect ${index} returned by ${type}.handle is not an effect call: use SomeEffect.with(payload)`);
  }
  const { effect, payload } = call as EffectCall;
  if (effect === SEND) return planSend(type, payload as SendRequest, index, registrations);
  if (effect === CANCEL_TIMER) {
    const request = payload as CancelTimerRequest;
    return {
      kind: 'cancelTimer',
      index,
      target: checkTarget(type, request?.target, registrations),
      key: checkKey(request?.key),
    };
  }
  const definition = registrations.effect(effect);
  if (!definition) {
    throw new NotRegisteredError(
      ErrorCode.UnknownEffect,
      `Effect ${JSON.stringify(effect)} returned by ${type}.handle is not registered with the system: add it to createSystem({ effects })`,
    );
  }
  // An effect may take no payload; anything else must survive JSON like events do.
  const text =
    payload === undefined ? null : encodeJson(payload, `The payload of effect ${effect} returned by ${type}.handle`);
  if (definition.delivery === 'at-least-once') return { kind: 'outbox', index, effect, payload: text };
  return { kind: 'run', index, effect, payload: text === null ? undefined : decodeJson(text) };
}

function planSend(type: string, request: SendRequest, index: number, registrations: Registrations): PlannedEffect {
  const target = checkTarget(type, request?.target, registrations);
  const message = encodeJson(request.message, `The message sent by ${type}.handle to ${target.type}`);
  const plan = { kind: 'send' as const, index, target, message };
  const timing: { afterMs?: number; at?: number; key?: string } = {};
  if (request.afterMs !== undefined) {
    if (typeof request.afterMs !== 'number' || !Number.isFinite(request.afterMs) || request.afterMs < 0) {
      throw invalid(`sendAfter from ${type}.handle needs a finite delay >= 0 ms, got ${String(request.afterMs)}`);
    }
    timing.afterMs = request.afterMs;
  }
  if (request.at !== undefined) {
    if (typeof request.at !== 'number' || !Number.isFinite(request.at)) {
      throw invalid(`sendAt from ${type}.handle needs a valid Date`);
    }
    timing.at = request.at;
  }
  if (request.key !== undefined) timing.key = checkKey(request.key);
  return { ...plan, ...timing };
}

function checkTarget(type: string, target: Target | undefined, registrations: Registrations): Target {
  if (target === null || typeof target !== 'object') throw invalid(`A message from ${type}.handle has no target ref`);
  assertValidId(target.id);
  if (typeof target.type !== 'string' || !registrations.hasEntity(target.type)) {
    throw new NotRegisteredError(
      ErrorCode.UnknownEntityType,
      `${type}.handle sends to entity type ${JSON.stringify(target.type)}, which is not registered with the system: add it to createSystem({ entities })`,
    );
  }
  return { type: target.type, id: target.id };
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw invalid('A timer key must be a non-empty string');
  return key;
}

function invalid(message: string): EntityCodeError {
  return new EntityCodeError(ErrorCode.InvalidDecision, message);
}
