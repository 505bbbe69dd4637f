import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { type ClusterOptions, resolveClusterOptions } from '../cluster/options.js';
import type { AppContext, EffectDefinition, Register } from '../define/effect.js';
import type { EntityDefinition } from '../define/entity.js';
import type { InlineProjection, ProjectionDefinition, ReactorDefinition } from '../define/projection.js';
import { ConfigurationError, type EffectFailedError, type FailedEffect } from '../errors.js';
import { defaultLogger, type Logger } from '../logger.js';
import { type RetryPolicy, retryPolicy } from '../outbox/retry-policy.js';
import type { Store } from '../store/port/index.js';
import { Registered } from './registrations.js';
import { type RetentionOptions, resolveRetention } from './retention.js';

/**
 * The `context` option: required, of the declared type, once `Register` declares a context;
 * otherwise optional.
 */
type ContextOption = Register extends { context: infer C }
  ? {
      /** Handed to every effect as `ctx.context`: the type `Register['context']` declares. */
      readonly context: C;
    }
  : {
      /** Handed to every effect as `ctx.context`. */
      readonly context?: unknown;
    };

export interface SystemOptions extends ContextOption {
  /** Where event logs live: `memoryStore()`, `sqliteStore(...)` or `postgresStore(...)`. */
  readonly store: Store;
  /** The entity types this system serves. */
  readonly entities: readonly EntityDefinition[];
  /** The effects this system can run. */
  readonly effects?: readonly EffectDefinition[];
  /**
   * Projections into the application's tables (a SQL store is needed): async ones run in the
   * background, `inline(P)` ones commit with the events.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any projection's event type is accepted here
  readonly projections?: readonly (ProjectionDefinition<any> | InlineProjection<any>)[];
  /** Reactors: handlers for the outside world, at least once per event, in the background. */
  // biome-ignore lint/suspicious/noExplicitAny: any reactor's event type is accepted here
  readonly reactors?: readonly ReactorDefinition<any>[];
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
  /** Outbox rows leased per round (a round delivers them together and settles them in one transaction). Default 256. */
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
  /**
   * Run as a node of a cluster on this store: one owner per entity, calls forwarded to it over
   * HTTP. Without it, every call runs in this process (still correct with other processes).
   */
  readonly cluster?: ClusterOptions;
  /**
   * How long the log remembers the answers of idempotent calls (24 hours) and the ids of the
   * messages it handled (30 days); older ones are pruned in the background.
   *
   * @example
   * retention: { idempotencyKeysMs: 7 * 24 * 3600_000, handledMessageIdsMs: 30 * 24 * 3600_000 }
   */
  readonly retention?: RetentionOptions;
}

/**
 * Where a system's ids and chance come from, besides its clock. Not an option: the real ones in
 * production; a simulation (pachyderm/testing `simulate`) gives its own (owners named after its
 * processes, a fixed jitter, pauses that take no time), so that a run depends on its schedule alone.
 */
export interface Environment {
  /** Names this process's outbox and checkpoint leases. */
  readonly owner: string;
  /** A number in [0, 1): the jitter of retries and of conflict backoff. */
  random(): number;
  /** Waits between two attempts of a call that lost a conflict. */
  pause(ms: number): Promise<void>;
}

/** The real environment: a random owner, `Math.random`, real timers for the short conflict pauses. */
export function realEnvironment(): Environment {
  return {
    owner: randomUUID(),
    random: Math.random,
    pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** The options with defaults filled in and checked. */
export type Config = ReturnType<typeof resolveOptions>;

export function resolveOptions(options: SystemOptions, environment: Environment = realEnvironment()) {
  const store = options?.store;
  if (!store || typeof store.commit !== 'function') throw new ConfigurationError('createSystem: store is required');
  return {
    store,
    registered: new Registered(options.entities ?? [], options.effects ?? []),
    projections: (options.projections ?? []) as readonly (ProjectionDefinition | InlineProjection)[],
    reactors: (options.reactors ?? []) as readonly ReactorDefinition[],
    context: (options as { context?: unknown }).context as AppContext,
    idleTimeoutMs: positive(options.idleTimeoutMs ?? 60_000, 'idleTimeoutMs'),
    maxActive: positive(options.maxActive ?? 100_000, 'maxActive'),
    snapshotEvery: nonNegativeInteger(options.snapshotEvery ?? 100, 'snapshotEvery'),
    maxConflictRetries: nonNegativeInteger(options.maxConflictRetries ?? 50, 'maxConflictRetries'),
    onEffectError: options.onEffectError,
    leaseMs: positive(options.leaseMs ?? 10_000, 'leaseMs'),
    pollIntervalMs: positive(options.pollIntervalMs ?? 1_000, 'pollIntervalMs'),
    outboxBatchSize: positive(nonNegativeInteger(options.outboxBatchSize ?? 256, 'outboxBatchSize'), 'outboxBatchSize'),
    messageRetry: retryPolicy(options.messageRetry, 'createSystem messageRetry'),
    maxBatch: positive(nonNegativeInteger(options.maxBatch ?? 256, 'maxBatch'), 'maxBatch'),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? defaultLogger,
    cluster: options.cluster === undefined ? undefined : resolveClusterOptions(options.cluster),
    retention: resolveRetention(options.retention),
    environment,
  };
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
