import { assertValidName } from '../core/id.js';
import { ConfigurationError } from '../errors.js';
import { type RetryPolicy, retryPolicy } from '../outbox/retry-policy.js';
import type { EffectCall, EntityRef } from './entity.js';

/**
 * The application context handed to every effect as `ctx.context`. Declare its type once for
 * your application:
 *
 * @example
 * declare module 'pachyderm' {
 *   interface Register { context: { mailer: Mailer } }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended by users through declaration merging
export interface Register {}

/** The context type: what `Register['context']` declares, otherwise `unknown`. */
export type AppContext = Register extends { context: infer C } ? C : unknown;

/** What an effect handler receives besides its payload. */
export interface EffectContext {
  /** The `context` given to `createSystem`. */
  readonly context: AppContext;
  /** The entity whose decision asked for this effect. */
  readonly ref: EntityRef;
  /** The entity's version after the commit that carried the decision. */
  readonly version: number;
  /** Unique per effect and the same on every attempt: `<id>:<version>:<index>`. Pass it on. */
  readonly idempotencyKey: string;
  /** 1 on the first attempt, then 2, 3, ... (always 1 for at-most-once effects). */
  readonly attempt: number;
}

export type EffectHandler<P> = (payload: P, ctx: EffectContext) => Promise<void> | void;

export interface EffectOptions {
  /**
   * `'at-most-once'` (default): run in this process right after the commit; a crash in between
   * loses it. `'at-least-once'`: written to the outbox in the commit's own transaction and
   * delivered, retried with backoff across crashes and restarts, until the handler resolves or
   * `retry.maxAttempts` is reached (then it is a dead letter).
   */
  readonly delivery?: 'at-most-once' | 'at-least-once';
  /** Retries of an at-least-once effect. */
  readonly retry?: Partial<RetryPolicy>;
}

/** A defined effect. Register it with `createSystem({ effects })`; request it with `.with(payload)`. */
export interface EffectDefinition<P = unknown> {
  readonly kind: 'effect';
  readonly name: string;
  readonly delivery: 'at-most-once' | 'at-least-once';
  readonly retry: RetryPolicy;
  run(payload: P, ctx: EffectContext): Promise<void> | void;
  /** A request to run this effect with this payload, for `ok(events, effects)`. */
  with(payload: P): EffectCall;
}

/** Effect names starting with this are Pachyderm's own (`send`, timers). */
export const RESERVED_PREFIX = 'pachyderm:';

/**
 * Define an effect: something that talks to the world, run only after the decision that asked for
 * it is committed.
 *
 * @example
 * const ChargeCard = defineEffect('ChargeCard', async (payload: { cents: number }, ctx) => {
 *   await payments.charge(payload, { idempotencyKey: ctx.idempotencyKey });
 * }, { delivery: 'at-least-once', retry: { maxAttempts: 10 } });
 */
export function defineEffect<P>(name: string, run: EffectHandler<P>, options: EffectOptions = {}): EffectDefinition<P> {
  assertValidName(name, 'effect name');
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new ConfigurationError(`Effect names starting with ${JSON.stringify(RESERVED_PREFIX)} are reserved`);
  }
  if (typeof run !== 'function') throw new ConfigurationError(`Effect ${name}: the handler must be a function`);
  const delivery = options.delivery ?? 'at-most-once';
  if (delivery !== 'at-most-once' && delivery !== 'at-least-once') {
    throw new ConfigurationError(`Effect ${name}: delivery must be 'at-most-once' or 'at-least-once'`);
  }
  return Object.freeze({
    kind: 'effect' as const,
    name,
    delivery,
    retry: retryPolicy(options.retry, `Effect ${name}`),
    run,
    with(payload: P): EffectCall {
      return { effect: name, payload };
    },
  });
}
