import type { StandardSchemaV1 } from '@standard-schema/spec';
import { assertValidName } from '../core/id.js';
import { ConfigurationError } from '../errors.js';
import { assertStandardSchema } from './standard-schema.js';

declare const refTypes: unique symbol;

/**
 * A reference to one entity: plain data `{ type, id }`. The type parameters exist only for the
 * compiler, so that `system.call(ref, message)` accepts only this entity's messages and answers
 * with its state type.
 */
export interface EntityRef<TType extends string = string, M = unknown, S = unknown, E = unknown, R = unknown> {
  readonly type: TType;
  readonly id: string;
  /** Compile-time only; never present at run time. */
  readonly [refTypes]?: { message(message: M): void; state: S; event: E; reason: R };
}

/** A request to run an effect after the decision's events are committed: plain data. */
export interface EffectCall<P = unknown> {
  readonly effect: string;
  readonly payload: P;
}

/** `handle` accepted the message: these events are recorded, then these effects run. */
export interface Accepted<E> {
  readonly ok: true;
  readonly events: readonly E[];
  readonly effects: readonly EffectCall[];
}

/** `handle` rejected the message with a domain reason; nothing is recorded. */
export interface Rejected<R> {
  readonly ok: false;
  readonly reason: R;
}

/** What `handle` returns. */
export type Decision<E, R> = Accepted<E> | Rejected<R>;

/**
 * Accept a message: record `events`, then (after the commit) run `effects` in order.
 *
 * @example
 * return ok([{ type: 'Increased', amount: 1 }], [AdminMailer.with({ threshold: 10 })]);
 */
export function ok<const E>(events: readonly E[], effects: readonly EffectCall[] = []): Accepted<E> {
  return { ok: true, events, effects };
}

/**
 * Reject a message with a domain reason. The caller receives `{ ok: false, error: reason }`.
 *
 * @example
 * if (state.balance < message.amount) return error('insufficient funds');
 */
export function error<const R>(reason: R): Rejected<R> {
  return { ok: false, reason };
}

/**
 * The third argument of `handle`: the entity's own ref and refs of its own type. Use them to
 * address this entity or its siblings (`send(entity.ref(to), ...)`, `sendAfter(entity.self, ...)`)
 * without naming the definition inside its own initializer, which TypeScript cannot type.
 */
export interface EntitySelf<TType extends string = string, M = unknown, S = unknown> {
  /** This entity. */
  readonly self: EntityRef<TType, M, S>;
  /** Another entity of this type. */
  ref(id: string): EntityRef<TType, M, S>;
  /**
   * The entity whose `send` delivered this message, as plain data `{ type, id }`; undefined for a
   * `system.call` and for a timer (`sendAfter`, `sendAt`). Its message type is not known here, so
   * a reply is checked only as JSON.
   *
   * @example
   * if (entity.sender) return ok([{ type: 'Answered' }], [send(entity.sender, { type: 'Pong' })]);
   */
  readonly sender?: EntityRef;
}

/** The events a decision type records: the union over every `ok(...)` that `handle` can return. */
export type EventsOf<D> = D extends Accepted<infer E> ? E : never;
/** The reasons a decision type rejects with: the union over every `error(...)` that `handle` can return. */
export type ReasonsOf<D> = D extends Rejected<infer R> ? R : never;

/**
 * Adds nothing to `update`'s type but the return type TypeScript checks it against while it
 * infers: a conditional type is instantiated with the state type inferred so far (from `init`),
 * so a state `update` returns keeps its literals (`status: 'checkedOut'`) and is checked against
 * a union declared by `init: (): CartState => ...` instead of being widened to `status: string`.
 */
type StateLiterals<S> = [S] extends [unknown] ? (event: never, state: S) => S : never;

/**
 * What a user writes to define an entity. `D` is what `handle` returns; the event type is
 * read from it, so branches returning different events give `update` their union.
 */
