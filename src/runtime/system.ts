/**
 * The public `System` object: what an application holds. It checks what callers give it and hands
 * the work to the parts made in wiring.ts.
 */

import type { ClusterStats, ClusterView } from '../cluster/cluster.js';
import type { Loaded } from '../core/fold.js';
import { assertValidId, assertValidKey } from '../core/id.js';
import { assertJsonSafe } from '../core/json.js';
import { isSqlStatement, type SqlStatement } from '../core/sql.js';
import { eventOf } from '../core/upcast.js';
import type { EntityDefinition, EntityRef } from '../define/entity.js';
import type { ReactorDefinition } from '../define/projection.js';
import { ConfigurationError, InvalidIdError, SystemClosedError } from '../errors.js';
import { type DeadLetter, toDeadLetter } from '../outbox/dead-letters.js';
import { eitherSignal } from '../read/feed-signal.js';
import { type FollowedEvent, follow } from '../read/follow.js';
import type { ProjectionHandle, ProjectionOption } from '../read/read-side.js';
import { type SubscribedEvent, subscribe } from '../read/subscribe.js';
import type { OutboxStats } from '../store/port/index.js';
import { PAGE_SIZE } from './activation.js';
import { registerInspection } from './inspection.js';
import { checkMessage } from './message-schema.js';
import { type Environment, resolveOptions, type SystemOptions } from './options.js';
import { type Wiring, wire } from './wiring.js';
import type { CallResult } from './worker.js';

export type { ClusterMember, ClusterStats, ClusterView } from '../cluster/cluster.js';
export type { ClusterOptions } from '../cluster/options.js';
export type { DeadLetter } from '../outbox/dead-letters.js';
export type { ReadSideStatus } from '../read/checkpoint-runner.js';
export type { FollowedEvent } from '../read/follow.js';
export type { ProjectionHandle } from '../read/read-side.js';
export type { SubscribedEvent } from '../read/subscribe.js';
export type { SystemOptions } from './options.js';
export type { RetentionOptions } from './retention.js';

/** Options of one `system.call`. */
export interface CallOptions {
  /**
   * Makes the call idempotent: a string of 1 to 255 UTF-8 bytes naming this request (a client's
   * request id). Its answer is recorded under the key, per entity, in the commit of the call's
   * events (a rejection or a call without events records the answer alone).
   */
  readonly idempotencyKey?: string;
}

/** One recorded event of a log. */
export interface RecordedEvent<E> {
  readonly version: number;
  readonly event: E;
  readonly recordedAt: Date;
}

/** What an operator watches: the outbox backlog (shared by every process on the store) and this process. */
export interface SystemStats extends OutboxStats {
  /** This node's routing, with the `cluster` option. */
  readonly cluster?: ClusterStats;
  /** Entities loaded in this process. */
  readonly activeEntities: number;
  /** Outbox rows this process delivered, scheduled for a retry, or gave up on, since it started. */
  readonly delivered: number;
  readonly retries: number;
  readonly deadLettered: number;
  /** Appends of this process refused by the version check (another worker appended first), since it started. */
  readonly conflicts: number;
}

