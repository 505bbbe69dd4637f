import { type Clock, systemClock } from './clock.js';
import { decodeFrozen } from './decide.js';
import type { AppContext, EffectDefinition, EntityDefinition, EntityRef } from './definition.js';
import { EffectDispatcher } from './effect-dispatcher.js';
import {
  ConfigurationError,
  describe,
  type EffectFailedError,
  ErrorCode,
  type FailedEffect,
  InvalidIdError,
  isPachydermError,
  NotRegisteredError,
  StoreUnavailableError,
  SystemClosedError,
} from './errors.js';
import { assertValidId } from './id.js';
import { assertJsonSafe, encodeJsonExact } from './json.js';
import { type Loaded, loadState, PAGE_SIZE } from './load-state.js';
import { defaultLogger, type Logger } from './logger.js';
import type { Store } from './store/port.js';
import { type CallResult, EntityWorker, type WorkerRuntime } from './worker.js';
import { WorkerRegistry } from './worker-registry.js';

export interface SystemOptions {
  /** Where event logs live: `memoryStore()`, `sqliteStore(...)` or `postgresStore(...)`. */
  readonly store: Store;
  /** The entity types this system serves. */
  readonly entities: readonly EntityDefinition[];
  /** The effects this system can run. */
  readonly effects?: readonly EffectDefinition[];
  /** Handed to every effect as `ctx.context`. */
  readonly context?: AppContext;
  /** An entity idle this long is unloaded (its state stays in the store). Default 60 000. */
  readonly idleTimeoutMs?: number;
  /** At most this many loaded entities; the least recently used idle ones are unloaded first. Default 100 000. */
  readonly maxActive?: number;
  /** Write a snapshot every this many events (0: never). Default 100. */
  readonly snapshotEvery?: number;
  /**
   * How often a call decides again after losing a conflict before it fails. Default 50. After the
   * first retry each waits a random time up to `min(100 ms, 2^attempt ms)`, so that two workers
   * that keep colliding drift apart.
   */
  readonly maxConflictRetries?: number;
  /**
   * Called when an effect throws or rejects. The call that asked for it has already succeeded.
   * The error carries the effect's name, payload, ref, version and idempotency key.
   */
  readonly onEffectError?: (error: EffectFailedError, effect: FailedEffect) => void;
  /** The time source. Default: the real clock. */
  readonly clock?: Clock;
  /** Structured logs. Default: warnings and errors to stderr as JSON lines. */
  readonly logger?: Logger;
}

/** One recorded event of a log. */
export interface RecordedEvent<E> {
  readonly version: number;
  readonly event: E;
  readonly recordedAt: Date;
}

/** A running system: routes calls to entity workers and commits their events. */
export interface System {
  /**
   * Sends a message to an entity and answers once its events are durably committed:
   * `{ ok: true, state, version }`, or `{ ok: false, error }` when `handle` rejected it (nothing
   * committed). Faults reject with a `PachydermError`.
   */
  call<M, S, E, R>(ref: EntityRef<string, M, S, E, R>, message: NoInfer<M>): Promise<CallResult<S, R>>;
  /** The latest committed state in the store, including events other processes appended. */
  read<S>(ref: EntityRef<string, never, S>): Promise<{ readonly state: S; readonly version: number }>;
  /** The entity's log from version `from` (inclusive, default 1). */
  events<E>(ref: EntityRef<string, never, unknown, E>, options?: { from?: number }): AsyncIterable<RecordedEvent<E>>;
  /** Finishes accepted calls and their effects, then releases the store. Idempotent. */
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
  const store = options.store;
  if (!store || typeof store.commit !== 'function') throw new ConfigurationError('createSystem: store is required');
  const entities = indexBy(options.entities ?? [], 'entity', (d) => d.type);
  const effects = indexBy(options.effects ?? [], 'effect', (d) => d.name);
  const idleTimeoutMs = positive(options.idleTimeoutMs ?? 60_000, 'idleTimeoutMs');
  const maxActive = positive(options.maxActive ?? 100_000, 'maxActive');
  const snapshotEvery = nonNegativeInteger(options.snapshotEvery ?? 100, 'snapshotEvery');
  const maxConflictRetries = nonNegativeInteger(options.maxConflictRetries ?? 50, 'maxConflictRetries');
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger;

  const dispatcher = new EffectDispatcher(effects, options.context as AppContext, logger, options.onEffectError);
  const background = new Set<Promise<void>>();
  const unsnapshottable = new Set<string>();
  let closing: Promise<void> | undefined;

  /** Runs a store operation, reporting driver failures as `StoreUnavailableError`. */
  async function storeCall<T>(operation: () => Promise<T>): Promise<T> {
    try {
      await store.open();
      return await operation();
    } catch (error) {
      if (isPachydermError(error)) throw error;
      throw new StoreUnavailableError(`The ${store.kind} store failed: ${describe(error)}`, error);
    }
  }