export interface EntityConfig<TType extends string, S, M, D extends Decision<unknown, unknown>> {
  /** The entity type's name, unique within a system. */
  readonly type: TType;
  /**
   * Checks every message before `handle`: any validator that implements Standard Schema (zod,
   * valibot, arktype, ...). A message that fails it is refused with `INVALID_MESSAGE` and its
   * issues, nothing committed; one delivered by `send` is a dead letter. `handle` gets the
   * schema's output, and the message type is read from it: `message` needs no annotation.
   *
   * @example
   * messageSchema: z.object({ type: z.literal('AddItem'), itemId: z.string(), quantity: z.number().int().positive() }),
   */
  readonly messageSchema?: StandardSchemaV1<unknown, M>;
  /** The state of an entity with no events. Optional: without it the first state is `undefined`. */
  readonly init?: () => S;
  /**
   * Decide: pure and synchronous. Returns `ok(events, effects?)` or `error(reason)`. The third
   * argument gives the entity's own ref (`entity.self`) and refs of its type (`entity.ref(id)`).
   */
  handle(message: M, state: S, entity: EntitySelf<TType, M, S>): D;
  /** Evolve: pure and synchronous. Folds one committed event (frozen) into the state. */
  readonly update: ((event: EventsOf<D>, state: S) => S) & StateLiterals<S>;
  /**
   * Change this when the shape of the state changes: snapshots written under another value are
   * ignored and the state is rebuilt from the events. Default `1`.
   */
  readonly snapshotVersion?: number | string;
  /**
   * The version of the events this definition writes, stored with each of them. Raise it when the
   * shape of an event changes, and say in `upcast` how an older one reads now. A whole number >= 1;
   * default `1`.
   */
  readonly eventVersion?: number;
  /**
   * Brings an event stored under an older `eventVersion` to the current shape, before `update` or
   * any reader (`system.events`, `follow`, `subscribe`, projections, reactors) sees it. Pure and
   * synchronous; called only for events stored under an older version. Without it, older events
   * are read as they are.
   *
   * @example
   * upcast(event, storedVersion) {
   *   if (storedVersion === 1 && event.type === 'Deposited') return { ...event, currency: 'EUR' };
   *   return event;
   * }
   */
  // biome-ignore lint/suspicious/noExplicitAny: an older event's shape is not a type the definition still has
  upcast?(event: any, storedVersion: number): NoInfer<EventsOf<D>>;
}

/** A defined entity type: plain data plus `ref(id)`. Register it with `createSystem({ entities })`. */
export interface EntityDefinition<TType extends string = string, S = unknown, M = unknown, E = unknown, R = unknown> {
  readonly kind: 'entity';
  readonly type: TType;
  /** Checks each message before `handle` (see `EntityConfig.messageSchema`); none when not given. */
  readonly messageSchema?: StandardSchemaV1;
  readonly init: () => S;
  handle(message: M, state: S, entity: EntitySelf<TType, M, S>): Decision<E, R>;
  update(event: E, state: S): S;
  readonly snapshotVersion: string;
  /** The `eventVersion` stored with every event this definition writes. */
  readonly eventVersion: number;
  /** Brings an event stored under an older `eventVersion` to the current shape (the identity when not given). */
  upcast(event: unknown, storedVersion: number): E;
  /**
   * A reference to the entity with this id: plain data `{ type, id }`. The id alone names the
   * event log. An invalid id is refused (`INVALID_ID`) by the call that uses the ref.
   */
  ref(id: string): EntityRef<TType, M, S, E, R>;
}

/**
 * Define an entity type. Types infer: `state` from `init`, `event` from what `handle` returns,
 * `message` from `messageSchema` when there is one (else annotate it).
 *
 * @example
 * const Counter = defineEntity({
 *   type: 'Counter',
 *   init: () => ({ count: 0 }),
 *   handle: (message: { type: 'Increment' }, state) => ok([{ type: 'Increased', amount: 1 }]),
 *   update: (event, state) => ({ count: state.count + event.amount }),
 * });
 */
