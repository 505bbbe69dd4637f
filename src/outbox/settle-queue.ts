/**
 * Records the outcomes of a pass's rows as they come, many in one store call: outcomes given in one
 * turn of the event loop go together, and one call is in flight at a time (outcomes given meanwhile
 * go in the next). A slow effect so delays no other row's outcome, and a burst of messages answered
 * together is settled in one transaction.
 */
import type { Logger } from '../logger.js';
import type { Outbox, OutboxSettlement } from '../store/port/index.js';

export class SettleQueue {
  #waiting: OutboxSettlement[] = [];
  #flushed: Promise<void> = Promise.resolve();
  #scheduled = false;

  constructor(
    private readonly store: Pick<Outbox, 'settleOutbox'>,
    private readonly owner: string,
    private readonly logger: Logger,
  ) {}

  add(settlements: readonly OutboxSettlement[]): void {
    if (settlements.length === 0) return;
    this.#waiting.push(...settlements);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#flushed = this.#flushed
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => this.#flush());
  }

  /** Resolves once every outcome added so far was recorded (or failed to be). */
  async drained(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.#flushed;
      await seen;
    } while (seen !== this.#flushed);
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#waiting;
    this.#waiting = [];
    try {
      await this.store.settleOutbox(this.owner, batch);
    } catch (error) {
      // The leases expire and the rows are delivered again: at least once.
      this.logger.warn('outbox outcomes not recorded; the rows will be delivered again', { rows: batch.length, error });
    }
  }
}
