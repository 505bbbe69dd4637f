/**
 * The outbox's rules in one place: for the in-memory store, and as the specification the SQL stores
 * implement in their queries (the contract suite checks that they agree); and the one mapping from a
 * stored row to a record that both SQL stores use.
 */
import type { OutboxRecord, OutboxStats } from './port/index.js';

interface Leased {
  readonly leaseUntil: number;
}

/** A row as the lane rules see it. */
interface LaneRow {
  readonly id: string;
  readonly kind: OutboxRecord['kind'];
  readonly attempts: number;
  readonly held: boolean;
}

/** Due and not held by a live lease. */
export function isClaimable(row: OutboxRecord & Leased, now: number): boolean {
  return row.status === 'pending' && row.dueAt <= now && row.leaseUntil <= now;
}

/**
 * The lane rule: a message waits for every earlier pending row of its order key (until each is
 * delivered or dead); an effect waits for the earlier ones not yet started at least once.
 */
export function holdsBack(earlier: LaneRow, kind: OutboxRecord['kind']): boolean {
  return kind === 'message' || earlier.held || earlier.attempts === 0;
}

/**
 * Whether a row written now starts held: its lane's last pending row holds it back. (Started
 * rows of a lane are always its first ones, so the last row tells for the lane.)
 */
export function writtenHeld(kind: OutboxRecord['kind'], lastPending: LaneRow | undefined): boolean {
  return lastPending !== undefined && holdsBack(lastPending, kind);
}

/**
 * After settling rows of a lane: its first held pending row goes free unless a pending row before
 * it that is not held holds it back. `lane`: the lane's pending rows in id order.
 */
export function freedInLane<R extends LaneRow>(lane: readonly R[]): R | undefined {
  const first = lane.find((row) => row.held);
  if (!first) return undefined;
  const blocked = lane.some((row) => !row.held && Number(row.id) < Number(first.id) && holdsBack(row, first.kind));
  return blocked ? undefined : first;
}

/**
 * The rows a claim takes (see `Outbox.claimOutbox`): rows not held, claimable, by due time then id;
 * after each with an order key, the held messages of its lane that follow it while they are due and
 * not leased (effects run one after another, each under its own lease: they come a claim at a time). At most `limit`, in id order. `rows`: the outbox's rows (any status), or when `sorted`,
 * rows in claim order (due time then id), read only as far as needed; `laneOf`: a lane's pending
 * rows in id order.
 */
export function claimedRows<R extends LaneRow & OutboxRecord & Leased>(
  rows: Iterable<R>,
  laneOf: (orderKey: string) => readonly R[],
  now: number,
  limit: number,
  sorted = false,
): R[] {
  const before = (a: R, b: R) => a.dueAt - b.dueAt || Number(a.id) - Number(b.id);
  // The first `limit` heads, kept in order as the rows go by (mostly appended at the end).
  const heads: R[] = [];
  for (const row of rows) {
    if (row.held || !isClaimable(row, now)) continue;
    if (heads.length === limit && before(row, heads[limit - 1] as R) > 0) {
      if (sorted) break;
      continue;
    }
    let at = heads.length;
    while (at > 0 && before(row, heads[at - 1] as R) < 0) at--;
    heads.splice(at, 0, row);
    if (heads.length > limit) heads.pop();
  }
  const taken: R[] = [];
  for (const head of heads) {
    if (taken.length >= limit) break;
    taken.push(head);
    if (head.orderKey === null) continue;
    const lane = laneOf(head.orderKey);
    for (let i = lane.indexOf(head) + 1; i < lane.length && taken.length < limit; i++) {
      const next = lane[i] as R;
      if (!next.held || next.kind !== 'message' || !isClaimable(next, now)) break;
      taken.push(next);
    }
  }
  return taken.sort((a, b) => Number(a.id) - Number(b.id));
}

/**
 * When a deliverer that found nothing at `after` looks again (see `Outbox.nextDueAt`): the earliest
 * due time or lease end later than `after` among these rows (pending and not held). A row leased
 * past its due time may wake it early; that costs one empty pass, never a late delivery.
 */
export function lookAgainAt(rows: readonly (Leased & { readonly dueAt: number })[], after: number): number | undefined {
  let next: number | undefined;
  for (const { dueAt, leaseUntil } of rows) {
    for (const at of [dueAt, leaseUntil]) if (at > after && (next === undefined || at < next)) next = at;
  }
  return next;
}

export function outboxStats(rows: readonly (OutboxRecord & Leased)[], now: number): OutboxStats {
  let depth = 0;
  let inFlight = 0;
  let retrying = 0;
  let deadLetters = 0;
  let pendingTimers = 0;
  let oldestDueAt: number | null = null;
  for (const row of rows) {
    if (row.status === 'dead') {
      deadLetters++;
    } else if (row.timer && row.attempts === 0 && row.dueAt > now) {
      pendingTimers++;
    } else {
      depth++;
      if (oldestDueAt === null || row.dueAt < oldestDueAt) oldestDueAt = row.dueAt;
      if (row.leaseUntil > now) inFlight++;
      else if (row.attempts > 0) retrying++;
    }
  }
  return { depth, inFlight, retrying, deadLetters, pendingTimers, oldestDueAt };
}

/**
 * An outbox row as a SQL store reads it, its columns named as the record's fields: ids and flags
 * in the driver's types, absent optional fields as `null`.
 */
export type OutboxRow = Omit<OutboxRecord, 'id' | 'timer' | 'targetId' | 'timerKey' | 'traceContext'> & {
  readonly id: number | string;
  readonly timer: boolean | number;
  readonly targetId: string | null;
  readonly timerKey: string | null;
  readonly traceContext: string | null;
};

/** Whether a row is one `outboxOf(entity)` answers: written by the entity's decisions, or a message for it. */
export function concernsEntity(row: OutboxRecord, entity: { readonly type: string; readonly id: string }): boolean {
  return (
    (row.sourceType === entity.type && row.sourceId === entity.id) ||
    (row.kind === 'message' && row.name === entity.type && row.targetId === entity.id)
  );
}

/** The record of a stored row, the same shape from every store. */
export function outboxRecord({ id, timer, targetId, timerKey, traceContext, ...rest }: OutboxRow): OutboxRecord {
  return {
    ...rest,
    id: String(id),
    timer: Boolean(timer),
    ...(targetId === null ? {} : { targetId }),
    ...(timerKey === null ? {} : { timerKey }),
    ...(traceContext === null ? {} : { traceContext }),
  };
}