/** A running system: routes calls to entity workers and commits their events. */
export interface System {
  /**
   * Sends a message to an entity and answers once its events are durably committed:
   * `{ ok: true, state, version }`, or `{ ok: false, error }` when `handle` rejected it (nothing
   * committed). Faults reject with a `PachydermError`. With `idempotencyKey`, the answer is
   * recorded with the call's events, and a repeat of the key (in any process, after a restart,
   * within `retention.idempotencyKeysMs`) gets that answer without `handle` being called.
   *
   * @example
   * const r = await system.call(account, { type: 'Deposit', amount: 5 }, { idempotencyKey: 'req-81f3' });
   */
  call<M, S, E, R>(
    ref: EntityRef<string, M, S, E, R>,
    message: NoInfer<M>,
    options?: CallOptions,
  ): Promise<CallResult<S, R>>;
  /**
   * The latest committed state in the store, including events other processes appended. With `at`,
   * the state as of that version (time travel), folded from the latest usable snapshot at or before
   * it; `at: 0` is the first state, and past the end of the log it is the latest state (the answer's
   * `version` says where the log ends).
   *
   * @example
   * const { state, version } = await system.read(Account.ref('a1'), { at: 17 });
   */
  read<S>(
    ref: EntityRef<string, never, S>,
    options?: { at?: number },
  ): Promise<{ readonly state: S; readonly version: number }>;
  /** The entity's log from version `from` (inclusive, default 1). */
  events<E>(ref: EntityRef<string, never, unknown, E>, options?: { from?: number }): AsyncIterable<RecordedEvent<E>>;
  /**
   * Every event of one entity from version `from` (inclusive, default 1), with the state after it,
   * then each new one as it commits, here or in another process on the same store. Ends on
   * `break`, when `signal` aborts, or when the system closes. Pulled a page at a time.
   */
  follow<S, E>(
    ref: EntityRef<string, never, S, E>,
    options?: { from?: number; signal?: AbortSignal },
  ): AsyncIterable<FollowedEvent<S, E>>;
  /**
   * Every committed event of these entity types (default: all this system serves), in feed order,
   * after `after` (exclusive; default: the start), then live. Keep an event's `position` to go on
   * from it later.
   */
  subscribe<D extends EntityDefinition>(options?: {
    entities?: readonly D[];
    after?: string;
    signal?: AbortSignal;
  }): AsyncIterable<SubscribedEvent<D extends EntityDefinition<string, infer _S, infer _M, infer E> ? E : never>>;
  /** The status and controls of a projection or reactor this system registered. */
  projection(definition: ProjectionOption | ReactorDefinition): ProjectionHandle;
  /** Runs a `sql` statement on the store's database (SQLite, PostgreSQL); rows as objects. */
  query<Row extends Record<string, unknown> = Record<string, unknown>>(statement: SqlStatement): Promise<Row[]>;
  /** Outbox rows given up on (effects past `maxAttempts`, rejected or undeliverable messages), oldest first. */
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Puts a dead letter back in the outbox for a fresh round of attempts. False if there is none with this id. */
  retryDeadLetter(id: string): Promise<boolean>;
  /** The outbox backlog and this process's delivery counters. */
  stats(): Promise<SystemStats>;
  /**
   * Resolves once this system has nothing left to do now: no call or delivery under way, no effect
   * running, no pruning of expired keys under way, and no outbox row due by its clock that it could
   * deliver. For tests: advance a test clock, then `await system.settled()`. Rejects with
   * `STORE_UNAVAILABLE` when the outbox cannot be read.
   */
  settled(): Promise<void>;
  /** The cluster this node is part of (the `cluster` option): members, owners. Empty without one. */
  readonly cluster: ClusterView;
  /**
   * Finishes accepted calls, deliveries under way and effects, then releases the store. In a
   * cluster, first hands this node's partitions to the others and leaves. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Wires definitions to a store.
 *
 * @example
 * const system = createSystem({ store: sqliteStore({ filename: 'app.db' }), entities: [Counter] });
 * const result = await system.call(Counter.ref(crypto.randomUUID()), { type: 'Increment' });
 */
export function createSystem(options: SystemOptions): System {
  return open(options, true);
}

/**
 * A system for an operator's tool (the CLI) on an application's options: it answers calls and reads
 * but does no background work (no outbox delivery, no projection or reactor runs) and joins no
 * cluster, so looking at a store changes nothing there. Not exported from the package.
 */
export function createToolSystem(options: SystemOptions): System {
  const { cluster: _cluster, ...rest } = options;
  return open(rest, false);
}

/**
 * A system whose ids and chance come from `environment` (see `Environment`): what a simulation
 * runs. Not exported from the package.
 */
export function createSystemIn(options: SystemOptions, environment: Environment): System {
  return open(options, true, environment);
}

function open(options: SystemOptions, background: boolean, environment?: Environment): System {
  const parts = wire(resolveOptions(options, environment));
  const system = new RunningSystem(parts, background);
  registerInspection(system, parts);
  return system;
}

/** Events behind that a projection's lag gauge counts up to (one read of the feed). */
const LAG_CAP = 10_000;

class RunningSystem implements System {
  #closing: Promise<void> | undefined;
  readonly #unobserve: () => void;

  readonly cluster: ClusterView;

