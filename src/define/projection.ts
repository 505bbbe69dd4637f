/**
 * Read-side definitions, as data: a projection (SQL statements into the application's own tables,
 * exactly once per event) and a reactor (a handler for the outside world, at least once per event).
 * `createSystem({ projections, reactors })` runs them.
 */
import { assertValidName } from '../core/id.js';
import { assertStatements, type SqlStatement } from '../core/sql.js';
import { ConfigurationError } from '../errors.js';
import { type RetryPolicy, retryPolicy } from '../outbox/retry-policy.js';
import type { AppContext } from './effect.js';
import type { EntityDefinition, EntityRef, EventOf } from './entity.js';

/** Where an event is: what a projection's or reactor's handler gets besides the event. */
export interface EventMeta {
  readonly ref: EntityRef;
  readonly version: number;
  /** The event's feed position (opaque text that sorts in feed order). */
  readonly position: string;
  readonly recordedAt: Date;
}

/** What a handler does after its retries are used up: stop at the event, or record it as skipped and go on. */
export type OnError = 'stop' | 'skip';

/** The events of a list of entity definitions: the union of each one's events. */
export type EventOfAny<Entities extends readonly EntityDefinition[]> = EventOf<Entities[number]>;

interface ReadSideConfig<Entities extends readonly EntityDefinition[]> {
  /** Unique among the system's projections and reactors: it names the checkpoint. */
  readonly name: string;
  /** The entity types whose events it reads. */
  readonly entities: Entities;
  /** After the retries: `'stop'` (default: later events wait; `resume()` goes on) or `'skip'`. */
  readonly onError?: OnError;
  /** Retries of a failing event before `onError` applies. Defaults as for effects. */
  readonly retry?: Partial<RetryPolicy>;
}

export interface ProjectionConfig<Entities extends readonly EntityDefinition[]> extends ReadSideConfig<Entities> {
  /** Change it to rebuild: `reset`, then every event again from the start. Default 1. */
  readonly version?: number;
  /** Run by every system at start, before the projection (make its tables: `CREATE TABLE IF NOT EXISTS`). */
  readonly setup?: readonly SqlStatement[];
  /** Run at the start of a rebuild, in the transaction that moves the checkpoint back to the start. */
  readonly reset?: readonly SqlStatement[];
  /** Pure and synchronous: the statements that apply one event. */
  handle(event: EventOfAny<Entities>, meta: EventMeta): readonly SqlStatement[];
}

export interface ProjectionDefinition<E = unknown> {
  readonly kind: 'projection';
  readonly name: string;
  readonly entityTypes: readonly string[];
  /** The definitions of those types: their `upcast` brings older events to the shape `handle` takes. */
  readonly entities: readonly EntityDefinition[];
  readonly version: number;
  readonly setup: readonly SqlStatement[];
  readonly reset: readonly SqlStatement[];
  /** A method, so that a projection of any events fits where any projection is taken. */
  handle(event: E, meta: EventMeta): readonly SqlStatement[];
  readonly onError: OnError;
  readonly retry: RetryPolicy;
}

/** A projection committed with the events, in the same transaction: see {@link inline}. */
export interface InlineProjection<E = unknown> {
  readonly kind: 'inline';
  readonly projection: ProjectionDefinition<E>;
}

/** What a reactor's handler gets besides the event and its place. */
export interface ReactorContext {
  /** The `context` given to `createSystem`. */
  readonly context: AppContext;
  /** The same on every delivery of this event: `<id>:<version>`. Pass it on. */
  readonly idempotencyKey: string;
  /** 1 on the first attempt in this run, then 2, 3, ... */
  readonly attempt: number;
}

export interface ReactorConfig<Entities extends readonly EntityDefinition[]> extends ReadSideConfig<Entities> {
  handle(event: EventOfAny<Entities>, meta: EventMeta, ctx: ReactorContext): Promise<void> | void;
}

