/**
 * Runs one async projection or reactor in the background: takes the checkpoint's lease (one runner
 * at a time across processes), reads the feed after the checkpoint, applies a batch and moves the
 * checkpoint by compare-and-set in the same transaction as the batch's statements. A runner that
 * lost its lease is refused and applies nothing. Failures retry with backoff, then stop at the
 * event or skip it, as the definition says; a store outage is waited out without loss.
 */
import { SpanKind } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import type { SqlStatement } from '../core/sql.js';
import type { OnError } from '../define/projection.js';
import { isPachydermError, messageOf, ProjectionFailedError, SystemClosedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type RetryPolicy, retryDelay } from '../outbox/retry-policy.js';
import type { GuardedStore } from '../runtime/guarded-store.js';
import type { Checkpoint, FeedEvent, SkippedEvent } from '../store/port/index.js';
import { Attribute, SpanName, type Telemetry } from '../telemetry/telemetry.js';
import { FeedSignal } from './feed-signal.js';

/** What `status()` reports. */
export interface ReadSideStatus {
  readonly name: string;
  readonly mode: 'inline' | 'async';
  readonly state: 'live' | 'rebuilding' | 'stopped' | 'failed';
  /** The position of the last event applied (`''` before the first). */
  readonly position: string;
  /** The position of the latest committed event of its entity types: lag shows as `position < head`. */
  readonly head: string;
  readonly lastError: string | undefined;
}

/** How a batch went: the statements of the first `done` events, and why the next one failed, if it did. */
export interface BatchOutcome {
  readonly statements: readonly SqlStatement[];
  readonly done: number;
  readonly failure?: unknown;
}

/** What every runner of a system shares. */
export interface RunnerEnvironment {
  readonly store: GuardedStore;
  /** Commits in this process. */
  readonly commits: FeedSignal;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Identifies this system's leases. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  /** Each batch is a span (`pachyderm.projection.batch`). */
  readonly telemetry: Telemetry;
}

export interface RunnerOptions extends RunnerEnvironment {
  readonly name: string;
  readonly entityTypes: readonly string[];
  readonly version: number;
  readonly onError: OnError;
  readonly retry: RetryPolicy;
  /** Statements that start a rebuild (a projection's `reset`). */
  readonly reset: readonly SqlStatement[];
  /** Runs before every round (the projections' `setup`); a rejection is waited out like an outage. */
  prepare(): Promise<void>;
  /** Applies events in order, stopping at the first that fails; `attempt` is the first event's. */
  apply(events: readonly FeedEvent[], attempt: number): Promise<BatchOutcome>;
  readonly batchSize: number;
}

export class CheckpointRunner {
  #state: ReadSideStatus['state'] = 'live';
  #position = '';
  #head = '';
  #lastError: string | undefined;
  /** The head when the running rebuild started: `rebuilding` until the checkpoint reaches it. */
  #rebuildTarget: string | undefined;
  /** Failed attempts at the event after the checkpoint. */
  #attempt = 0;
  /** After a batch's statements were refused: one event at a time until past this position. */
  #narrowUntil: string | undefined;
  readonly #progress: FeedSignal;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  /** True while this runner holds the lease, as far as it knows. */
  #leased = false;
  /**
   * The checkpoint as of the last lease, and until when (by this clock) the lease is surely held:
   * a round renews it only once half of it is gone, or when asked to look again. Every write
   * renews it too.
   */
  #held: { checkpoint: Checkpoint; until: number } | undefined;

  constructor(private readonly options: RunnerOptions) {
    this.#progress = new FeedSignal(options.clock, options.pollIntervalMs);
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops after the round under way and gives up the lease, so another process takes over at once. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#progress.notify();
    await this.#running;
    this.#state = 'stopped';
    if (this.#leased) await this.#write(this.#position, this.#position, [], {}, 0).catch(() => false);
  }

  get entityTypes(): readonly string[] {
    return this.options.entityTypes;
  }

  /** Looks again now, at the checkpoint as stored too (after `resume` or `rebuild`). */
  wake(): void {
    this.#held = undefined;
    this.options.commits.notify();
  }

  /** Resolves when the checkpoint moves here, after a poll interval, or on stop. */
  progress(): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.reject(new SystemClosedError());
    return this.#progress.wait(this.#stop.signal);
  }

