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
  // Later features add rows here that commit with these events or not at all (an effect outbox,
  // timers, processed message ids); a refused append writes none of them.
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
  | { readonly ok: false; readonly conflict: { readonly expectedVersion: number; readonly actualVersion: number } };

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
  /** The version of a log: 0 when it has no events. */
  streamVersion(streamId: string): Promise<number>;
  /** The snapshot of a log for one entity type, if any. */
  readSnapshot(streamId: string, entityType: string): Promise<StoredSnapshot | undefined>;
  /** Stores a snapshot unless one at a later version is already there. */
  writeSnapshot(streamId: string, entityType: string, snapshot: StoredSnapshot): Promise<void>;
  /** A system starts using the store. */
  retain(): void;
  /** A system stops using the store; the last release closes it. */
  release(): Promise<void>;
}
