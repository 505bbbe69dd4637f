/**
 * Wake-ups for the read side: a commit in this process wakes its followers, subscribers and
 * runners at once; commits of other processes are noticed by polling. A hint only: whoever wakes
 * reads the store, which is the truth.
 */
import type { Clock } from '../clock.js';

export class FeedSignal {
  #waiters = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly pollIntervalMs: number,
  ) {}

  /** Wakes everyone waiting. */
  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolves at the next commit in this process, after the poll interval, or when `abort` fires.
   * With `keepAlive`, the process stays alive meanwhile (an application awaiting a feed, like one
   * reading a socket); background work waits without it, so a system never holds a process open.
   */
  wait(abort?: AbortSignal, ms = this.pollIntervalMs, keepAlive = false): Promise<void> {
    if (abort?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const alive = keepAlive ? setInterval(() => {}, 2 ** 30) : undefined;
      const done = () => {
        this.#waiters.delete(done);
        clearInterval(alive);
        cancel();
        abort?.removeEventListener('abort', done);
        resolve();
      };
      const cancel = this.clock.setTimeout(done, ms);
      this.#waiters.add(done);
      abort?.addEventListener('abort', done, { once: true });
    });
  }
}

/** An abort signal that fires when any of the given ones does. */
export function eitherSignal(...signals: readonly (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((signal): signal is AbortSignal => signal !== undefined));
}
