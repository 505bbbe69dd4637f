/**
 * The event log part of the storage port: appends checked against an expected version, and reads.
 * Values cross the port as JSON text: the runtime encodes each event once and decodes what it reads,
 * so every store returns exactly what was written. Times are whole milliseconds since the epoch.
 */
import type { SqlStatement } from '../../core/sql.js';
import type { OutboxWrite, TimerKey } from './outbox.js';
import type { IdempotencyWrite } from './retention.js';
import type { StoredSnapshot } from './snapshots.js';

/** One entity's part of a commit: its new events, checked against the version the writer saw. */
export interface StreamAppend {
  /** The entity id: the id alone names the log. */
  readonly streamId: string;
  /** The log's version the decision was made on; the append is refused unless it still is. */
  readonly expectedVersion: number;
  /**
   * The events, as JSON text, to be stored at versions `expectedVersion + 1 ...`. At least one,
   * unless the append only records `idempotency` answers (keyed calls that recorded no events): the
   * version check applies all the same.
   */
  readonly events: readonly string[];
  /** The `eventVersion` of the definition that decided: stored with each of the events. */
  readonly eventVersion: number;
  /** The entity type that decided: recorded on outbox rows, so effects know their `ref`. */
  readonly entityType: string;
  /** Outbox rows (at-least-once effects, messages, timers) that commit with these events or not at all. */
  readonly outbox?: readonly OutboxWrite[];
  /**
   * Pending timers to delete in the same transaction, before `outbox` is inserted. Which timer
   * stands is decided above the store: a store deletes these and inserts every row it is given.
   */
  readonly cancelTimers?: readonly TimerKey[];
  /**
   * The ids of the delivered messages these events handle (a mailbox batch may handle several).
   * Recorded in the same transaction; an append whose log already recorded any of them is refused
   * as a duplicate, naming those ids in the append's order, so a message is handled once.
   */
  readonly messageIds?: readonly string[];
  /**
   * The answers of the idempotent calls these events (or this append alone) answer, recorded in the
   * same transaction under their keys, each with the position this append answers. An append whose
   * log holds an answer under any of the keys, recorded at or after `since`, is refused as a
   * duplicate naming those keys, in the append's order.
   */
  readonly idempotency?: IdempotencyWrite;
}

/** Where an event just written landed: what an inline projection's statements are made from. */
export interface WrittenEvent {
  readonly version: number;
  readonly position: string;
}

/** A batch of appends for many entities, committed in one transaction. */
export interface CommitRequest {
  readonly appends: readonly StreamAppend[];
  /** Recorded on every event of the batch, from the system's clock. */
  readonly recordedAt: number;
  /**
   * Inline projections, when the system has any: called inside the transaction once per append
   * written (with `index` into `appends`), after its events; the store runs the statements it
   * returns in the same transaction. When it throws or a statement fails, the store rolls the whole
   * transaction back and rejects with `InlineProjectionError(index, cause)` (pachyderm/store); the
   * runtime then fails that append and commits the others again.
   */
  project?(index: number, written: readonly WrittenEvent[]): readonly SqlStatement[];
}

/**
 * The outcome of one append: on success, the log's new version and the position of its last
 * event (`''` for an append without events). A conflict fails its own entity only: the other appends of the batch commit.
 */
export type AppendResult =
  | { readonly ok: true; readonly version: number; readonly position: string }
  | { readonly ok: false; readonly conflict: { readonly expectedVersion: number; readonly actualVersion: number } }
  | {
      readonly ok: false;
      readonly duplicate: true;
      /** The message ids the log already handled. */
      readonly messageIds: readonly string[];
      /** The keys the log already answered (present when any). */
      readonly keys?: readonly string[];
    };

/** An event as stored. */
export interface StoredEvent {
  readonly version: number;
  readonly data: string;
  /** The `eventVersion` it was written under (1 for events written before versions were stored). */
  readonly eventVersion: number;
  readonly recordedAt: number;
  /** Where the event is in the feed (see port/feed.ts). */
  readonly position: string;
}

/** Which log to read from which version (inclusive). */
export interface StreamRead {
  readonly streamId: string;
  readonly fromVersion: number;
}

/** Which log an activation reads, as which entity type and snapshot schema. */
export interface LogRequest {
  readonly streamId: string;
  readonly entityType: string;
  /** Only a snapshot written under this `snapshotVersion` is used. */
  readonly schemaVersion: string;
}

/** The start of a log for an activation: the usable snapshot, if any, and the events after it. */
export interface LogStart {
  readonly snapshot?: StoredSnapshot;
  readonly events: readonly StoredEvent[];
}

export interface EventLog {
  /**
   * Commits every append whose expected version matches (and none of whose message ids its log
   * has handled), all in one transaction, applied in the order given, and answers one result per
   * append, in order. Rejects, committing nothing, when the store fails. The runtime gives the
   * appends in stream-id order, at most one per log.
   */
  commit(request: CommitRequest): Promise<readonly AppendResult[]>;
  /**
   * Events of many logs at once, each from its own version (inclusive), in order, at most `limit`
   * per log: what a loaded entity reads to catch up, or to confirm that it holds the latest state.
   */
  readStreams(requests: readonly StreamRead[], limit: number): Promise<readonly (readonly StoredEvent[])[]>;
  /**
   * For activations of many entities at once: per request, the snapshot of that entity type and
   * schema (if any) and up to `limit` events after it (from version 1 without a snapshot).
   */
  readLogs(requests: readonly LogRequest[], limit: number): Promise<readonly LogStart[]>;
  /**
   * Optional, and cheap: a number that stays the same while nothing but this store object's one
   * user (the one system that retains it) commits to the store; `undefined` when the store cannot
   * tell cheaply (while two systems retain the object, or always). A decision without events on a
   * loaded copy is answered without a read when this number has not changed since the copy was
   * read or committed; otherwise a read confirms the copy. Every user of a store object retains it.
   */
  changeToken?(): number | undefined;
  /**
   * Optional: tells `hints` of appends as they commit, by anyone on the store (this store object's
   * own user included), soon after each commit; PostgreSQL does it with LISTEN/NOTIFY. A hint only,
   * late or lost at times: `live(false)` says hints may be missing (not yet listening, or the channel
   * dropped), `live(true)` that they flow again. A loaded copy that a hint shows behind, or that was
   * read while hints were not flowing, is caught up before its next decision; the version check on
   * every append stays what keeps data right.
   */
  watchAppends?(hints: AppendHints): AppendWatch;
}

/** A commit someone made: the log `streamId` reached `version`. */
export interface AppendHint {
  readonly streamId: string;
  readonly version: number;
}

/** Who hears `watchAppends`. Neither method may throw. */
export interface AppendHints {
  appended(hints: readonly AppendHint[]): void;
  live(flowing: boolean): void;
}

/** A watch `watchAppends` started: `close` stops it. */
export interface AppendWatch {
  close(): Promise<void>;
}
