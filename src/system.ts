import { randomUUID } from 'node:crypto';
import { Batcher } from './batcher.js';
import { type DeadLetter, toDeadLetter } from './dead-letter.js';
import { decodeFrozen, type Registry } from './decide.js';
import type { EntityDefinition, EntityRef } from './definition.js';
import { EffectDispatcher } from './effect-dispatcher.js';
import {
  ConfigurationError,
  describe,
  ErrorCode,
  InvalidIdError,
  isPachydermError,
  NotRegisteredError,
  StoreUnavailableError,
  SystemClosedError,
} from './errors.js';
import { assertValidId } from './id.js';
import { assertJsonSafe } from './json.js';
import { activate, catchUp, type Loaded, PAGE_SIZE } from './load-state.js';
import { OutboxDeliverer } from './outbox-deliverer.js';
import { SnapshotWriter } from './snapshot-writer.js';
import type {
  AppendResult,
  LogRequest,
  LogStart,
  OutboxStats,
  StoredEvent,
  StreamAppend,
  StreamRead,
} from './store/port.js';
import { resolveOptions, type SystemOptions } from './system-options.js';
import { type CallResult, EntityWorker, type WorkerRuntime } from './worker.js';
import { WorkerRegistry } from './worker-registry.js';

export type { DeadLetter } from './dead-letter.js';
export type { SystemOptions } from './system-options.js';

/** One recorded event of a log. */
export interface RecordedEvent<E> {
  readonly version: number;
  readonly event: E;
  readonly recordedAt: Date;
}

/** What an operator watches: the outbox backlog (shared by every process on the store) and this process. */
export interface SystemStats extends OutboxStats {
  /** Entities loaded in this process. */
  readonly activeEntities: number;
  /** Outbox rows this process delivered, scheduled for a retry, or gave up on, since it started. */
  readonly delivered: number;
  readonly retries: number;
  readonly deadLettered: number;
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
  /** Outbox rows given up on (effects past `maxAttempts`, rejected or undeliverable messages), oldest first. */
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Puts a dead letter back in the outbox for a fresh round of attempts. False if there is none with this id. */
  retryDeadLetter(id: string): Promise<boolean>;
  /** The outbox backlog and this process's delivery counters. */
  stats(): Promise<SystemStats>;
  /**
   * Resolves once this system has nothing left to do now: no call or delivery under way, no effect
   * running, and no outbox row due by its clock that it could deliver. For tests: advance a test
   * clock, then `await system.settled()`. Rejects with `STORE_UNAVAILABLE` when the outbox cannot
   * be read.
   */
  settled(): Promise<void>;
  /** Finishes accepted calls, deliveries under way and effects, then releases the store. Idempotent. */
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
  const config = resolveOptions(options);
  const { store, entities, effects, clock, logger } = config;
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

  // Group commit: appends of many entities in one transaction (one per log), and activations of
  // many entities in one read.
  const committer = new Batcher<StreamAppend, AppendResult>(
    (appends) => storeCall(() => store.commit({ appends, recordedAt: clock.now() })),
    config.maxBatch,
    (append) => append.streamId,
  );
  const opener = new Batcher<LogRequest, LogStart>(
    (requests) => storeCall(() => store.readLogs(requests, PAGE_SIZE)),
    config.maxBatch,
  );
  // Catch-ups of loaded entities (and confirmations that they hold the latest state), in one read.
  const reader = new Batcher<StreamRead, readonly StoredEvent[]>(
    (requests) => storeCall(() => store.readStreams(requests, PAGE_SIZE)),
    config.maxBatch,
  );
  const readPage = (streamId: string, fromVersion: number) => reader.submit({ streamId, fromVersion });
  const dispatcher = new EffectDispatcher(effects, config.context, logger, config.onEffectError);
  const snapshots = new SnapshotWriter(store, config.snapshotEvery, logger, storeCall);
  const registry: Registry = { effect: (name) => effects.get(name), hasEntity: (type) => entities.has(type) };
  const runtime: WorkerRuntime = {
    registry,
    maxConflictRetries: config.maxConflictRetries,
    now: () => clock.now(),
    async load(definition, id, start) {
      if (start) return catchUp(definition, id, start, readPage);
      const request = { streamId: id, entityType: definition.type, schemaVersion: definition.snapshotVersion };
      return activate(definition, id, await opener.submit(request), readPage);
    },
    append: (append) => committer.submit(append),
    maxBatch: config.maxBatch,
    backoff: conflictBackoff,
    committed(worker, planned, previousVersion, committed) {
      commits++;
      dispatcher.dispatch(worker, planned.runs);
      if (planned.outbox.length > 0) deliverer.kick();
      snapshots.committed(worker.ref, entities.get(worker.ref.type) as EntityDefinition, previousVersion, committed);
    },
  };
  const workers = new WorkerRegistry(
    clock,
    config.idleTimeoutMs,
    config.maxActive,
    (definition, id) => new EntityWorker(definition, id, runtime),
  );
  const deliverer = new OutboxDeliverer({
    store,
    clock,
    logger,
    owner: randomUUID(),
    leaseMs: config.leaseMs,
    pollIntervalMs: config.pollIntervalMs,
    batchSize: config.outboxBatchSize,
    effects,
    context: config.context,
    messageRetry: config.messageRetry,
    storeCall,
    deliver(type, id, message, messageId) {
      const definition = entities.get(type);
      if (!definition) return undefined;
      assertValidId(id);
      return workers.get(definition, id).call(message, messageId);
    },
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

  /** Changes with every commit and every delivered row: `settled` waits until it stands still. */
  let commits = 0;
  function activity(): number {
    const { delivered, retried, deadLettered } = deliverer.counters;
    return commits + delivered + retried + deadLettered;
  }

  function open(): void {
    if (closing) throw new SystemClosedError();
  }

  store.retain();
  deliverer.start();

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
          open();
          assertValidId(ref?.id);
          let next = options.from ?? 1;
          if (!Number.isInteger(next) || next < 1) throw new ConfigurationError('events: from must be an integer >= 1');
          for (;;) {
            const page = await readPage(ref.id, next);
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

    async deadLetters({ limit = 1000 } = {}) {
      open();
      return (await storeCall(() => store.deadLetters(limit))).map(toDeadLetter);
    },

    async retryDeadLetter(id) {
      open();
      if (typeof id !== 'string') throw new ConfigurationError('retryDeadLetter: id must be a string');
      const revived = await storeCall(() => store.retryDeadLetter(id, clock.now()));
      if (revived) deliverer.kick();
      return revived;
    },

    async stats() {
      open();
      const outbox = await storeCall(() => store.outboxStats(clock.now()));
      const { delivered, retried, deadLettered } = deliverer.counters;
      return { ...outbox, activeEntities: workers.size, delivered, retries: retried, deadLettered };
    },

    async settled() {
      open();
      for (;;) {
        const before = activity();
        await Promise.all(workers.all().map((worker) => worker.whenIdle()));
        await dispatcher.drain();
        await deliverer.settle();
        await snapshots.drain();
        if (activity() === before) return;
      }
    },

    close() {
      closing ??= (async () => {
        workers.stop();
        await deliverer.stop();
        await Promise.all(workers.all().map((worker) => worker.whenIdle()));
        await dispatcher.drain();
        await snapshots.drain();
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
