/**
 * Pachyderm: durable, globally unique entities. Define pure `handle` and `update` functions;
 * the system commits their events with an expected version, then runs their effects.
 *
 * Stores live in subpaths so you install only the driver you use:
 * `pachyderm/sqlite` (better-sqlite3), `pachyderm/postgres` (pg). `memoryStore` is here.
 */

export type { CancelTimer, Clock } from './clock.js';
export { systemClock } from './clock.js';
export type {
  Accepted,
  Decision,
  EffectCall,
  EntityConfig,
  EntityDefinition,
  EntityRef,
  EntitySelf,
  EventOf,
  EventsOf,
  MessageOf,
  ReasonsOf,
  Rejected,
  StateOf,
} from './definition.js';
export { defineEntity, error, ok } from './definition.js';
export type {
  AppContext,
  EffectContext,
  EffectDefinition,
  EffectHandler,
  EffectOptions,
  Register,
  RetryPolicy,
} from './effect.js';
export { defineEffect } from './effect.js';
export {
  ConfigurationError,
  ConflictRetriesExhaustedError,
  EffectFailedError,
  EntityCodeError,
  ErrorCode,
  type FailedEffect,
  InvalidIdError,
  isPachydermError,
  NotRegisteredError,
  PachydermError,
  SerializationError,
  StoreUnavailableError,
  SystemClosedError,
} from './errors.js';
export { MAX_ID_BYTES } from './id.js';
export type { Logger } from './logger.js';
export { defaultLogger, silentLogger } from './logger.js';
export type { CancelTimerRequest, SendRequest } from './messaging.js';
export { cancelTimer, send, sendAfter, sendAt } from './messaging.js';
export { memoryStore } from './store/memory.js';
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
} from './store/port.js';
export type { DeadLetter, RecordedEvent, System, SystemOptions, SystemStats } from './system.js';
export { createSystem } from './system.js';
export type { CallResult } from './worker.js';