  status(): ReadSideStatus {
    const { name } = this.options;
    return {
      name,
      mode: 'async',
      state: this.#state,
      position: this.#position,
      head: this.#head,
      lastError: this.#lastError,
    };
  }

  /**
   * Resolves once the checkpoint (moved by this process or another) is at `position` or past it;
   * rejects with `PROJECTION_FAILED` while the runner is stopped at an earlier event.
   */
  async waitFor(position: string): Promise<void> {
    const { store, name } = this.options;
    for (;;) {
      if (this.#position >= position) return;
      if (this.#stop.signal.aborted) throw new SystemClosedError();
      // The checkpoint may be moved (or resumed) by another process: look at it as stored.
      const stored = await store.readCheckpoint(name).catch(() => undefined);
      if (stored) this.#see(stored);
      if (this.#position >= position) return;
      if (this.#state === 'failed') {
        throw new ProjectionFailedError(
          name,
          `${name} stopped at the event after ${this.#position || 'the start'}: ${this.#lastError}`,
        );
      }
      await this.#progress.wait(this.#stop.signal);
    }
  }

  async #loop(): Promise<void> {
    const { logger, name } = this.options;
    const abort = this.#stop.signal;
    let outage: unknown;
    while (!abort.aborted) {
      try {
        const idle = await this.#round();
        if (outage) {
          logger.info('read side resumed', { name });
          if (this.#state !== 'failed') this.#lastError = undefined;
        }
        outage = undefined;
        if (idle) await this.options.commits.wait(abort);
        // A store whose driver is synchronous (SQLite) answers without a turn of the event loop:
        // let timers and I/O run between batches while catching up.
        else await new Promise((resolve) => setImmediate(resolve));
      } catch (error) {
        if (!outage) logger.warn('read side cannot reach the store; will try again', { name, error });
        outage = error;
        this.#lastError = messageOf(error);
        await this.options.commits.wait(abort);
      }
    }
  }

  /** One round: lease, then rebuild, wait or apply a batch. True when there is nothing to do now. */
  async #round(): Promise<boolean> {
    const { store, name, version, entityTypes, clock, owner, leaseMs } = this.options;
    await this.options.prepare();
    const now = clock.now();
    const held = this.#held;
    let checkpoint: Checkpoint | undefined;
    if (held && now < held.until - leaseMs / 2) {
      // The lease is fresh: no round trip. Its end stays where the store put it, so a runner that
      // goes round faster than half its lease still renews it (and sees marks from other processes).
      checkpoint = { ...held.checkpoint, position: this.#position };
    } else {
      checkpoint = await store.leaseCheckpoint({ name, owner, now, leaseMs, version });
      this.#held = checkpoint && { checkpoint, until: now + leaseMs };
    }
    this.#leased = checkpoint !== undefined;
    this.#head = await store.feedHead(entityTypes);
    if (!checkpoint) {
      // Another process runs it: follow its checkpoint.
      const stored = await store.readCheckpoint(name);
      if (stored) this.#see(stored);
      return true;
    }
    this.#see(checkpoint);
    if (checkpoint.version > version) {
      this.#state = 'stopped';
      this.#lastError = `version ${checkpoint.version} of ${name} runs elsewhere; this process has version ${version}`;
      return true;
    }
    if (checkpoint.version < version || checkpoint.rebuild) return this.#restart(checkpoint);
    if (checkpoint.failed !== null) return true;
    if (this.#narrowUntil !== undefined && checkpoint.position >= this.#narrowUntil) this.#narrowUntil = undefined;
    const limit = this.#narrowUntil === undefined ? this.options.batchSize : 1;
    const events = await store.readFeed({ after: checkpoint.position, entityTypes, limit });
    if (events.length === 0) {
      this.#caughtUp();
      return true;
    }
    const attributes = () => ({ [Attribute.projection]: name, [Attribute.events]: events.length });
    await this.options.telemetry.inSpan(SpanName.projectionBatch, null, SpanKind.INTERNAL, attributes, () =>
      this.#applyBatch(checkpoint, events),
    );
    return false;
  }

  async #restart(checkpoint: Checkpoint): Promise<boolean> {
    const { store, name, version, clock, owner, leaseMs, reset, logger } = this.options;
    const target = this.#head;
    const restarted = await store.writeCheckpoint({
      name,
      owner,
      now: clock.now(),
      leaseMs,
      version,
      expected: checkpoint.position,
      position: '',
      statements: reset,
      failed: null,
      restart: true,
    });
    this.#held = undefined;
    if (restarted) {
      logger.info('read side rebuilding from the start', { name, version });
      this.#rebuildTarget = target;
      this.#position = '';
      this.#attempt = 0;
      this.#state = target === '' ? 'live' : 'rebuilding';
      this.#progress.notify();
    }
    return false;
  }

  async #applyBatch(checkpoint: Checkpoint, events: readonly FeedEvent[]): Promise<void> {
    const outcome = await this.options.apply(events, this.#attempt + 1);
    let position = checkpoint.position;
    if (outcome.done > 0) {
      const last = events[outcome.done - 1] as FeedEvent;
      try {
        if (!(await this.#write(position, last.position, outcome.statements))) return;
      } catch (error) {
        if (!isPachydermError(error, 'SQL_FAILED')) throw error;
        if (outcome.done > 1) {
          // One of these events' statements was refused: find which, one at a time.
          this.#narrowUntil = last.position;
          return;
        }
        return this.#failed(position, events[0] as FeedEvent, error);
      }
      position = last.position;
      if (this.#attempt > 0) this.#lastError = undefined;
      this.#attempt = 0;
    }
    const failing = events[outcome.done];
    if (outcome.failure !== undefined && failing) await this.#failed(position, failing, outcome.failure);
  }

  /** An event failed: retry it later, or stop at it, or skip it. */
  async #failed(position: string, event: FeedEvent, error: unknown): Promise<void> {
    const { retry, onError, logger, name } = this.options;
    this.#attempt++;
    this.#lastError = messageOf(error);
    const fields = { name, position: event.position, ref: { type: event.entityType, id: event.streamId }, error };
    if (this.#attempt < retry.maxAttempts) {
      logger.warn('read side event failed; will retry', { ...fields, attempt: this.#attempt });
      await this.options.commits.wait(this.#stop.signal, retryDelay(retry, this.#attempt));
      return;
    }
    this.#attempt = 0;
    if (onError === 'skip') {
      logger.error('read side skipped an event', fields);
      const skipped = [
        {
          position: event.position,
          entityType: event.entityType,
          streamId: event.streamId,
          version: event.version,
          error: this.#lastError,
        },
      ];
      await this.#write(position, event.position, [], { skipped });
      return;
    }
    logger.error('read side stopped at an event', fields);
    if (await this.#write(position, position, [], { failed: this.#lastError })) this.#state = 'failed';
  }

  /** Moves the checkpoint; false when another runner holds it now (nothing applied). */
  async #write(
    expected: string,
    position: string,
    statements: readonly SqlStatement[],
    extra: { skipped?: readonly SkippedEvent[]; failed?: string } = {},
    leaseMs = this.options.leaseMs,
  ): Promise<boolean> {
    const { store, name, version, clock, owner } = this.options;
    const now = clock.now();
    const written = await store.writeCheckpoint({
      name,
      owner,
      now,
      leaseMs,
      version,
      expected,
      position,
      statements,
      ...extra,
    });
    this.#leased = written;
    const held = this.#held?.checkpoint;
    this.#held =
      written && held
        ? {
            checkpoint: { ...held, position, failed: extra.failed === undefined ? held.failed : extra.failed },
            until: now + leaseMs,
          }
        : undefined;
    if (written) {
      this.#position = position;
      if (this.#rebuildTarget !== undefined && position >= this.#rebuildTarget) this.#caughtUp();
      this.#progress.notify();
    }
    return written;
  }

  #caughtUp(): void {
    this.#rebuildTarget = undefined;
    if (this.#state === 'rebuilding') this.#state = 'live';
  }

  /** Takes in a checkpoint as stored. */
  #see(checkpoint: Checkpoint): void {
    if (checkpoint.position !== this.#position) this.#progress.notify();
    this.#position = checkpoint.position;
    if (checkpoint.failed !== null) {
      this.#state = 'failed';
      this.#lastError = checkpoint.failed;
    } else if (this.#state === 'failed' || this.#state === 'stopped') {
      this.#state = this.#rebuildTarget === undefined ? 'live' : 'rebuilding';
    }
  }
}
