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
  AppContext,
  Decision,
  EffectCall,
  EffectContext,
  EffectDefinition,
  EffectHandler,
  EntityConfig,
  EntityDefinition,
  EntityRef,
  EventOf,
  EventsOf,
  MessageOf,
  ReasonsOf,
  Register,
  Rejected,
  StateOf,
} from './definition.js';
export { defineEffect, defineEntity, error, ok } from './definition.js';
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
export { memoryStore } from './store/memory.js';
export type {
  AppendResult,
  CommitRequest,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
} from './store/port.js';
export type { RecordedEvent, System, SystemOptions } from './system.js';
export { createSystem } from './system.js';
export type { CallResult } from './worker.js';
