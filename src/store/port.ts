/**
 * The storage port: the one interface every store implements (memory, SQLite, PostgreSQL).
 * Types only. Every implementation passes the contract suite in `test/contract/`.
 *
 * Values cross the port as JSON text: the runtime encodes each event once and decodes what it
 * reads, so every store returns exactly what was written.
 */

/** One entity's part of a commit: its new events, checked against the version the writer saw. */
export interface StreamAppend {
  /** The entity id: the id alone names the log. */
  readonly streamId: string;
  /** The log's version the decision was made on; the append is refused unless it still is. */
  readonly expectedVersion: number;
  /** The events, as JSON text, to be stored at versions `expectedVersion + 1 ...`. At least one. */
  readonly events: readonly string[];
  /** The entity type that decided: recorded on outbox rows, so effects know their `ref`. */
  readonly entityType?: string;
  /** Outbox rows (at-least-once effects, messages, timers) that commit with these events or not at all. */
  readonly outbox?: readonly OutboxWrite[];
  /** Pending timers to remove in the same transaction: `{ targetId, key }`. */
  readonly cancelTimers?: readonly TimerKey[];
  /**
   * The id of the message these events handle. Recorded in the same transaction; an append whose
   * log already recorded it is refused as a duplicate, so a message is handled once.
   */
  readonly messageId?: string;
}

/** Names a keyed timer: one per target and key. */
export interface TimerKey {
  readonly targetId: string;
  readonly key: string;
}

/** A row written to the outbox by an append. */
export interface OutboxWrite {
  /** `effect`: an at-least-once effect. `message`: a message for an entity (`send`, timers). */
  readonly kind: 'effect' | 'message';
  /** The effect's name (`effect`), or the target's entity type (`message`). */
  readonly name: string;
  /** The target entity's id (`message` only). */
  readonly targetId?: string;
  /** The effect's payload or the message, as JSON text (`null`: no payload). */
  readonly payload: string | null;
  /** Stable across attempts; the message id of a `message`. */
  readonly idempotencyKey: string;
  /** The source entity's version after the decision that asked for this row. */
  readonly sourceVersion: number;
  /** Not delivered before this time (ms since the epoch). */
  readonly dueAt: number;
  /** True for `sendAfter` / `sendAt`. */
  readonly timer: boolean;
  /** A keyed timer replaces the pending one with the same target and key. */
  readonly timerKey?: string;
  /**
   * Rows with the same order key are delivered in id order: a `message` waits until the rows
   * before it are delivered or dead; an `effect` until they were started at least once. `null`
   * for timers, which keep their own time.
   */
  readonly orderKey: string | null;
}

/** A row of the outbox as stored. */
export interface OutboxRecord extends OutboxWrite {
  readonly id: string;
  /** The entity that decided. */
  readonly sourceType: string;
  readonly sourceId: string;
  /** Attempts started so far, this claim included. */
  readonly attempts: number;
  readonly lastError: string | null;
  readonly status: 'pending' | 'dead';
}

/** How a claimed outbox row ended this time. */
export type OutboxOutcome =
  | { readonly done: true }
  | { readonly retryAt: number; readonly error: string }
  | { readonly dead: true; readonly error: string };

/** The backlog, for operators. */
export interface OutboxStats {
  /** Rows waiting to be delivered or in delivery (timers only once their time has come). */
  readonly depth: number;
  /** Rows leased by a process right now. */
  readonly inFlight: number;
  /** Rows that failed at least once and wait for another attempt. */
  readonly retrying: number;
  readonly deadLetters: number;
  /** Timers whose time has not come. */
  readonly pendingTimers: number;
}

/** A batch of appends for many entities, committed in one transaction. */
export interface CommitRequest {
  readonly appends: readonly StreamAppend[];
  /** Recorded on every event of the batch, from the system's clock (ms since the epoch). */
  readonly recordedAt: number;
}

/**
 * The outcome of one append. A conflict fails its own entity only: the other appends of the
 * batch commit.
 */
export type AppendResult =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly conflict: { readonly expectedVersion: number; readonly actualVersion: number } }
  | { readonly ok: false; readonly duplicate: true };

/** An event as stored. */
export interface StoredEvent {
  readonly version: number;
  readonly data: string;
  /** Milliseconds since the epoch. */
  readonly recordedAt: number;
}

/** The state of one entity type at one version of a log, as JSON text. */
export interface StoredSnapshot {
  /** The definition's `snapshotVersion` when the snapshot was written. */
  readonly schemaVersion: string;
  readonly version: number;
  readonly state: string;
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

/** The port. Every method may reject with an error from the driver; the runtime wraps it. */
export interface Store {
  /** A short name for messages and logs: `memory`, `sqlite`, `postgres`. */
  readonly kind: string;
  /** Opens connections and applies migrations. Idempotent; called before any other method. */
  open(): Promise<void>;
  /**
   * Commits every append whose expected version matches, all in one transaction, and answers one
   * result per append, in order. Rejects (committing nothing) when the store fails.
   */
  commit(request: CommitRequest): Promise<readonly AppendResult[]>;
  /** Events of a log from `fromVersion` (inclusive), in order, at most `limit`. */
  readStream(streamId: string, fromVersion: number, limit: number): Promise<readonly StoredEvent[]>;
  /**
   * Events of many logs at once, each from its own version (inclusive), in order, at most `limit`
   * per log: what a loaded entity reads to catch up, or to confirm that it holds the latest state.
   */
  readStreams(requests: readonly StreamRead[], limit: number): Promise<readonly (readonly StoredEvent[])[]>;
  /** The version of a log: 0 when it has no events. */
  streamVersion(streamId: string): Promise<number>;
  /**
   * For activations of many entities at once: per request, the snapshot of that entity type and
   * schema (if any) and up to `limit` events after it (from version 1 without a snapshot).
   */
  readLogs(requests: readonly LogRequest[], limit: number): Promise<readonly LogStart[]>;
  /** The snapshot of a log for one entity type, if any. */
  readSnapshot(streamId: string, entityType: string): Promise<StoredSnapshot | undefined>;
  /** Stores a snapshot unless one at a later version is already there. */
  writeSnapshot(streamId: string, entityType: string, snapshot: StoredSnapshot): Promise<void>;
  /**
   * Leases up to `limit` outbox rows that are due, not leased by a live lease, and not held back by
   * an earlier row with the same order key; counts an attempt on each. Rows leased by a process
   * that died become claimable once `leaseMs` has passed.
   */
  claimOutbox(request: {
    owner: string;
    now: number;
    leaseMs: number;
    limit: number;
  }): Promise<readonly OutboxRecord[]>;
  /** Records the outcome of a claimed row; ignored unless `owner` still holds its lease. */
  settleOutbox(id: string, owner: string, outcome: OutboxOutcome): Promise<void>;
  /** Dead letters, oldest first. */
  deadLetters(limit: number): Promise<readonly OutboxRecord[]>;
  /** Puts a dead letter back as a fresh pending row, due at `now`. False when there is no such dead letter. */
  retryDeadLetter(id: string, now: number): Promise<boolean>;
  /**
   * The earliest time later than `after` at which a pending row falls due or its lease ends, if
   * any: when a deliverer that found nothing to claim at `after` should look again.
   */
  nextDueAt(after: number): Promise<number | undefined>;
  outboxStats(now: number): Promise<OutboxStats>;
  /** A system starts using the store. */
  retain(): void;
  /** A system stops using the store; the last release closes it. */
  release(): Promise<void>;
}
