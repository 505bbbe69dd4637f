/**
 * The simulation's time: one clock for every simulated process, moved only by the schedule. Each
 * process sees it through its own `Clock`, whose timers die with the process when it crashes.
 */
import type { Clock } from '../../clock.js';

interface Timer {
  readonly at: number;
  readonly sequence: number;
  readonly owner: { readonly alive: boolean };
  readonly callback: () => void;
}

export class VirtualClock {
  #now: number;
  #sequence = 0;
  readonly #timers = new Set<Timer>();

  constructor(
    start: number,
    private readonly touched: () => void,
  ) {
    this.#now = start;
  }

  get now(): number {
    return this.#now;
  }

  /** The clock a process gets: its timers fire only while `owner` is alive. */
  for(owner: { readonly alive: boolean }): Clock {
    return {
      now: () => this.#now,
      setTimeout: (callback, ms) => {
        const timer = { at: this.#now + Math.max(0, ms), sequence: this.#sequence++, owner, callback };
        this.#timers.add(timer);
        this.touched();
        return () => {
          this.#timers.delete(timer);
        };
      },
    };
  }

  /** When the next timer of a live process falls due, if any. */
  nextAt(): number | undefined {
    let next: number | undefined;
    for (const timer of this.#timers) {
      if (!timer.owner.alive) this.#timers.delete(timer);
      else if (next === undefined || timer.at < next) next = timer.at;
    }
    return next;
  }

  /** Moves time to `to` (never back), firing the timers that fall due, in time order. */
  advanceTo(to: number): void {
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers) {
        if (timer.at > to) continue;
        if (!next || timer.at < next.at || (timer.at === next.at && timer.sequence < next.sequence)) next = timer;
      }
      if (!next) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      if (next.owner.alive) next.callback();
    }
    this.#now = Math.max(this.#now, to);
  }
}
