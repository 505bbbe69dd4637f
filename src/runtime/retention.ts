/**
 * How long the log remembers what is not an event: the answers of idempotent calls under their keys,
 * and the ids of the delivered messages it handled (the `retention` option); and the pruner that
 * forgets what is older, in the background, a few rows at a time. Whether a key is still live is
 * decided by the system's clock when the key is used, so a key past its window is a new call
 * whether or not the pruner has run.
 */
import type { CancelTimer, Clock } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GuardedStore } from './guarded-store.js';

/** The `retention` option of `createSystem`. */
export interface RetentionOptions {
  /**
   * How long a repeat of an idempotent call gets the first call's answer; after it, a call with the
   * same key is a new call. Default 24 hours. `Infinity`: keys are kept for ever.
   */
  readonly idempotencyKeysMs?: number;
  /**
   * How long a log remembers the ids of the delivered messages it handled, so that one delivered
   * again is not handled twice. Keep it well past the longest time a message can wait for another
   * attempt (`leaseMs`, retry delays). Default 30 days. `Infinity`: kept for ever.
   */
  readonly handledMessageIdsMs?: number;
}

export interface Retention {
  readonly idempotencyKeysMs: number;
  readonly handledMessageIdsMs: number;
}

const DAY = 24 * 3600_000;

export function resolveRetention(options: RetentionOptions | undefined): Retention {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ConfigurationError('createSystem: retention must be an object');
  }
  return {
    idempotencyKeysMs: windowOf(options?.idempotencyKeysMs ?? DAY, 'idempotencyKeysMs'),
    handledMessageIdsMs: windowOf(options?.handledMessageIdsMs ?? 30 * DAY, 'handledMessageIdsMs'),
  };
}

function windowOf(value: number, name: string): number {
  if (typeof value !== 'number' || !(value >= 1)) {
    throw new ConfigurationError(`createSystem: retention.${name} must be a number of milliseconds >= 1, or Infinity`);
  }
  return value;
}

/**
 * The first time, in whole milliseconds, at which something recorded is still remembered at `now`:
 * what was recorded a whole window ago or earlier has expired.
 */
export function liveSince(now: number, windowMs: number): number {
  return windowMs === Number.POSITIVE_INFINITY ? Number.MIN_SAFE_INTEGER : Math.floor(now - windowMs) + 1;
}

/** How often the pruner looks, by the system's clock. */
export const PRUNE_EVERY_MS = 60_000;
/** Rows forgotten per statement: each is one short transaction. */
export const PRUNE_BATCH = 500;

/** Forgets expired keyed answers and handled message ids, in the background. */
export class Pruner {
  #cancel: CancelTimer | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly store: GuardedStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly retention: Retention,
  ) {}

  /** Prunes now, then every {@link PRUNE_EVERY_MS}. */
  start(): void {
    if (this.#stopped) return;
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
      if (!this.#stopped) this.#cancel = this.clock.setTimeout(() => this.start(), PRUNE_EVERY_MS);
    });
  }

  /** Resolves once no round is under way. */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** Stops, and waits for a round under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#running;
  }

  /** Forgets batch after batch while there is more, letting other work run between them. */
  async #round(): Promise<void> {
    const { idempotencyKeysMs, handledMessageIdsMs } = this.retention;
    try {
      for (;;) {
        const now = this.clock.now();
        const pruned = await this.store.prune({
          messageIdsBefore: liveSince(now, handledMessageIdsMs),
          keysBefore: liveSince(now, idempotencyKeysMs),
          limit: PRUNE_BATCH,
        });
        if (this.#stopped || (pruned.messageIds < PRUNE_BATCH && pruned.keys < PRUNE_BATCH)) return;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.logger.warn('pruning expired idempotency keys and message ids failed; will try again', { error });
    }
  }
}
