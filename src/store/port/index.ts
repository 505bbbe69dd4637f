/**
 * The storage port: the one interface every store implements (memory, SQLite, PostgreSQL), in eight
 * parts, and an optional ninth for stores on a SQL database. Types only. A store is done when
 * `describeStoreContract` (pachyderm/store) passes for it.
 * Every method may reject with an error from the driver; the runtime reports it as
 * `STORE_UNAVAILABLE`.
 */
import type { Checkpoints, SqlExecutor } from './checkpoints.js';
import type { EventLog } from './event-log.js';
import type { Feed } from './feed.js';
import type { Lifecycle } from './lifecycle.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';
import type { Retention } from './retention.js';
import type { Snapshots } from './snapshots.js';

export type {
  Checkpoint,
  CheckpointLease,
  Checkpoints,
  CheckpointWrite,
  SkippedEvent,
  SqlExecutor,
} from './checkpoints.js';
export type {
  AppendHint,
  AppendHints,
  AppendResult,
  AppendWatch,
  CommitRequest,
  EventLog,
  LogRequest,
  LogStart,
  StoredEvent,
  StreamAppend,
  StreamRead,
  WrittenEvent,
} from './event-log.js';
export type { Feed, FeedEvent, FeedRead } from './feed.js';
export type { Lifecycle } from './lifecycle.js';
export type {
  HeartbeatRequest,
  MemberBeat,
  MemberJoin,
  MemberRecord,
  Membership,
  MembershipView,
  PartitionClaim,
  PartitionHandOver,
} from './membership.js';
export type {
  ClaimRequest,
  Outbox,
  OutboxOutcome,
  OutboxRecord,
  OutboxSettlement,
  OutboxStats,
  OutboxWrite,
  TimerKey,
} from './outbox.js';
export type {
  AnswersRead,
  IdempotencyWrite,
  KeyedAnswer,
  Pruned,
  PruneRequest,
  RecordedAnswer,
  Retention,
} from './retention.js';
export type { Snapshots, StoredSnapshot } from './snapshots.js';

export interface Store extends EventLog, Feed, Snapshots, Outbox, Checkpoints, Membership, Retention, Lifecycle {
  /** A short name for messages and logs: `memory`, `sqlite`, `postgres`. */
  readonly kind: string;
  /** Present on a store on a SQL database: SQL projections (inline or async) and `system.query` need it. */
  readonly sql?: SqlExecutor;
  /**
   * How many commits (and grouped reads) the runtime may have in flight at once, each on its own
   * connection. Default 1: one group commit at a time. The runtime never has two appends of one log
   * in flight, whatever this says.
   */
  readonly inFlight?: number;
}
