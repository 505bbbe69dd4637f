/**
 * The checkpoints part of the storage port: where projections and reactors keep their position,
 * with a lease so that one runner at a time works on each across processes. A checkpoint moves
 * only by compare-and-set, in the same transaction as the statements it covers: a second runner
 * (an expired lease, a paused process) is refused and applies nothing.
 */
import type { SqlStatement } from '../../core/sql.js';

export interface Checkpoint {
  readonly name: string;
  /** The definition's `version` the checkpoint was built under. */
  readonly version: number;
  /** The position of the last event applied; `''` before the first. */
  readonly position: string;
  /** Why the runner stopped at the event after `position`, until resumed; null while running. */
  readonly failed: string | null;
  /** True once `markCheckpoint(name, 'rebuild')` asked for a rebuild that has not started yet. */
  readonly rebuild: boolean;
}

/** An event a runner gave up on and went past (`onError: 'skip'`). */
export interface SkippedEvent {
  readonly position: string;
  readonly entityType: string;
  readonly streamId: string;
  readonly version: number;
  readonly error: string;
}

export interface CheckpointLease {
  readonly name: string;
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  /** The version a checkpoint made now starts with (at position `''`). */
  readonly version: number;
}

export interface CheckpointWrite extends CheckpointLease {
  /** The position the writer holds: the write is refused unless it is still stored and the lease is the writer's. */
  readonly expected: string;
  /** The new position (`''` to start again). */
  readonly position: string;
  /** Statements run in the same transaction (SQL stores only; a store without SQL refuses any). */
  readonly statements: readonly SqlStatement[];
  readonly skipped?: readonly SkippedEvent[];
  /** Set (text) or clear (null) the failure; unchanged when absent. */
  readonly failed?: string | null;
  /** A rebuild: also forget the skipped events and the rebuild request. */
  readonly restart?: boolean;
}

export interface Checkpoints {
  /**
   * Takes or renews the lease on a checkpoint (made at `version` and `''` when missing) unless
   * another owner holds a live one; answers the checkpoint, or undefined while another holds it.
   */
  leaseCheckpoint(lease: CheckpointLease): Promise<Checkpoint | undefined>;
  /** The checkpoint as stored, if any. */
  readCheckpoint(name: string): Promise<Checkpoint | undefined>;
  /** Moves a checkpoint (and renews the lease) by compare-and-set; false, writing nothing, when refused. */
  writeCheckpoint(write: CheckpointWrite): Promise<boolean>;
  /** From any process: `resume` clears the failure, `rebuild` asks the runner to start again. False without a checkpoint. */
  markCheckpoint(name: string, mark: 'resume' | 'rebuild'): Promise<boolean>;
  /** The events a runner skipped, oldest first. */
  skippedEvents(name: string, limit: number): Promise<readonly SkippedEvent[]>;
}

/** Optional: a store on a SQL database runs the application's statements (projections, `system.query`). */
export interface SqlExecutor {
  /** Runs one statement; rows as objects (none for a statement that returns no rows). */
  query(statement: SqlStatement): Promise<readonly Record<string, unknown>[]>;
  /** Runs statements in one transaction. */
  execute(statements: readonly SqlStatement[]): Promise<void>;
}