export interface ReactorDefinition<E = unknown> {
  readonly kind: 'reactor';
  readonly name: string;
  readonly entityTypes: readonly string[];
  /** The definitions of those types: their `upcast` brings older events to the shape `handle` takes. */
  readonly entities: readonly EntityDefinition[];
  handle(event: E, meta: EventMeta, ctx: ReactorContext): Promise<void> | void;
  readonly onError: OnError;
  readonly retry: RetryPolicy;
}

/**
 * A projection: the application's own tables in the store's database, updated exactly once per
 * event. `handle` returns statements as data; they commit with the checkpoint.
 *
 * @example
 * const Balances = defineProjection({
 *   name: 'balances',
 *   entities: [Account],
 *   setup: [sql`CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`],
 *   reset: [sql`DELETE FROM balances`],
 *   handle: (event, meta) => [sql`INSERT INTO balances ...`],
 * });
 */
export function defineProjection<const Entities extends readonly EntityDefinition[]>(
  config: ProjectionConfig<Entities>,
): ProjectionDefinition<EventOfAny<Entities>> {
  const common = checkCommon(config, 'defineProjection');
  const version = config.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigurationError(`defineProjection ${config.name}: version must be an integer >= 1`);
  }
  const setup = config.setup ?? [];
  const reset = config.reset ?? [];
  assertStatements(setup, `defineProjection ${config.name}: setup`);
  assertStatements(reset, `defineProjection ${config.name}: reset`);
  return Object.freeze({
    kind: 'projection' as const,
    ...common,
    version,
    setup: Object.freeze([...setup]),
    reset: Object.freeze([...reset]),
    handle: config.handle as (event: EventOfAny<Entities>, meta: EventMeta) => readonly SqlStatement[],
  });
}

/**
 * Marks a projection to commit in the same transaction as the events it projects: after `call`
 * resolves, its rows are there. A handler that throws, or SQL that fails, fails only the calls
 * whose events it was projecting (`PROJECTION_FAILED`); nothing of theirs commits.
 *
 * @example
 * createSystem({ store, entities: [Account], projections: [inline(Totals)] });
 */
export function inline<E>(projection: ProjectionDefinition<E>): InlineProjection<E> {
  if (projection?.kind !== 'projection') throw new ConfigurationError('inline: expects a defineProjection(...)');
  return Object.freeze({ kind: 'inline' as const, projection });
}

/**
 * A reactor: a handler for the outside world (a search index, a webhook), at least once per event,
 * in feed order, with one idempotency key per event.
 *
 * @example
 * const Indexer = defineReactor({
 *   name: 'search-index',
 *   entities: [Account],
 *   async handle(event, meta, ctx) { await ctx.context.search.put(ctx.idempotencyKey, event); },
 * });
 */
export function defineReactor<const Entities extends readonly EntityDefinition[]>(
  config: ReactorConfig<Entities>,
): ReactorDefinition<EventOfAny<Entities>> {
  const common = checkCommon(config, 'defineReactor');
  return Object.freeze({
    kind: 'reactor' as const,
    ...common,
    handle: config.handle as ReactorDefinition<EventOfAny<Entities>>['handle'],
  });
}

function checkCommon(config: ReadSideConfig<readonly EntityDefinition[]> & { handle?: unknown }, what: string) {
  if (config === null || typeof config !== 'object') throw new ConfigurationError(`${what}: expects an object`);
  assertValidName(config.name, `${what} name`);
  const { entities } = config;
  if (!Array.isArray(entities) || entities.length === 0 || !entities.every((e) => typeof e?.type === 'string')) {
    throw new ConfigurationError(`${what} ${config.name}: entities must be a non-empty list of defineEntity(...)`);
  }
  if (typeof config.handle !== 'function')
    throw new ConfigurationError(`${what} ${config.name}: handle must be a function`);
  const onError = config.onError ?? 'stop';
  if (onError !== 'stop' && onError !== 'skip') {
    throw new ConfigurationError(`${what} ${config.name}: onError must be 'stop' or 'skip'`);
  }
  return {
    name: config.name,
    entityTypes: Object.freeze([...new Set(entities.map((e) => e.type))]),
    entities: Object.freeze([...entities]),
    onError,
    retry: retryPolicy(config.retry, `${what} ${config.name}`),
  };
}
