/**
 * What a log remembers besides its events, for a while: the answers of idempotent calls, under
 * their keys, and the ids of the delivered messages it handled. Both are written by appends (see
 * `StreamAppend`); this part reads the answers and forgets what is older than the system's
 * retention. Times are milliseconds since the epoch, from the system's clock.
 */

/** What an idempotent call answered, recorded under its key in the commit that carried the call. */
export interface KeyedAnswer {
  readonly key: string;
  /** The log's version right after the call: its last event's, or the version it was decided on. */
  readonly version: number;
  /** The rejection reason as JSON text, when `handle` rejected the call. */
  readonly rejection?: string;
}

/** A keyed answer as stored: also the position the append that recorded it answered. */
export interface RecordedAnswer extends KeyedAnswer {
  /** The append's result position: of its last event, `''` for an append without events. */
  readonly position: string;
}

/** The answers an append records under their keys (see `StreamAppend.idempotency`). */
export interface IdempotencyWrite {
  /**
   * A key whose answer was recorded before this time has expired: the append replaces it. One
   * recorded at or after it refuses the append as a duplicate.
   */
  readonly since: number;
  readonly answers: readonly KeyedAnswer[];
}

/** Which keys of which log to look up. */
export interface AnswersRead {
  readonly streamId: string;
  readonly keys: readonly string[];
}

/** What to forget: what was recorded before these times, a few rows at a time. */
export interface PruneRequest {
  /** Handled message ids recorded before this time are forgotten. */
  readonly messageIdsBefore: number;
  /** Answers of idempotent calls recorded before this time are forgotten. */
  readonly keysBefore: number;
  /** At most this many of each kind in one call, so that no lock is held long. */
  readonly limit: number;
}

/** How many rows a prune forgot. */
export interface Pruned {
  readonly messageIds: number;
  readonly keys: number;
}

export interface Retention {
  /**
   * Per request, the answers recorded under those keys of its log at or after `since` (older ones
   * have expired and are not answered), in any order.
   */
  readAnswers(requests: readonly AnswersRead[], since: number): Promise<readonly (readonly RecordedAnswer[])[]>;
  /**
   * Forgets up to `limit` handled message ids and up to `limit` keyed answers recorded before their
   * times, each in a short transaction; answers how many went. Called again while it forgets `limit`.
   */
  prune(request: PruneRequest): Promise<Pruned>;
}
