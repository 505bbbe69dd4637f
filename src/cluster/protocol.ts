/**
 * What nodes of a cluster say to each other over HTTP: a batch of calls forwarded to their owner,
 * and an answer for each. JSON; the secret in the `authorization` header.
 */
import { isPachydermError, messageOf } from '../errors.js';
import type { MessageAnswer } from '../runtime/worker.js';

export const CALLS_PATH = '/pachyderm/v1/calls';

export interface ForwardedCall {
  readonly type: string;
  readonly id: string;
  readonly message: unknown;
  /** Set for a delivered message: the owner records it with the events, once. */
  readonly messageId?: string;
  /** A delivered message's lane: the owner handles a lane in order (see `Delivery`). */
  readonly lane?: string;
  /** The W3C `traceparent` of the span the call belongs to: the owner's span is its child. */
  readonly trace?: string;
  /** A delivered message's sender's `traceparent` (its outbox row's): the owner's span links to it. */
  readonly sender?: string;
  /** The entity whose `send` wrote a delivered message (none for a timer): `entity.sender` in `handle`. */
  readonly from?: { readonly type: string; readonly id: string };
  /** An idempotent call's key: the owner records the answer under it, or gives the one recorded. */
  readonly idempotencyKey?: string;
}

/** One call's answer: what the owner's call gave, a fault, or that the owner does not serve the type. */
export type ForwardedAnswer =
  | { readonly answer: MessageAnswer }
  | { readonly fault: { readonly code: string; readonly message: string; readonly retryable: boolean } }
  | { readonly notServed: true };

export function faultOf(error: unknown): ForwardedAnswer {
  return isPachydermError(error)
    ? { fault: { code: error.code, message: error.message, retryable: error.retryable } }
    : { fault: { code: 'HANDLE_THREW', message: messageOf(error), retryable: false } };
}

/** The calls of a request body, or a reason it is malformed. */
export function parseCalls(body: unknown): readonly ForwardedCall[] | string {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { calls?: unknown }).calls)) {
    return 'the body must be { "calls": [...] }';
  }
  const calls = (body as { calls: unknown[] }).calls;
  for (const [i, call] of calls.entries()) {
    if (call === null || typeof call !== 'object') return `calls[${i}] must be an object`;
    const { type, id, messageId, lane, trace, sender, from, idempotencyKey } = call as Record<string, unknown>;
    if (typeof type !== 'string' || typeof id !== 'string') return `calls[${i}] needs a string type and id`;
    if (!('message' in call)) return `calls[${i}] needs a message`;
    if (messageId !== undefined && typeof messageId !== 'string') return `calls[${i}].messageId must be a string`;
    if (lane !== undefined && (typeof lane !== 'string' || messageId === undefined))
      return `calls[${i}].lane must be a string, with a messageId`;
    if (trace !== undefined && typeof trace !== 'string') return `calls[${i}].trace must be a string`;
    if (sender !== undefined && typeof sender !== 'string') return `calls[${i}].sender must be a string`;
    if (from !== undefined && (!isRef(from) || messageId === undefined))
      return `calls[${i}].from must be { type, id } (strings), with a messageId`;
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || messageId !== undefined))
      return `calls[${i}].idempotencyKey must be a string, without a messageId`;
  }
  return calls as ForwardedCall[];
}

function isRef(value: unknown): value is { type: string; id: string } {
  if (value === null || typeof value !== 'object') return false;
  const { type, id } = value as Record<string, unknown>;
  return typeof type === 'string' && typeof id === 'string';
}
