/**
 * The store as the runtime uses it: opened once, on first use (a failed open is tried again by the
 * next operation); every driver failure reported as `STORE_UNAVAILABLE`. Two rules every store
 * relies on are applied here, once: every time that crosses the port is in whole milliseconds (due
 * times rounded up, "now" rounded down), and the appends of a commit come in stream-id order, so
 * concurrent commits that share logs lock them in the same order and apply them the same way.
 */
import type { SqlStatement } from '../core/sql.js';
import { isPachydermError, messageOf, SqlFailedError, StoreUnavailableError } from '../errors.js';
import { isInlineProjectionError } from '../store/inline-projection-error.js';
import type {
  AnswersRead,
  AppendHints,
  AppendResult,
  AppendWatch,
  CheckpointLease,
  CheckpointWrite,
  ClaimRequest,
  CommitRequest,
  FeedRead,
  HeartbeatRequest,
  LogRequest,
  MemberJoin,
  OutboxSettlement,
  PartitionClaim,
  PartitionHandOver,
  PruneRequest,
  Store,
  StoredSnapshot,
  StreamAppend,
  StreamRead,
} from '../store/port/index.js';
import { isStatementError } from '../store/statement-errors.js';

/** An append's outcome as the runtime sees it: also, failed by an inline projection (nothing of it committed). */
export type CommitOutcome = AppendResult | { readonly ok: false; readonly projectionFailed: unknown };