  function writeSnapshot(ref: EntityRef, definition: EntityDefinition, committed: Loaded<unknown>): void {
    if (unsnapshottable.has(definition.type)) return;
    let state: string;
    try {
      state = encodeJsonExact(committed.state, `The state of ${definition.type}`);
    } catch (error) {
      unsnapshottable.add(definition.type);
      logger.warn('state cannot be snapshotted; entities of this type replay their whole log', {
        entityType: definition.type,
        error,
      });
      return;
    }
    const snapshot = { schemaVersion: definition.snapshotVersion, version: committed.version, state };
    const writing = storeCall(() => store.writeSnapshot(ref.id, definition.type, snapshot))
      .catch((error) => logger.warn('snapshot not written', { entityType: ref.type, entityId: ref.id, error }))
      .finally(() => background.delete(writing));
    background.add(writing);
  }

  const runtime: WorkerRuntime = {
    knownEffects: new Set(effects.keys()),
    maxConflictRetries,
    now: () => clock.now(),
    load: (definition, id, start) => storeCall(() => loadState(store, definition, id, start)),
    commit: (request) => storeCall(() => store.commit(request)),
    backoff: conflictBackoff,
    committed(worker, planned, previousVersion, committed) {
      dispatcher.dispatch(worker, planned, committed.version);
      if (
        snapshotEvery > 0 &&
        Math.floor(committed.version / snapshotEvery) > Math.floor(previousVersion / snapshotEvery)
      ) {
        writeSnapshot(worker.ref, entities.get(worker.ref.type) as EntityDefinition, committed);
      }
    },
  };
  const workers = new WorkerRegistry(clock, idleTimeoutMs, maxActive, (definition, id) => {
    return new EntityWorker(definition, id, runtime);
  });

  function resolve(ref: EntityRef): EntityDefinition {
    if (closing) throw new SystemClosedError();
    if (ref === null || typeof ref !== 'object') throw new InvalidIdError('A ref must be an object { type, id }');
    assertValidId(ref.id);
    const definition = entities.get(ref.type);
    if (!definition) {
      throw new NotRegisteredError(
        ErrorCode.UnknownEntityType,
        `Entity type ${JSON.stringify(ref.type)} is not registered with the system: add it to createSystem({ entities })`,
      );
    }
    return definition;
  }

  store.retain();

  return {
    async call(ref, message) {
      const definition = resolve(ref as EntityRef);
      assertJsonSafe(message, `The message to ${definition.type}`);
      return workers.get(definition, ref.id).call(message) as Promise<CallResult<never, never>>;
    },

    async read(ref) {
      const definition = resolve(ref as EntityRef);
      const start = workers.peek(definition.type, ref.id)?.loaded;
      return (await runtime.load(definition, ref.id, start)) as Loaded<never>;
    },

    events<E>(ref: EntityRef<string, never, unknown, E>, options: { from?: number } = {}) {
      return {
        async *[Symbol.asyncIterator]() {
          if (closing) throw new SystemClosedError();
          assertValidId(ref?.id);
          let next = options.from ?? 1;
          if (!Number.isInteger(next) || next < 1) throw new ConfigurationError('events: from must be an integer >= 1');
          for (;;) {
            const page = await storeCall(() => store.readStream(ref.id, next, PAGE_SIZE));
            for (const stored of page) {
              yield {
                version: stored.version,
                event: decodeFrozen<E>(stored.data),
                recordedAt: new Date(stored.recordedAt),
              };
              next = stored.version + 1;
            }
            if (page.length < PAGE_SIZE) return;
          }
        },
      };
    },

    close() {
      closing ??= (async () => {
        workers.stop();
        await Promise.all(workers.all().map((worker) => worker.whenIdle()));
        await dispatcher.drain();
        while (background.size > 0) await Promise.all(background);
        await store.release();
      })();
      return closing;
    },
  };
}

/**
 * Exponential backoff with full jitter between conflicting appends. It uses real timers, not the
 * injected clock: it spreads out colliding writers by a few milliseconds and schedules nothing.
 */
function conflictBackoff(attempt: number): Promise<void> {
  if (attempt === 0) return Promise.resolve();
  const ms = Math.random() * Math.min(100, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function indexBy<T>(items: readonly T[], what: string, name: (item: T) => string): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) {
    if (!item || typeof item !== 'object')
      throw new ConfigurationError(`createSystem: every ${what} must be a definition`);
    const key = name(item);
    if (map.has(key))
      throw new ConfigurationError(`createSystem: two ${what} definitions are named ${JSON.stringify(key)}`);
    map.set(key, item);
  }
  return map;
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0))
    throw new ConfigurationError(`createSystem: ${name} must be a positive number`);
  return value;
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new ConfigurationError(`createSystem: ${name} must be an integer >= 0`);
  return value;
}
