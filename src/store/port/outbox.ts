/**
 * The outbox part of the storage port: rows written by appends (at-least-once effects, messages,
 * timers), leased to one deliverer at a time, settled, dead-lettered. The rules the stores share
 * (which row is held back, which rows a claim takes, when a held row goes free) are written once in
 * `store/outbox-rules.ts`. Times are whole milliseconds since the epoch.
 *
 * Rows with one order key form a lane. A row is written *held* when its lane has a row it must wait
 * for; a claim looks only at rows that are not held (so its cost does not grow with the rows
 * waiting behind them) and takes, after each, the held messages of its lane that follow it; settling a
 * lane's rows frees the next held one once nothing before it holds it back.
 */

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
  /** Not delivered before this time. */
  readonly dueAt: number;
  /** True for `sendAfter` / `sendAt`. */
  readonly timer: boolean;
  /** The key of a keyed timer, which a later append's `cancelTimers` can name. */
  readonly timerKey?: string;
  /**
   * Rows with the same order key are delivered in id order: a `message` waits until the rows
   * before it are delivered or dead; an `effect` until they were started at least once. `null`
   * for timers, which keep their own time.
   */
  readonly orderKey: string | null;
  /**
   * The W3C `traceparent` of the span whose decision wrote the row, when tracing is on: its delivery
   * is traced as a child of it, also in another process after a restart.
   */
  readonly traceContext?: string;
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
  | { readonly dead: true; readonly error: string }
  /**
   * Not attempted after all (an earlier row of its lane was not delivered): back in the outbox as
   * it was before the claim, its attempt not counted.
   */
  | { readonly released: true };

/** The outcome of one claimed row. */
export interface OutboxSettlement {
  readonly id: string;
  readonly outcome: OutboxOutcome;
}

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
  /** The due time of the oldest row waiting to be delivered (counted in `depth`), null when there is none. */
  readonly oldestDueAt: number | null;
}

/** A deliverer asks for due rows. */
export interface ClaimRequest {
  /** Identifies the deliverer's leases. */
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  readonly limit: number;
}

export interface Outbox {
  /**
   * Leases up to `limit` rows and counts an attempt on each: rows that are not held, due, and not
   * leased by a live lease, by due time then id; after each one with an order key, the held messages
   * of that order key that follow it, in id order, as long as they are due and not leased (a lane's
   * messages come in one claim; effects, which run one after another, a claim at a time). Rows leased by a process that died become claimable once their lease
   * has passed. Answers the rows in id order.
   */
  claimOutbox(request: ClaimRequest): Promise<readonly OutboxRecord[]>;
  /**
   * Records the outcomes of claimed rows, all in one transaction; each is ignored unless `owner`
   * still holds that row's lease. Then frees the next held row of each lane it touched, once no
   * row before it holds it back.
   */
  settleOutbox(owner: string, settlements: readonly OutboxSettlement[]): Promise<void>;
  /** Dead letters, oldest first. */
  deadLetters(limit: number): Promise<readonly OutboxRecord[]>;
  /** Puts a dead letter back as a fresh pending row, due at `now`. False when there is no such dead letter. */
  retryDeadLetter(id: string, now: number): Promise<boolean>;
  /**
   * The earliest time later than `after` at which a pending row that is not held falls due or its
   * lease ends, if any: when a deliverer that found nothing to claim at `after` should look again.
   * (A row leased past its due time counts at both: an early look finds nothing, which is harmless.)
   */
  nextDueAt(after: number): Promise<number | undefined>;
  outboxStats(now: number): Promise<OutboxStats>;
  /**
   * For operators: the rows still in the outbox (pending or dead) that the entity's decisions wrote
   * (`sourceType`, `sourceId`) or that are messages for it (`name`, `targetId`), timers included, in
   * id order, at most `limit`.
   */
  outboxOf(entity: { readonly type: string; readonly id: string }, limit: number): Promise<readonly OutboxRecord[]>;
}
