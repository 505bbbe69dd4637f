import { decide, entitySelf, type Registry } from './decide.js';
import type { EntityDefinition, EntityRef, EntitySelf } from './definition.js';
import { ConflictRetriesExhaustedError } from './errors.js';
import type { Loaded } from './load-state.js';
import { type CommitEffects, commitEffects } from './outbox-rows.js';
import type { AppendResult, CommitRequest } from './store/port.js';

/** What `system.call` answers: the new state once committed, or the domain rejection. */
export type CallResult<S, R> =
  | { readonly ok: true; readonly state: S; readonly version: number }
  | { readonly ok: false; readonly error: R };

/** What a delivered message led to: a call result, or a repeat the log had already handled. */
export type DeliveryResult = CallResult<unknown, unknown> | { readonly ok: true; readonly duplicate: true };

/** The parts of the system a worker uses. */
export interface WorkerRuntime {
  readonly registry: Registry;
  readonly maxConflictRetries: number;
  /** Opens the store (once) and reads the entity's state, starting from `start` if given. */
  load<S>(definition: EntityDefinition<string, S>, id: string, start?: Loaded<S>): Promise<Loaded<S>>;
  commit(request: CommitRequest): Promise<readonly AppendResult[]>;
  /** Waits before deciding again after the `attempt`-th lost conflict (0: not at all). */
  backoff(attempt: number): Promise<void>;
  now(): number;
  /** Called right after a commit: effects and snapshots, off the entity's path. */
  committed(worker: EntityWorker, effects: CommitEffects, previousVersion: number, committed: Loaded<unknown>): void;
}

interface Pending {
  readonly message: unknown;
  readonly messageId: string | undefined;
  resolve(result: DeliveryResult): void;
  reject(error: unknown): void;
}

/**
 * One loaded entity: a mailbox handled one message at a time, in arrival order, and the state
 * as of the last commit this worker saw. Other workers for the same id may exist (in this or
 * another process): the expected version on every append keeps them honest.
 */
export class EntityWorker {
  readonly ref: EntityRef;
  lastUsed: number;
  /** Effects of this entity's commits that have not finished: the worker is kept loaded until they do. */
  effectsPending = 0;
  #queue: Pending[] = [];
  #head = 0;
  #running = false;
  #loaded: Loaded<unknown> | undefined;
  #idleWaiters: (() => void)[] = [];
  readonly #self: EntitySelf;

  constructor(
    private readonly definition: EntityDefinition,
    id: string,
    private readonly runtime: WorkerRuntime,
  ) {
    this.ref = { type: definition.type, id };
    this.#self = entitySelf(definition.type, id);
    this.lastUsed = runtime.now();
  }

  /** True while messages wait or run, or effects are pending. */
  get busy(): boolean {
    return this.#running || this.effectsPending > 0;
  }

  /** The committed state this worker holds, if loaded. */
  get loaded(): Loaded<unknown> | undefined {
    return this.#loaded;
  }

  /** Queues a message; with a `messageId`, a message the log already handled is not handled again. */
  call(message: unknown, messageId?: string): Promise<DeliveryResult> {
    this.lastUsed = this.runtime.now();
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, messageId, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  /** Resolves once every accepted message is answered. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head++] as Pending;
      try {
        next.resolve(await this.#handle(next.message, next.messageId));
      } catch (error) {
        next.reject(error);
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.#running = false;
    this.lastUsed = this.runtime.now();
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  async #handle(message: unknown, messageId: string | undefined): Promise<DeliveryResult> {
    const { definition, runtime } = this;
    let current = this.#loaded ?? (await runtime.load(definition, this.ref.id));
    this.#loaded = current;
    for (let attempt = 0; ; attempt++) {
      const outcome = decide(definition, current.state, message, runtime.registry, this.#self);
      if (outcome.kind === 'rejected') return { ok: false, error: outcome.reason };
      if (outcome.encodedEvents.length === 0) return { ok: true, state: current.state, version: current.version };

      const now = runtime.now();
      const effects = commitEffects(this.ref, outcome.effects, current.version + outcome.encodedEvents.length, now);
      const [result] = await runtime.commit({
        appends: [
          {
            streamId: this.ref.id,
            expectedVersion: current.version,
            events: outcome.encodedEvents,
            entityType: this.ref.type,
            ...(effects.outbox.length > 0 ? { outbox: effects.outbox } : {}),
            ...(effects.cancelTimers.length > 0 ? { cancelTimers: effects.cancelTimers } : {}),
            ...(messageId === undefined ? {} : { messageId }),
          },
        ],
        recordedAt: now,
      });
      if (result?.ok) {
        const committed = { state: outcome.state, version: result.version };
        this.#loaded = committed;
        runtime.committed(this, effects, current.version, committed);
        return { ok: true, state: committed.state, version: committed.version };
      }
      // The log already handled this message (delivered twice, or by two processes): skip it.
      if (result && 'duplicate' in result) return { ok: true, duplicate: true };
      // Another worker appended first: its decision stands. Read what it wrote and decide again.
      if (attempt >= runtime.maxConflictRetries) {
        throw new ConflictRetriesExhaustedError(
          `${this.ref.type} ${JSON.stringify(this.ref.id)}: gave up after ${attempt + 1} conflicting appends; nothing was committed`,
        );
      }
      await runtime.backoff(attempt);
      current = await runtime.load(definition, this.ref.id, current);
      this.#loaded = current;
    }
  }
}
