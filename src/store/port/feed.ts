/**
 * The feed part of the storage port: every committed event of some entity types, in one total
 * order that keeps each log's version order. Positions are opaque text that sorts in feed order
 * under plain string comparison (see store/positions.ts); `''` is the start.
 */
import type { StoredEvent } from './event-log.js';

/** An event as the feed gives it: which log, and which entity type decided it. */
export interface FeedEvent extends StoredEvent {
  readonly streamId: string;
  readonly entityType: string;
}

export interface FeedRead {
  /** Events after this position (exclusive); `''` for the start. */
  readonly after: string;
  /** Only events decided by these entity types. */
  readonly entityTypes: readonly string[];
  readonly limit: number;
}

export interface Feed {
  /**
   * Up to `limit` committed events after `after`, in feed order. Never skips: an event that a later
   * read could return sorts after every event this read returned, also while other transactions
   * are still committing (PostgreSQL reads only below the oldest running writer). Never returns
   * an event whose transaction has not committed.
   */
  readFeed(request: FeedRead): Promise<readonly FeedEvent[]>;
  /** The position of the latest committed event of these types, `''` when there is none. */
  feedHead(entityTypes: readonly string[]): Promise<string>;
}
