/**
 * Messages to other entities and durable timers: effects delivered through the outbox. The
 * target handles each message once, even when delivery is retried or runs on two processes.
 */
import { RESERVED_PREFIX } from './effect.js';
import type { EffectCall, EntityRef } from './entity.js';

export const SEND = `${RESERVED_PREFIX}send`;
export const CANCEL_TIMER = `${RESERVED_PREFIX}cancelTimer`;

/** The payload of a `send` effect: plain data. */
export interface SendRequest {
  readonly target: { readonly type: string; readonly id: string };
  readonly message: unknown;
  /** Deliver no earlier than this many ms after the commit. */
  readonly afterMs?: number;
  /** Deliver no earlier than this time (ms since the epoch). */
  readonly at?: number;
  /** A timer key: a new timer with the same key for the same target replaces the old one. */
  readonly key?: string;
}

/** The payload of a `cancelTimer` effect. */
export interface CancelTimerRequest {
  readonly target: { readonly type: string; readonly id: string };
  readonly key: string;
}

/**
 * Send a message to another entity once this decision is committed. Fire-and-forget for the
 * sender; the target handles it exactly once; order from one sender to one target is kept.
 *
 * @example
 * handle(message, state, entity) {
 *   return ok([{ type: 'Debited', amount }], [send(entity.ref(to), { type: 'Credit', amount, transfer: id })]);
 * }
 */
export function send<M>(ref: EntityRef<string, M>, message: NoInfer<M>): EffectCall {
  return { effect: SEND, payload: { target: plainRef(ref), message } };
}

/**
 * Deliver a message to an entity `ms` after this decision is committed, also across restarts.
 * With `{ key }`, a new timer with the same key for the same target replaces the old one.
 *
 * @example
 * return ok([{ type: 'Reserved' }], [sendAfter(entity.self, { type: 'Expire' }, 15 * 60_000, { key: 'expiry' })]);
 */
export function sendAfter<M>(
  ref: EntityRef<string, M>,
  message: NoInfer<M>,
  ms: number,
  options: { key?: string } = {},
): EffectCall {
  return { effect: SEND, payload: { target: plainRef(ref), message, afterMs: ms, ...keyOf(options) } };
}

/** Deliver a message to an entity at `date` (at once if it has passed), also across restarts. */
export function sendAt<M>(
  ref: EntityRef<string, M>,
  message: NoInfer<M>,
  date: Date,
  options: { key?: string } = {},
): EffectCall {
  const at = date instanceof Date ? date.getTime() : Number.NaN;
  return { effect: SEND, payload: { target: plainRef(ref), message, at, ...keyOf(options) } };
}

/** Remove the pending timer with this key for this target, if any. */
export function cancelTimer(ref: EntityRef, key: string): EffectCall {
  return { effect: CANCEL_TIMER, payload: { target: plainRef(ref), key } };
}

function plainRef(ref: EntityRef): { type: string; id: string } {
  return { type: ref?.type, id: ref?.id };
}

function keyOf(options: { key?: string }): { key?: string } {
  return options.key === undefined ? {} : { key: options.key };
}
