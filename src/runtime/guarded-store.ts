/**
 * The store as the runtime uses it: opened once, on first use (a failed open is tried again by the
 * next operation); every driver failure reported as `STORE_UNAVAILABLE`. Two rules every store
 * relies on are applied here, once: every time that crosses the port is in whole milliseconds (due
 * times rounded up, "now" rounded down), and the appends of a commit come in stream-id order, so
 * concurrent commits that share logs lock them in the same order and apply them the same way.
 */
import { isPachydermError, messageOf, StoreUnavailableError } from '../errors.js';
import type {
  AppendResult,
  ClaimRequest,
  CommitRequest,
  LogRequest,
  OutboxOutcome,
  Store,
  StoredSnapshot,
  StreamAppend,
  StreamRead,
} from '../store/port/index.js';

export class GuardedStore {
  #ready: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  get kind(): string {
    return this.store.kind;
  }

  retain(): void {
    this.store.retain();
  }

  release(): Promise<void> {
    this.#ready = undefined;
    return this.store.release();
  }

  async commit(request: CommitRequest): Promise<readonly AppendResult[]> {
    const order = request.appends.map((_, i) => i);
    order.sort((a, b) =>
      compareIds((request.appends[a] as StreamAppend).streamId, (request.appends[b] as StreamAppend).streamId),
    );
    const appends = order.map((i) => withWholeDueTimes(request.appends[i] as StreamAppend));
    const results = await this.#call(() => this.store.commit({ appends, recordedAt: Math.floor(request.recordedAt) }));
    const inRequestOrder: AppendResult[] = new Array(results.length);
    order.forEach((position, i) => {
      inRequestOrder[position] = results[i] as AppendResult;
    });
    return inRequestOrder;
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

  settleOutbox(id: string, owner: string, outcome: OutboxOutcome) {
    const whole = 'retryAt' in outcome ? { ...outcome, retryAt: Math.ceil(outcome.retryAt) } : outcome;
    return this.#call(() => this.store.settleOutbox(id, owner, whole));
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

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      this.#ready ??= this.#open();
      await this.#ready;
      return await operation();
    } catch (error) {
      if (isPachydermError(error)) throw error;
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
