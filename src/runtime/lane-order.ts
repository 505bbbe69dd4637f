/**
 * Delivered messages of one lane handed on in the order they came, though the checks before them
 * (an asynchronous `messageSchema`) may end in another order: a later message of a lane never
 * reaches its target before an earlier one, and those ready together are handed on together (so
 * they meet in one mailbox batch, as messages without a check do).
 */

interface Waiting {
  /** The check's value or failure, once it ended. */
  settled?: { readonly value: unknown } | { readonly error: unknown };
  go(value: unknown): void;
  fail(error: unknown): void;
}

export class LaneOrder {
  /** The lanes with a check under way: their messages not handed on yet, in order. */
  readonly #lanes = new Map<string, Waiting[]>();

  /**
   * Hands the checked value to `next` once the messages of `lane` before it are handed on (or
   * failed their check): at once when it is ready and nothing of its lane waits. Without a lane
   * (a timer), as soon as it is ready.
   */
  inOrder<T, R>(lane: string | undefined, checked: T | Promise<T>, next: (value: T) => Promise<R>): Promise<R> {
    const waiting = lane === undefined ? undefined : this.#lanes.get(lane);
    if (!(checked instanceof Promise)) {
      if (!waiting) return next(checked);
    } else if (lane === undefined) return checked.then(next);
    return new Promise<R>((resolve, reject) => {
      const entry: Waiting = {
        go(value) {
          try {
            next(value as T).then(resolve, reject);
          } catch (error) {
            reject(error);
          }
        },
        fail: reject,
      };
      if (waiting) waiting.push(entry);
      else this.#lanes.set(lane as string, [entry]);
      if (!(checked instanceof Promise)) {
        entry.settled = { value: checked };
        return;
      }
      const settle = (settled: Waiting['settled']) => {
        entry.settled = settled;
        this.#flush(lane as string);
      };
      checked.then(
        (value) => settle({ value }),
        (error: unknown) => settle({ error }),
      );
    });
  }

  /** Hands on the lane's messages from its head up to the first one still being checked. */
  #flush(lane: string): void {
    const waiting = this.#lanes.get(lane) as Waiting[];
    let handed = 0;
    for (const entry of waiting) {
      if (!entry.settled) break;
      if ('value' in entry.settled) entry.go(entry.settled.value);
      else entry.fail(entry.settled.error);
      handed++;
    }
    waiting.splice(0, handed);
    if (waiting.length === 0) this.#lanes.delete(lane);
  }
}
