/**
 * The storage port: the one interface every store implements (memory, SQLite, PostgreSQL), in four
 * parts. Types only. A store is done when `describeStoreContract` (pachyderm/store) passes for it.
 * Every method may reject with an error from the driver; the runtime reports it as
 * `STORE_UNAVAILABLE`.
 */
import type { EventLog } from './event-log.js';
import type { Lifecycle } from './lifecycle.js';
import type { Outbox } from './outbox.js';
import type { Snapshots } from './snapshots.js';

export type {
  AppendResult,
  CommitRequest,
  EventLog,
  LogRequest,
  LogStart,
  StoredEvent,
  StreamAppend,
  StreamRead,
} from './event-log.js';
export type { Lifecycle } from './lifecycle.js';
export type {
  ClaimRequest,
  Outbox,
  OutboxOutcome,
  OutboxRecord,
  OutboxStats,
  OutboxWrite,
  TimerKey,
} from './outbox.js';
export type { Snapshots, StoredSnapshot } from './snapshots.js';

export interface Store extends EventLog, Snapshots, Outbox, Lifecycle {
  /** A short name for messages and logs: `memory`, `sqlite`, `postgres`. */
  readonly kind: string;
}
