/**
 * The public `System` object: what an application holds. It checks what callers give it and hands
 * the work to the parts made in wiring.ts.
 */

import type { Loaded } from '../core/fold.js';
import { assertValidId } from '../core/id.js';
import { assertJsonSafe, decodeFrozen } from '../core/json.js';
import type { EntityDefinition, EntityRef } from '../define/entity.js';
import { ConfigurationError, InvalidIdError, SystemClosedError } from '../errors.js';
import { type DeadLetter, toDeadLetter } from '../outbox/dead-letters.js';
import type { OutboxStats } from '../store/port/index.js';
import { PAGE_SIZE } from './activation.js';
import { resolveOptions, type SystemOptions } from './options.js';
import { type Wiring, wire } from './wiring.js';
import type { CallResult } from './worker.js';

export type { DeadLetter } from '../outbox/dead-letters.js';
export type { SystemOptions } from './options.js';

/** One recorded event of a log. */
export interface RecordedEvent<E> {
  readonly version: number;
  readonly event: E;
  readonly recordedAt: Date;
}

/** What an operator watches: the outbox backlog (shared by every process on the store) and this process. */
export interface SystemStats extends OutboxStats {
  /** Entities loaded in this process. */
  readonly activeEntities: number;
  /** Outbox rows this process delivered, scheduled for a retry, or gave up on, since it started. */
  readonly delivered: number;
  readonly retries: number;
  readonly deadLettered: number;
}

/** A running system: routes calls to entity workers and commits their events. */
export interface System {
  /**
   * Sends a message to an entity and answers once its events are durably committed:
   * `{ ok: true, state, version }`, or `{ ok: false, error }` when `handle` rejected it (nothing
   * committed). Faults reject with a `PachydermError`.
   */
  call<M, S, E, R>(ref: EntityRef<string, M, S, E, R>, message: NoInfer<M>): Promise<CallResult<S, R>>;
  /** The latest committed state in the store, including events other processes appended. */
  read<S>(ref: EntityRef<string, never, S>): Promise<{ readonly state: S; readonly version: number }>;
  /** The entity's log from version `from` (inclusive, default 1). */
  events<E>(ref: EntityRef<string, never, unknown, E>, options?: { from?: number }): AsyncIterable<RecordedEvent<E>>;
  /** Outbox rows given up on (effects past `maxAttempts`, rejected or undeliverable messages), oldest first. */
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Puts a dead letter back in the outbox for a fresh round of attempts. False if there is none with this id. */
  retryDeadLetter(id: string): Promise<boolean>;
  /** The outbox backlog and this process's delivery counters. */
  stats(): Promise<SystemStats>;
  /**
   * Resolves once this system has nothing left to do now: no call or delivery under way, no effect
   * running, and no outbox row due by its clock that it could deliver. For tests: advance a test
   * clock, then `await system.settled()`. Rejects with `STORE_UNAVAILABLE` when the outbox cannot
   * be read.
   */
  settled(): Promise<void>;
  /** Finishes accepted calls, deliveries under way and effects, then releases the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Wires definitions to a store.
 *
 * @example
 * const system = createSystem({ store: sqliteStore({ filename: 'app.db' }), entities: [Counter] });
 * const result = await system.call(Counter.ref(crypto.randomUUID()), { type: 'Increment' });
 */
export function createSystem(options: SystemOptions): System {
  return new RunningSystem(wire(resolveOptions(options)));
}

class RunningSystem implements System {
  #closing: Promise<void> | undefined;

  constructor(private readonly parts: Wiring) {
    parts.store.retain();
    parts.deliverer.start();
  }

  async call<M, S, E, R>(ref: EntityRef<string, M, S, E, R>, message: NoInfer<M>): Promise<CallResult<S, R>> {
    const definition = this.#resolve(ref);
    assertJsonSafe(message, `The message to ${definition.type}`);
    return this.parts.workers.get(definition, ref.id).call(message) as Promise<CallResult<S, R>>;
  }

  async read<S>(ref: EntityRef<string, never, S>): Promise<{ readonly state: S; readonly version: number }> {
    const definition = this.#resolve(ref);
    const start = this.parts.workers.peek(definition.type, ref.id)?.loaded;
    return (await this.parts.load(definition, ref.id, start)) as Loaded<S>;
  }

  events<E>(
    ref: EntityRef<string, never, unknown, E>,
    options: { from?: number } = {},
  ): AsyncIterable<RecordedEvent<E>> {
    const { readPage } = this.parts;
    const open = () => this.#open();
    return {
      async *[Symbol.asyncIterator]() {
        open();
        assertValidId(ref?.id);
        let next = options.from ?? 1;
        if (!Number.isInteger(next) || next < 1) throw new ConfigurationError('events: from must be an integer >= 1');
        for (;;) {
          const page = await readPage(ref.id, next);
          for (const stored of page) {
            yield {
              version: stored.version,
              event: decodeFrozen<E>(stored.data),
              recordedAt: new Date(stored.recordedAt),
            };
            next = stored.version + 1;
          }
          if (page.length < PAGE_SIZE) return;
        }
      },
    };
  }

  async deadLetters({ limit = 1000 }: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.#open();
    return (await this.parts.store.deadLetters(limit)).map(toDeadLetter);
  }

  async retryDeadLetter(id: string): Promise<boolean> {
    this.#open();
    if (typeof id !== 'string') throw new ConfigurationError('retryDeadLetter: id must be a string');
    const revived = await this.parts.store.retryDeadLetter(id, this.parts.config.clock.now());
    if (revived) this.parts.deliverer.kick();
    return revived;
  }

  async stats(): Promise<SystemStats> {
    this.#open();
    const { store, config, deliverer, workers } = this.parts;
    const outbox = await store.outboxStats(config.clock.now());
    const { delivered, retried, deadLettered } = deliverer.counters;
    return { ...outbox, activeEntities: workers.size, delivered, retries: retried, deadLettered };
  }

  async settled(): Promise<void> {
    this.#open();
    const { workers, effects, deliverer, snapshots } = this.parts;
    for (;;) {
      const before = this.parts.activity();
      await Promise.all(workers.all().map((worker) => worker.whenIdle()));
      await effects.drain();
      await deliverer.settle();
      await snapshots.drain();
      if (this.parts.activity() === before) return;
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const { workers, deliverer, effects, snapshots, store } = this.parts;
      workers.stop();
      await deliverer.stop();
      await Promise.all(workers.all().map((worker) => worker.whenIdle()));
      await effects.drain();
      await snapshots.drain();
      await store.release();
    })();
    return this.#closing;
  }

  /** The definition a ref names, checked; refuses once the system is closing. */
  #resolve(ref: EntityRef): EntityDefinition {
    this.#open();
    if (ref === null || typeof ref !== 'object') throw new InvalidIdError('A ref must be an object { type, id }');
    assertValidId(ref.id);
    return this.parts.config.registered.requireEntity(ref.type);
  }

  #open(): void {
    if (this.#closing) throw new SystemClosedError();
  }
}