export class GuardedStore {
  #ready: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  get kind(): string {
    return this.store.kind;
  }

  /** See `Store.inFlight`. */
  get inFlight(): number {
    return this.store.inFlight ?? 1;
  }

  retain(): void {
    this.store.retain();
  }

  release(): Promise<void> {
    this.#ready = undefined;
    return this.store.release();
  }

  /**
   * Commits in stream-id order. When an inline projection fails for an append, that append fails
   * alone (`projectionFailed`) and the others are committed again without it.
   */
  async commit(request: CommitRequest): Promise<readonly CommitOutcome[]> {
    const outcomes: CommitOutcome[] = new Array(request.appends.length);
    let order = request.appends.map((_, i) => i);
    order.sort((a, b) =>
      compareIds((request.appends[a] as StreamAppend).streamId, (request.appends[b] as StreamAppend).streamId),
    );
    const recordedAt = Math.floor(request.recordedAt);
    while (order.length > 0) {
      const attempt = order;
      const appends = attempt.map((i) => withWholeDueTimes(request.appends[i] as StreamAppend));
      const { project } = request;
      try {
        const results = await this.#call(() =>
          this.store.commit({
            appends,
            recordedAt,
            ...(project ? { project: (i: number, written) => project(attempt[i] as number, written) } : {}),
          }),
        );
        attempt.forEach((position, i) => {
          outcomes[position] = results[i] as AppendResult;
        });
        return outcomes;
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        const failure = isInlineProjectionError(cause) ? cause : isInlineProjectionError(error) ? error : undefined;
        if (!failure || attempt[failure.appendIndex] === undefined) throw error;
        const failed = attempt[failure.appendIndex] as number;
        outcomes[failed] = { ok: false, projectionFailed: failure.cause };
        order = attempt.filter((i) => i !== failed);
      }
    }
    return outcomes;
  }

  readFeed(request: FeedRead) {
    return this.#call(() => this.store.readFeed(request));
  }

  feedHead(entityTypes: readonly string[]) {
    return this.#call(() => this.store.feedHead(entityTypes));
  }

  leaseCheckpoint(lease: CheckpointLease) {
    return this.#call(() => this.store.leaseCheckpoint({ ...lease, now: Math.floor(lease.now) }));
  }

  readCheckpoint(name: string) {
    return this.#call(() => this.store.readCheckpoint(name));
  }

  /** Moves a checkpoint; when one of its statements is refused, rejects with `SQL_FAILED`. */
  writeCheckpoint(write: CheckpointWrite) {
    return this.#call(() => this.store.writeCheckpoint({ ...write, now: Math.floor(write.now) }), 'statements');
  }

  markCheckpoint(name: string, mark: 'resume' | 'rebuild') {
    return this.#call(() => this.store.markCheckpoint(name, mark));
  }

  skippedEvents(name: string, limit: number) {
    return this.#call(() => this.store.skippedEvents(name, limit));
  }

  /** True when the store runs SQL (SQLite, PostgreSQL). */
  get hasSql(): boolean {
    return this.store.sql !== undefined;
  }

  /** Runs an application statement; one the database refuses rejects with `SQL_FAILED`. */
  query(statement: SqlStatement) {
    return this.#call(() => (this.store.sql as NonNullable<Store['sql']>).query(statement), 'statements');
  }

  /** Runs application statements in one transaction; one the database refuses rejects with `SQL_FAILED`. */
  execute(statements: readonly SqlStatement[]) {
    return this.#call(() => (this.store.sql as NonNullable<Store['sql']>).execute(statements), 'statements');
  }

  readStreams(requests: readonly StreamRead[], limit: number) {
    return this.#call(() => this.store.readStreams(requests, limit));
  }

  /** The store's change token, when it has one (see `EventLog.changeToken`); never throws. */
  changeToken(): number | undefined {
    try {
      return this.store.changeToken?.();
    } catch {
      return undefined;
    }
  }

  /** True when the store gives hints of appends (see `EventLog.watchAppends`). */
  get watchesAppends(): boolean {
    return typeof this.store.watchAppends === 'function';
  }

  /** Starts the store's hints of appends, on a store that `watchesAppends`. */
  watchAppends(hints: AppendHints): AppendWatch | undefined {
    return this.store.watchAppends?.(hints);
  }

  readAnswers(requests: readonly AnswersRead[], since: number) {
    return this.#call(() => this.store.readAnswers(requests, Math.floor(since)));
  }

  prune({ messageIdsBefore, keysBefore, limit }: PruneRequest) {
    const request = { messageIdsBefore: Math.floor(messageIdsBefore), keysBefore: Math.floor(keysBefore), limit };
    return this.#call(() => this.store.prune(request));
  }

  readLogs(requests: readonly LogRequest[], limit: number) {
    return this.#call(() => this.store.readLogs(requests, limit));
  }

  writeSnapshot(streamId: string, entityType: string, snapshot: StoredSnapshot) {
    return this.#call(() => this.store.writeSnapshot(streamId, entityType, snapshot));
  }

  claimOutbox({ owner, now, leaseMs, limit }: ClaimRequest) {
    const request = { owner, now: Math.floor(now), leaseMs: Math.ceil(leaseMs), limit };
    return this.#call(() => this.store.claimOutbox(request));
  }

  settleOutbox(owner: string, settlements: readonly OutboxSettlement[]) {
    const whole = settlements.map(({ id, outcome }) =>
      'retryAt' in outcome ? { id, outcome: { ...outcome, retryAt: Math.ceil(outcome.retryAt) } } : { id, outcome },
    );
    return this.#call(() => this.store.settleOutbox(owner, whole));
  }

  deadLetters(limit: number) {
    return this.#call(() => this.store.deadLetters(limit));
  }

  retryDeadLetter(id: string, now: number) {
    return this.#call(() => this.store.retryDeadLetter(id, Math.floor(now)));
  }

  nextDueAt(after: number) {
    return this.#call(() => this.store.nextDueAt(Math.floor(after)));
  }

  outboxStats(now: number) {
    return this.#call(() => this.store.outboxStats(Math.floor(now)));
  }

  outboxOf(entity: { readonly type: string; readonly id: string }, limit: number) {
    return this.#call(() => this.store.outboxOf(entity, limit));
  }

  joinCluster(join: MemberJoin) {
    return this.#call(() => this.store.joinCluster({ ...join, now: Math.floor(join.now) }));
  }

  heartbeat(beat: HeartbeatRequest) {
    return this.#call(() => this.store.heartbeat({ ...beat, now: Math.floor(beat.now) }));
  }

  claimPartitions(claim: PartitionClaim) {
    return this.#call(() => this.store.claimPartitions({ ...claim, now: Math.floor(claim.now) }));
  }

  handOverPartitions(incarnation: string, partitions: readonly PartitionHandOver[]) {
    return this.#call(() => this.store.handOverPartitions(incarnation, partitions));
  }

  leaveCluster(incarnation: string) {
    return this.#call(() => this.store.leaveCluster(incarnation));
  }

  /** With `statements`: the operation runs the application's SQL, and a refused statement is `SQL_FAILED`. */
  async #call<T>(operation: () => Promise<T>, runs?: 'statements'): Promise<T> {
    try {
      this.#ready ??= this.#open();
      await this.#ready;
      return await operation();
    } catch (error) {
      if (isPachydermError(error)) throw error;
      if (runs && isStatementError(error))
        throw new SqlFailedError(`The database refused a statement: ${messageOf(error)}`, error);
      throw new StoreUnavailableError(`The ${this.store.kind} store failed: ${messageOf(error)}`, error);
    }
  }

  #open(): Promise<void> {
    const opening = this.store.open();
    opening.catch(() => {
      if (this.#ready === opening) this.#ready = undefined;
    });
    return opening;
  }
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function withWholeDueTimes(append: StreamAppend): StreamAppend {
  if (!append.outbox?.some((row) => !Number.isInteger(row.dueAt))) return append;
  return { ...append, outbox: append.outbox.map((row) => ({ ...row, dueAt: Math.ceil(row.dueAt) })) };
}
