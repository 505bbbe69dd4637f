/**
 * `pachyderm/store`: what a store author needs. The port (`Store` and its parts), every type
 * in its signatures, and the contract suite a new store must pass.
 *
 * @example
 * import { afterEach, describe, it } from 'vitest';
 * import { describeStoreContract, type Store } from 'pachyderm/store';
 * describeStoreContract('my store', () => ({ newStore: (): Store => myStore() }), { describe, it, afterEach });
 */
export { renderSql, type SqlStatement, type SqlValue } from '../core/sql.js';
export { describeStoreContract, type MakeStore, type StorePlace, type TestRunner } from './contract.js';
export { InlineProjectionError, isInlineProjectionError } from './inline-projection-error.js';
export type {
  AnswersRead,
  AppendHint,
  AppendHints,
  AppendResult,
  AppendWatch,
  Checkpoint,
  CheckpointLease,
  Checkpoints,
  CheckpointWrite,
  ClaimRequest,
  CommitRequest,
  EventLog,
  Feed,
  FeedEvent,
  FeedRead,
  HeartbeatRequest,
  IdempotencyWrite,
  KeyedAnswer,
  Lifecycle,
  LogRequest,
  LogStart,
  MemberBeat,
  MemberJoin,
  MemberRecord,
  Membership,
  MembershipView,
  Outbox,
  OutboxOutcome,
  OutboxRecord,
  OutboxSettlement,
  OutboxStats,
  OutboxWrite,
  PartitionClaim,
  PartitionHandOver,
  Pruned,
  PruneRequest,
  RecordedAnswer,
  Retention,
  SkippedEvent,
  Snapshots,
  SqlExecutor,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
  StreamRead,
  TimerKey,
  WrittenEvent,
} from './port/index.js';
export { partsOf, positionOf } from './positions.js';
