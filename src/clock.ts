/** Cancels a scheduled callback. */
export type CancelTimer = () => void;

/**
 * The time port. The system reads the time and schedules work (passivation, later: retries and
 * timers) only through its clock, so tests can move time by hand.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once, after `ms`. The timer must not keep the process alive. */
  setTimeout(callback: () => void, ms: number): CancelTimer;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A clock that moves only when told to: for tests. */
export interface TestClock extends Clock {
  /** Moves time forward, running every callback that falls due, in time order. */
  advance(ms: number): void;
  /** How many callbacks wait. */
  readonly pending: number;
}

/**
 * A manual clock for tests.
 *
 * @example
 * const clock = createTestClock();
 * const system = createSystem({ store, entities, clock, idleTimeoutMs: 1000 });
 * clock.advance(1000); // idle workers are unloaded
 */
export function createTestClock(start = 0): TestClock {
  let now = start;
  let sequence = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout(callback, ms) {
      const id = sequence++;
      timers.set(id, { at: now + Math.max(0, ms), callback });
      return () => timers.delete(id);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        let nextId: number | undefined;
        let next: { at: number; callback: () => void } | undefined;
        for (const [id, timer] of timers) {
          if (timer.at <= target && (!next || timer.at < next.at)) {
            nextId = id;
            next = timer;
          }
        }
        if (nextId === undefined || !next) break;
        timers.delete(nextId);
        now = next.at;
        next.callback();
      }
      now = target;
    },
    get pending() {
      return timers.size;
    },
  };
}
