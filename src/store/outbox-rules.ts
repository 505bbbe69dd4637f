/**
 * The outbox's rules in one place: for the in-memory store, and as the specification the SQL stores
 * implement in their queries (the contract suite checks that they agree); and the one mapping from a
 * stored row to a record that both SQL stores use.
 */
import type { OutboxRecord, OutboxStats } from './port/index.js';

interface Leased {
  readonly leaseUntil: number;
}

/** Due and not held by a live lease. */
export function isClaimable(row: OutboxRecord & Leased, now: number): boolean {
  return row.status === 'pending' && row.dueAt <= now && row.leaseUntil <= now;
}

/**
 * Held back by an earlier pending row with the same order key: a message waits for every earlier
 * row to be delivered or dead; an effect waits until every earlier row was started at least once.
 */
export function isHeldBack(row: OutboxRecord, pending: readonly OutboxRecord[]): boolean {
  if (row.orderKey === null) return false;
  return pending.some(
    (earlier) =>
      earlier.orderKey === row.orderKey &&
      Number(earlier.id) < Number(row.id) &&
      earlier.status === 'pending' &&
      (row.kind === 'message' || earlier.attempts === 0),
  );
}

/** When a row next becomes claimable: its due time, or the end of its lease. */
export function claimableAt(row: Leased & { readonly dueAt: number }): number {
  return Math.max(row.dueAt, row.leaseUntil);
}

export function outboxStats(rows: readonly (OutboxRecord & Leased)[], now: number): OutboxStats {
  let depth = 0;
  let inFlight = 0;
  let retrying = 0;
  let deadLetters = 0;
  let pendingTimers = 0;
  for (const row of rows) {
    if (row.status === 'dead') {
      deadLetters++;
    } else if (row.timer && row.attempts === 0 && row.dueAt > now) {
      pendingTimers++;
    } else {
      depth++;
      if (row.leaseUntil > now) inFlight++;
      else if (row.attempts > 0) retrying++;
    }
  }
  return { depth, inFlight, retrying, deadLetters, pendingTimers };
}

/**
 * An outbox row as a SQL store reads it, its columns named as the record's fields: ids and flags
 * in the driver's types, absent optional fields as `null`.
 */
export type OutboxRow = Omit<OutboxRecord, 'id' | 'timer' | 'targetId' | 'timerKey'> & {
  readonly id: number | string;
  readonly timer: boolean | number;
  readonly targetId: string | null;
  readonly timerKey: string | null;
};

/** The record of a stored row, the same shape from every store. */
export function outboxRecord({ id, timer, targetId, timerKey, ...rest }: OutboxRow): OutboxRecord {
  return {
    ...rest,
    id: String(id),
    timer: Boolean(timer),
    ...(targetId === null ? {} : { targetId }),
    ...(timerKey === null ? {} : { timerKey }),
  };
}
