import { type Clock, systemClock } from './clock.js';
import type { EntityDefinition } from './definition.js';
import { type AppContext, type EffectDefinition, type RetryPolicy, retryPolicy } from './effect.js';
import { ConfigurationError, type EffectFailedError, type FailedEffect } from './errors.js';
import { defaultLogger, type Logger } from './logger.js';
import type { Store } from './store/port.js';

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
   * Called when an at-most-once effect throws or rejects. The call that asked for it has already
   * succeeded. The error carries the effect's name, payload, ref, version and idempotency key.
   */
  readonly onEffectError?: (error: EffectFailedError, effect: FailedEffect) => void;
  /**
   * How long a process holds an outbox row it delivers. A process that dies holding one loses it
   * after this, and another delivers the row. Default 10 000.
   */
  readonly leaseMs?: number;
  /** How often the outbox is checked for rows other processes wrote, and for timers. Default 1 000. */
  readonly pollIntervalMs?: number;
  /** Outbox rows leased per round. Default 64. */
  readonly outboxBatchSize?: number;
  /** Retries of messages to entities (`send`, timers) that fail. Defaults as for effects. */
  readonly messageRetry?: Partial<RetryPolicy>;
  /**
   * At most this many waiting messages of one entity are decided together and committed in one
   * append, and at most this many appends go into one group commit. Default 256. `1` turns
   * batching off.
   */
  readonly maxBatch?: number;
  /** The time source. Default: the real clock. */
  readonly clock?: Clock;
  /** Structured logs. Default: warnings and errors to stderr as JSON lines. */
  readonly logger?: Logger;
}

/** The options with defaults filled in and checked. */
export function resolveOptions(options: SystemOptions) {
  const store = options?.store;
  if (!store || typeof store.commit !== 'function') throw new ConfigurationError('createSystem: store is required');
  return {
    store,
    entities: indexBy(options.entities ?? [], 'entity', (d) => d.type),
    effects: indexBy(options.effects ?? [], 'effect', (d) => d.name),
    context: options.context as AppContext,
    idleTimeoutMs: positive(options.idleTimeoutMs ?? 60_000, 'idleTimeoutMs'),
    maxActive: positive(options.maxActive ?? 100_000, 'maxActive'),
    snapshotEvery: nonNegativeInteger(options.snapshotEvery ?? 100, 'snapshotEvery'),
    maxConflictRetries: nonNegativeInteger(options.maxConflictRetries ?? 50, 'maxConflictRetries'),
    onEffectError: options.onEffectError,
    leaseMs: positive(options.leaseMs ?? 10_000, 'leaseMs'),
    pollIntervalMs: positive(options.pollIntervalMs ?? 1_000, 'pollIntervalMs'),
    outboxBatchSize: positive(nonNegativeInteger(options.outboxBatchSize ?? 64, 'outboxBatchSize'), 'outboxBatchSize'),
    messageRetry: retryPolicy(options.messageRetry, 'createSystem messageRetry'),
    maxBatch: positive(nonNegativeInteger(options.maxBatch ?? 256, 'maxBatch'), 'maxBatch'),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? defaultLogger,
  };
}

function indexBy<T>(items: readonly T[], what: string, name: (item: T) => string): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) {
    if (!item || typeof item !== 'object') {
      throw new ConfigurationError(`createSystem: every ${what} must be a definition`);
    }
    const key = name(item);
    if (map.has(key)) {
      throw new ConfigurationError(`createSystem: two ${what} definitions are named ${JSON.stringify(key)}`);
    }
    map.set(key, item);
  }
  return map;
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0)) {
    throw new ConfigurationError(`createSystem: ${name} must be a positive number`);
  }
  return value;
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigurationError(`createSystem: ${name} must be an integer >= 0`);
  }
  return value;
}