export function defineEntity<
  const TType extends string,
  S = undefined,
  M = never,
  D extends Decision<unknown, unknown> = never,
>(config: EntityConfig<TType, S, M, D>): EntityDefinition<TType, S, M, EventsOf<D>, ReasonsOf<D>> {
  type E = EventsOf<D>;
  type R = ReasonsOf<D>;
  if (config === null || typeof config !== 'object') throw new ConfigurationError('defineEntity expects an object');
  assertValidName(config.type, 'entity type');
  for (const key of ['handle', 'update'] as const) {
    if (typeof config[key] !== 'function') {
      throw new ConfigurationError(`Entity ${config.type}: ${key} must be a function`);
    }
  }
  for (const key of ['init', 'upcast'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'function') {
      throw new ConfigurationError(`Entity ${config.type}: ${key} must be a function when given`);
    }
  }
  const eventVersion = config.eventVersion === undefined ? 1 : config.eventVersion;
  if (!Number.isSafeInteger(eventVersion) || eventVersion < 1) {
    throw new ConfigurationError(`Entity ${config.type}: eventVersion must be a whole number >= 1`);
  }
  const { type, messageSchema } = config;
  if (messageSchema !== undefined) assertStandardSchema(messageSchema, `Entity ${type}: messageSchema`);
  return Object.freeze({
    kind: 'entity' as const,
    type,
    ...(messageSchema === undefined ? {} : { messageSchema: messageSchema as StandardSchemaV1 }),
    init: config.init ?? (() => undefined as S),
    handle: config.handle as (message: M, state: S, entity: EntitySelf<TType, M, S>) => Decision<E, R>,
    update: config.update,
    snapshotVersion: String(config.snapshotVersion ?? 1),
    eventVersion,
    upcast: (config.upcast as ((event: unknown, storedVersion: number) => E) | undefined) ?? unchanged<E>,
    ref(id: string): EntityRef<TType, M, S, E, R> {
      // Plain data, never throws: the system checks the id when the ref is used, so a bad id
      // surfaces as a rejected call like every other fault.
      return { type, id };
    },
  });
}

/** The default `upcast`: an older event reads as it was stored. */
function unchanged<E>(event: unknown): E {
  return event as E;
}

/**
 * Refs of an entity type known ahead by its name and message type, without its definition. Use
 * it when two entity types send to each other: TypeScript cannot infer two definitions whose
 * initializers name each other (TS7022), and one side naming the other through `refsOf` breaks
 * the cycle. `send` still checks the message; the system checks the type name when the message
 * is sent (`UNKNOWN_ENTITY_TYPE`).
 *
 * @example
 * const Tickets = refsOf<TicketMessage>('Ticket');
 * // in Cart's handle, before Ticket is defined:
 * send(Tickets.ref(id), { type: 'Reserve', cart: entity.self.id });
 */
export function refsOf<M>(type: string): EntityRefs<string, M> {
  assertValidName(type, 'entity type');
  return Object.freeze({
    type,
    ref(id: string): EntityRef<string, M> {
      return { type, id };
    },
  });
}

/** What `refsOf` gives: an entity type's name and `ref(id)`, as a definition has them. */
export interface EntityRefs<TType extends string = string, M = unknown> {
  readonly type: TType;
  ref(id: string): EntityRef<TType, M>;
}

/** The message type of a definition. */
export type MessageOf<T> = T extends EntityDefinition<string, infer _S, infer M> ? M : never;
/** The state type of a definition. */
export type StateOf<T> = T extends EntityDefinition<string, infer S> ? S : never;
/** The event type of a definition. */
export type EventOf<T> = T extends EntityDefinition<string, infer _S, infer _M, infer E> ? E : never;