  constructor(
    private readonly parts: Wiring,
    background: boolean,
  ) {
    parts.store.retain();
    if (background) {
      parts.deliverer.start();
      parts.readSide.start();
      parts.pruner.start();
    }
    const { store, config, workers, readSide } = parts;
    this.#unobserve = parts.telemetry.observe({
      outboxStats: () => store.outboxStats(config.clock.now()),
      now: () => config.clock.now(),
      activeEntities: () => workers.size,
      projections: () => readSide.names(),
      lag: (name) => readSide.lag(name, config.clock.now(), LAG_CAP),
    });
    this.cluster = parts.cluster ?? { members: () => [], ownerOf: () => undefined };
    parts.cluster?.start().catch((error) => {
      parts.config.logger.error('cluster: this node cannot listen for its peers; it runs every call itself', { error });
    });
  }

  async call<M, S, E, R>(
    ref: EntityRef<string, M, S, E, R>,
    message: NoInfer<M>,
    options?: CallOptions,
  ): Promise<CallResult<S, R>> {
    const definition = this.#resolve(ref);
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new ConfigurationError('call: options must be an object { idempotencyKey }');
    }
    const key = options?.idempotencyKey;
    if (key !== undefined) assertValidKey(key);
    // Checked here, before routing: an invalid message reaches no worker or peer; `handle` gets the output.
    const schema = definition.messageSchema;
    let checked: unknown = message;
    if (schema === undefined) assertJsonSafe(message, `The message to ${definition.type}`);
    else checked = (await checkMessage(definition.type, schema, message)).message;
    if (!this.parts.cluster) {
      const keyed = key === undefined ? undefined : { key };
      return this.parts.here(definition, ref.id, checked, undefined, undefined, keyed) as Promise<CallResult<S, R>>;
    }
    const call = { type: definition.type, id: ref.id, message: checked };
    return this.parts.route(key === undefined ? call : { ...call, idempotencyKey: key }) as Promise<CallResult<S, R>>;
  }

  async read<S>(
    ref: EntityRef<string, never, S>,
    options: { at?: number } = {},
  ): Promise<{ readonly state: S; readonly version: number }> {
    const definition = this.#resolve(ref);
    const { at } = options ?? {};
    if (at !== undefined) {
      if (!Number.isInteger(at) || at < 0) throw new ConfigurationError('read: at must be an integer >= 0');
      return (await this.parts.readAt(definition, ref.id, at)) as Loaded<S>;
    }
    const start = this.parts.workers.peek(definition.type, ref.id)?.loaded;
    return (await this.parts.load(definition, ref.id, start)) as Loaded<S>;
  }

  events<E>(
    ref: EntityRef<string, never, unknown, E>,
    options: { from?: number } = {},
  ): AsyncIterable<RecordedEvent<E>> {
    const { readPage } = this.parts;
    const resolve = () => this.#resolve(ref);
    return {
      async *[Symbol.asyncIterator]() {
        const definition = resolve();
        let next = options.from ?? 1;
        if (!Number.isInteger(next) || next < 1) throw new ConfigurationError('events: from must be an integer >= 1');
        for (;;) {
          const page = await readPage(ref.id, next);
          for (const stored of page) {
            yield {
              version: stored.version,
              event: eventOf(definition, stored, ref.id) as E,
              recordedAt: new Date(stored.recordedAt),
            };
            next = stored.version + 1;
          }
          if (page.length < PAGE_SIZE) return;
        }
      },
    };
  }

  follow<S, E>(
    ref: EntityRef<string, never, S, E>,
    options: { from?: number; signal?: AbortSignal } = {},
  ): AsyncIterable<FollowedEvent<S, E>> {
    const definition = this.#resolve(ref) as EntityDefinition<string, S>;
    const from = options.from ?? 1;
    if (!Number.isInteger(from) || from < 1) throw new ConfigurationError('follow: from must be an integer >= 1');
    const abort = eitherSignal(options.signal, this.parts.closing.signal);
    const feed = () => follow<S, E>(this.#feedDeps(), definition, ref.id, from, abort);
    return { [Symbol.asyncIterator]: () => feed()[Symbol.asyncIterator]() };
  }

  subscribe<D extends EntityDefinition>(
    options: { entities?: readonly D[]; after?: string; signal?: AbortSignal } = {},
  ): AsyncIterable<SubscribedEvent<D extends EntityDefinition<string, infer _S, infer _M, infer E> ? E : never>> {
    this.#open();
    const { entities, after = '' } = options;
    if (entities !== undefined && (!Array.isArray(entities) || !entities.every((e) => typeof e?.type === 'string'))) {
      throw new ConfigurationError('subscribe: entities must be a list of defineEntity(...)');
    }
    if (typeof after !== 'string') throw new ConfigurationError('subscribe: after must be a position (a string)');
    const definitions = entities ?? this.parts.config.registered.entities();
    const abort = eitherSignal(options.signal, this.parts.closing.signal);
    const feed = () => subscribe<never>(this.#feedDeps(), definitions, after, abort);
    return { [Symbol.asyncIterator]: () => feed()[Symbol.asyncIterator]() };
  }

  projection(definition: ProjectionOption | ReactorDefinition): ProjectionHandle {
    this.#open();
    return this.parts.readSide.handle(definition);
  }

  async query<Row extends Record<string, unknown> = Record<string, unknown>>(statement: SqlStatement): Promise<Row[]> {
    this.#open();
    if (!isSqlStatement(statement)) throw new ConfigurationError('query: expects a sql`...` statement');
    const { store } = this.parts;
    if (!store.hasSql) {
      throw new ConfigurationError(
        `query: the ${store.kind} store has no SQL. In tests, use sqliteStore({ filename: ':memory:' })`,
      );
    }
    return (await store.query(statement)) as Row[];
  }

  async deadLetters({ limit = 1000 }: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.#open();
    return (await this.parts.store.deadLetters(limit)).map(toDeadLetter);
  }

  async retryDeadLetter(id: string): Promise<boolean> {
    this.#open();
    if (typeof id !== 'string') throw new ConfigurationError('retryDeadLetter: id must be a string');
    const revived = await this.parts.store.retryDeadLetter(id, this.parts.config.clock.now());
    if (revived) this.parts.deliverer.kick();
    return revived;
  }

  async stats(): Promise<SystemStats> {
    this.#open();
    const { store, config, deliverer, workers } = this.parts;
    const outbox = await store.outboxStats(config.clock.now());
    const { delivered, retried, deadLettered } = deliverer.counters;
    const conflicts = this.parts.conflicts();
    const stats = { ...outbox, activeEntities: workers.size, delivered, retries: retried, deadLettered, conflicts };
    return this.parts.cluster ? { ...stats, cluster: this.parts.cluster.stats() } : stats;
  }

  async settled(): Promise<void> {
    this.#open();
    const { workers, effects, deliverer, snapshots } = this.parts;
    for (;;) {
      const before = this.parts.activity();
      await Promise.all(workers.all().map((worker) => worker.whenIdle()));
      await effects.drain();
      await deliverer.settle();
      await snapshots.drain();
      await this.parts.pruner.idle();
      if (this.parts.activity() === before) return;
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const { workers, deliverer, effects, snapshots, store, readSide, closing, cluster } = this.parts;
      closing.abort();
      this.#unobserve();
      // Peers stop forwarding here and take over this node's partitions; calls they already sent finish.
      await cluster?.drain();
      workers.stop();
      await Promise.all([deliverer.stop(), readSide.stop(), this.parts.pruner.stop()]);
      await Promise.all(workers.all().map((worker) => worker.whenIdle()));
      await cluster?.close();
      await Promise.all(workers.all().map((worker) => worker.whenIdle()));
      await effects.drain();
      await snapshots.drain();
      await store.release();
    })();
    return this.#closing;
  }

  /** The definition a ref names, checked; refuses once the system is closing. */
  #resolve(ref: EntityRef): EntityDefinition {
    this.#open();
    if (ref === null || typeof ref !== 'object') throw new InvalidIdError('A ref must be an object { type, id }');
    assertValidId(ref.id);
    return this.parts.config.registered.requireEntity(ref.type);
  }

  #open(): void {
    if (this.#closing) throw new SystemClosedError();
  }

  #feedDeps() {
    return { store: this.parts.store, signal: this.parts.commits };
  }
}
