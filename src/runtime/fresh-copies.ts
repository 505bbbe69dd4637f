/**
 * Keeps loaded copies fresh from the store's hints of appends (`EventLog.watchAppends`): a hint that
 * shows a loaded entity behind marks its worker, which reads the newer events before its next
 * decision; a copy read while hints were not flowing counts as possibly stale too. Hints only spare
 * a refused append and its retry: the version check keeps the data right without them.
 */
import type { AppendHint, AppendHints } from '../store/port/index.js';
import type { EntityWorker, HintMarks } from './worker.js';

export class FreshCopies implements AppendHints, HintMarks {
  #flowing = false;
  /** Counts every change of `#flowing`: marks taken before the latest start of the flow are suspect. */
  #tick = 0;
  #flowingSince = Number.POSITIVE_INFINITY;
  #staleCopies = 0;

  constructor(private readonly loaded: (streamId: string) => Iterable<EntityWorker>) {}

  /** Loaded copies that a hint showed behind (each read the newer events before deciding again). */
  get staleCopies(): number {
    return this.#staleCopies;
  }

  appended(hints: readonly AppendHint[]): void {
    for (const { streamId, version } of hints) {
      for (const worker of this.loaded(streamId)) if (worker.hint(version)) this.#staleCopies++;
    }
  }

  live(flowing: boolean): void {
    this.#tick++;
    this.#flowing = flowing;
    if (flowing) this.#flowingSince = this.#tick;
  }

  mark(): number {
    return this.#tick;
  }

  missedSince(mark: number): boolean {
    return !this.#flowing || mark < this.#flowingSince;
  }
}
