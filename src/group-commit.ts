/**
 * Group commit: appends from many entities that arrive while a commit is being prepared or is in
 * flight are committed together in one transaction, so one flush serves many calls. Each append
 * keeps its own expected-version check and gets its own result.
 */
import type { AppendResult, CommitRequest, StreamAppend } from './store/port.js';

interface Waiting {
  readonly append: StreamAppend;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export class GroupCommitter {
  #waiting: Waiting[] = [];
  #flushing = false;

  constructor(
    private readonly commit: (request: CommitRequest) => Promise<readonly AppendResult[]>,
    private readonly now: () => number,
    private readonly maxBatch: number,
  ) {}

  append(append: StreamAppend): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ append, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let the appends that the current turn of the event loop is producing join this commit.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#take();
      try {
        const results = await this.commit({ appends: batch.map((w) => w.append), recordedAt: this.now() });
        batch.forEach((w, i) => {
          w.resolve(results[i] as AppendResult);
        });
      } catch (error) {
        // One transaction: nothing of the batch was committed.
        for (const w of batch) w.reject(error);
      }
    }
    this.#flushing = false;
  }

  /** The next batch: at most `maxBatch` appends, one per log (a second waits for the next commit). */
  #take(): Waiting[] {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    const streams = new Set<string>();
    for (const waiting of this.#waiting) {
      if (batch.length < this.maxBatch && !streams.has(waiting.append.streamId)) {
        streams.add(waiting.append.streamId);
        batch.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    this.#waiting = rest;
    return batch;
  }
}
