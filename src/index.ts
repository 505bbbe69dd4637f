/**
 * Pachyderm: durable, globally unique entities. Define pure `handle` and `update` functions;
 * the system commits their events with an expected version, then runs their effects.
 *
 * Stores live in subpaths so you install only the driver you use:
 * `pachyderm/sqlite` (better-sqlite3), `pachyderm/postgres` (pg). `memoryStore` is here.
 * `pachyderm/store` is for store authors; `pachyderm/testing` for tests.
 */

export type { CancelTimer, Clock } from './clock.js';
export { systemClock } from './clock.js';
export { MAX_ID_BYTES } from './core/id.js';
export type { SqlStatement, SqlValue } from './core/sql.js';
export { isSqlStatement, sql } from './core/sql.js';
export type {
  AppContext,
  EffectContext,
  EffectDefinition,
  EffectHandler,
  EffectOptions,
  Register,
} from './define/effect.js';
export { defineEffect } from './define/effect.js';
export type {
  Accepted,
  Decision,
  EffectCall,
  EntityConfig,
  EntityDefinition,
  EntityRef,
  EntityRefs,
  EntitySelf,
  EventOf,
  EventsOf,
  MessageOf,
  ReasonsOf,
  Rejected,
  StateOf,
} from './define/entity.js';
export { defineEntity, error, ok, refsOf } from './define/entity.js';
export type { CancelTimerRequest, SendRequest } from './define/messaging.js';
export { cancelTimer, send, sendAfter, sendAt } from './define/messaging.js';
export type {
  EventMeta,
  EventOfAny,
  InlineProjection,
  OnError,
  ProjectionConfig,
  ProjectionDefinition,
  ReactorConfig,
  ReactorContext,
  ReactorDefinition,
} from './define/projection.js';
export { defineProjection, defineReactor, inline } from './define/projection.js';
export {
  ConfigurationError,
  ConflictRetriesExhaustedError,
  EffectFailedError,
  EntityCodeError,
  ErrorCode,
  type FailedEffect,
  InvalidIdError,
  InvalidMessageError,
  InvariantBrokenError,
  isPachydermError,
  type MessageIssue,
  NotRegisteredError,
  OwnerUnreachableError,
  PachydermError,
  ProjectionFailedError,
  SerializationError,
  SqlFailedError,
  StoreUnavailableError,
  SystemClosedError,
  UpcastError,
} from './errors.js';
export type { Logger } from './logger.js';
export { defaultLogger, silentLogger } from './logger.js';
export type { RetryPolicy } from './outbox/retry-policy.js';
export type {
  CallOptions,
  ClusterMember,
  ClusterOptions,
  ClusterStats,
  ClusterView,
  DeadLetter,
  FollowedEvent,
  ProjectionHandle,
  ReadSideStatus,
  RecordedEvent,
  RetentionOptions,
  SubscribedEvent,
  System,
  SystemOptions,
  SystemStats,
} from './runtime/system.js';
export { createSystem } from './runtime/system.js';
export type { CallResult } from './runtime/worker.js';
export { memoryStore } from './store/memory.js';
// The storage port's types stay here for code written against earlier releases; store authors
// import them (and the contract suite) from `pachyderm/store`.
export type {
  AppendResult,
  CommitRequest,
  OutboxOutcome,
  OutboxRecord,
  OutboxStats,
  OutboxWrite,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
  TimerKey,
} from './store/port/index.js';
