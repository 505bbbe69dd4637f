import type { CommitPlan } from '../core/commit-plan.js';
import { entitySelf, type Registrations } from '../core/decide.js';
import { type BatchAnswer, type BatchInput, decideBatch } from '../core/decide-batch.js';
import type { Loaded } from '../core/fold.js';
import type { EntityDefinition, EntityRef, EntitySelf } from '../define/entity.js';
import { ConflictRetriesExhaustedError } from '../errors.js';
import type { RecordedAnswer, StreamAppend } from '../store/port/index.js';
import { Attribute, type CallTrace, SpanName } from '../telemetry/telemetry.js';
import type { CommitOutcome } from './guarded-store.js';

/**
 * What `system.call` answers: the new state once committed, with the feed position of the commit
 * (`''` when the call recorded no events), or the domain rejection.
 */
export type CallResult<S, R> =
  | { readonly ok: true; readonly state: S; readonly version: number; readonly position: string }
  | { readonly ok: false; readonly error: R };

/**
 * What a message led to: a call result; for a delivered message, also a repeat the log had already
 * handled (`duplicate`), or not handled because an earlier message of its lane was not (`deferred`:
 * it waits in the outbox for that one, so the lane stays in order).
 */
export type MessageAnswer =
  | CallResult<unknown, unknown>
  | { readonly ok: true; readonly duplicate: true }
  | { readonly ok: false; readonly deferred: true };

/** A message delivered from the outbox: its id, recorded with the events that handle it, its lane and sender. */
export interface Delivery {
  readonly messageId: string;
  /** Messages of one lane are handled in order: one not handled holds back the rest that wait. */
  readonly lane?: string;
  /** The entity whose `send` wrote it (none for a timer): `handle` sees it as `entity.sender`. */
  readonly sender?: EntityRef;
}

/** A call with `{ idempotencyKey }`: its answer is recorded under the key, and a repeat gets that answer. */
export interface KeyedCall {
  readonly key: string;
}

/** Whether hints of appends (see `FreshCopies`) may have been missed since a mark was taken. */
export interface HintMarks {
  mark(): number;
  missedSince(mark: number): boolean;
}

/** The parts of the system a worker uses. */
export interface WorkerRuntime {
  readonly registrations: Registrations;
  readonly maxConflictRetries: number;
  /**
   * The store's change token: unchanged while nothing but this system commits (see
   * `EventLog.changeToken`); undefined when the store cannot tell.
   */
  changeToken(): number | undefined;
  /** When the system hears hints of appends (a cluster on a store that gives them). */
  readonly hints?: HintMarks;
  /** Reads the entity's state: its whole log, or the events after `start` if given. */
  load<S>(definition: EntityDefinition<string, S>, id: string, start?: Loaded<S>): Promise<Loaded<S>>;
  /**
   * Commits one append (group commit may put it in a transaction with others); the commit's phases
   * are recorded on `traces`, the spans of the calls it answers, when there are any.
   */
  append(append: StreamAppend, traces: readonly CallTrace[]): Promise<CommitOutcome>;
  /** At most this many waiting messages are decided and committed together. */
  readonly maxBatch: number;
  /** The live answers recorded under these keys of the log `id`, by key. */
  answered(id: string, keys: readonly string[]): Promise<ReadonlyMap<string, RecordedAnswer>>;
  /** What a repeat of a keyed call answers: the recorded answer, with the state at its version. */
  repeat(
    definition: EntityDefinition,
    id: string,
    answer: RecordedAnswer,
    loaded?: Loaded<unknown>,
  ): Promise<MessageAnswer>;
  /** Answers recorded before this time have expired (the retention of idempotency keys). */
  keysSince(): number;
  /** Waits before deciding again after the `attempt`-th lost conflict (0: not at all). */
  backoff(attempt: number): Promise<void>;
  now(): number;
  /** Called right after a commit: effects, snapshots and feeds, off the entity's path. */
  committed(
    worker: EntityWorker,
    plan: CommitPlan,
    previousVersion: number,
    committed: Loaded<unknown>,
    position: string,
  ): void;
}

interface Pending {
  readonly message: unknown;
  readonly delivery: Delivery | undefined;
  /** An idempotent call's key. */
  readonly key: string | undefined;
  /** The call's span when tracing is on. */
  readonly trace: CallTrace | undefined;
  /** Replaced to answer a repeat of this delivery too (see `#takeBatch`). */
  resolve(result: MessageAnswer): void;
  reject(error: unknown): void;
}

/**
 * One loaded entity: a mailbox handled one batch at a time, in arrival order, and the state as of
 * the last read or commit this worker saw. Other workers for the same id may exist (in this or
 * another process): the expected version on every append keeps them honest, and a decision without
 * events is answered only on a state a read has just confirmed.
 */
export class EntityWorker {
  readonly ref: EntityRef;
  #lastUsed: number;
  /** Work of this entity that is not finished (effects of its commits): it stays loaded until then. */
  #holds = 0;
  #queue: Pending[] = [];
  #head = 0;
  #running = false;
  #loaded: Loaded<unknown> | undefined;
  /** The store's change token taken before `#loaded` was read or committed. */
  #token: number | undefined;
  /** The hint mark taken then, when the system hears hints. */
  #mark: number | undefined;
  /** The highest version a hint said the log reached. */
  #hinted = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #self: EntitySelf;

  constructor(
    private readonly definition: EntityDefinition,
    id: string,
    private readonly runtime: WorkerRuntime,
  ) {
    this.ref = { type: definition.type, id };
    this.#self = entitySelf(definition.type, id);
    this.#lastUsed = runtime.now();
  }

  /** True while messages wait or run, or work of the entity holds it. */
  get busy(): boolean {
    return this.#running || this.#holds > 0;
  }

  /** When the worker last took or finished a message. */
  get lastUsed(): number {
    return this.#lastUsed;
  }

  /** The committed state this worker holds, if loaded. */
  get loaded(): Loaded<unknown> | undefined {
    return this.#loaded;
  }

  /** Keeps the worker loaded (busy) until the returned function is called. */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
    };
  }

  /**
   * A hint that the log reached `version`: the next decision reads the newer events first. True
   * when it shows the loaded copy behind.
   */
  hint(version: number): boolean {
    if (version > this.#hinted) this.#hinted = version;
    return this.#loaded !== undefined && version > this.#loaded.version;
  }

  /**
   * Queues a message; a delivered one (`delivery`) that the log already handled is not handled
   * again, nor a keyed call (`keyed`) whose key the log has a live answer under: that answer is
   * given. Messages queued in one turn of the event loop are decided together. `trace` is the
   * call's span, when tracing is on: the batch's phases are recorded on it.
   */
  call(message: unknown, delivery?: Delivery, trace?: CallTrace, keyed?: KeyedCall): Promise<MessageAnswer> {
    this.#lastUsed = this.runtime.now();
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, delivery, key: keyed?.key, trace, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  /** Resolves once every accepted message is answered. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#head < this.#queue.length) {
      const batch = this.#takeBatch();
      try {
        await this.#handle(batch);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        this.#holdBackLanes(batch);
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.#running = false;
    this.#lastUsed = this.runtime.now();
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /**
   * The messages waiting, up to the batch limit, calls and delivered messages alike (the ids of
   * the delivered ones are recorded with the batch's events). A message id or idempotency key
   * already in the batch (a row delivered again while its first delivery waits, a call repeated
   * before the first answered) gets the first one's answer, whatever it is: handled, deferred or
   * failed, so neither caller takes it for done before it is.
   */
  #takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let byId: Map<string, Pending> | undefined;
    let byKey: Map<string, Pending> | undefined;
    while (batch.length < this.runtime.maxBatch && this.#head < this.#queue.length) {
      const next = this.#queue[this.#head++] as Pending;
      const id = next.delivery?.messageId ?? next.key;
      if (id !== undefined) {
        // Message ids and keys are two name spaces: a key may read like a message id.
        let seen: Map<string, Pending>;
        if (next.delivery) seen = byId ??= new Map();
        else seen = byKey ??= new Map();
        const first = seen.get(id);
        if (first) {
          const { resolve, reject } = first;
          first.resolve = (answer) => {
            resolve(answer);
            next.resolve(answer);
          };
          first.reject = (error) => {
            reject(error);
            next.reject(error);
          };
          continue;
        }
        seen.set(id, next);
      }
      batch.push(next);
    }
    return batch;
  }

  /**
   * A delivered message of these that was not handled holds back its lane: the messages of that
   * lane still waiting here are answered `deferred`, so no later one is handled before it.
   */
  #holdBackLanes(notHandled: readonly Pending[]): void {
    const lanes = new Set<string>();
    for (const pending of notHandled) if (pending.delivery?.lane !== undefined) lanes.add(pending.delivery.lane);
    if (lanes.size === 0) return;
    const waiting: Pending[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const pending = this.#queue[i] as Pending;
      const lane = pending.delivery?.lane;
      if (lane !== undefined && lanes.has(lane)) pending.resolve({ ok: false, deferred: true });
      else waiting.push(pending);
    }
    this.#queue = waiting;
    this.#head = 0;
  }

  /**
   * Decides a batch on the latest state, commits its events in one append, then answers each
   * caller. Every answer is decided on the log's version at some moment during the call: an append
   * is checked against the version it was decided on, and a decision without events is answered
   * only on a copy confirmed to be the latest: read after the messages arrived, or unchanged by
   * anyone else since it was read or committed (the store's change token says so), or confirmed
   * by a read now. A copy known to be behind (see `#behind`) reads the newer events before deciding.
   */
  async #handle(taken: readonly Pending[]): Promise<void> {
    const { definition, runtime } = this;
    // An entity not loaded yet is read while the keys are looked up.
    const loading = this.#loaded === undefined ? this.#read() : undefined;
    let batch = taken;
    if (taken.some((pending) => pending.key !== undefined)) {
      // Keyed calls the log has answered get that answer, and are not decided again.
      batch = await this.#repeats(taken, loading).catch(async (error: unknown) => {
        await loading?.catch(() => {});
        throw error;
      });
    }
    if (batch.length === 0) {
      await loading?.catch(() => {});
      return;
    }
    // True while `current` was read after the batch's messages arrived.
    let fresh = loading !== undefined;
    let current = loading ? await loading : (this.#loaded as Loaded<unknown>);
    if (!fresh && this.#behind(current)) {
      current = await this.#read(current);
      fresh = true;
    }
    for (let attempt = 0; ; attempt++) {
      const now = runtime.now();
      const inputs = batch.map(inputOf);
      const traces = tracesOf(batch);
      const started = traces.length > 0 ? performance.now() : 0;
      const decided = decideBatch(definition, this.ref, this.#self, current, inputs, runtime.registrations, now);
      if (traces.length > 0) {
        const attributes = { [Attribute.batchSize]: batch.length, [Attribute.attempt]: attempt + 1 };
        const ended = performance.now();
        for (const trace of traces) trace.phase(SpanName.decide, started, ended, attributes);
      }
      // A decision without events commits nothing, unless it answers keyed calls: their answers are
      // recorded by an append without events, checked against the version like any.
      if (decided.events.length === 0 && decided.keyed.length === 0) {
        if (fresh || this.#unchangedSince(this.#token)) return this.#answer(batch, decided.answers, '');
        // The copy may be stale (another system appended): confirm it, or catch up and decide again.
        const latest = await this.#read(current);
        fresh = true;
        if (latest.version === current.version) return this.#answer(batch, decided.answers, '');
        this.#giveUpAfter(attempt);
        current = latest;
        continue;
      }

      const { outbox, cancelTimers } = decided.plan;
      const messageIds = handledIds(batch, decided.answers);
      const { keyed } = decided;
      const token = runtime.changeToken();
      const mark = runtime.hints?.mark();
      const result = await runtime.append(
        {
          streamId: this.ref.id,
          expectedVersion: current.version,
          events: decided.events,
          eventVersion: definition.eventVersion,
          entityType: this.ref.type,
          ...(outbox.length > 0 ? { outbox } : {}),
          ...(cancelTimers.length > 0 ? { cancelTimers } : {}),
          ...(messageIds.length > 0 ? { messageIds } : {}),
          ...(keyed.length > 0 ? { idempotency: { since: runtime.keysSince(), answers: keyed } } : {}),
        },
        traces,
      );
      if (result.ok) {
        this.#loaded = decided.after;
        this.#token = token;
        this.#mark = mark;
        runtime.committed(this, decided.plan, current.version, decided.after, result.position);
        return this.#answer(batch, decided.answers, result.position);
      }
      // An inline projection failed on these events: nothing of the batch committed.
      if ('projectionFailed' in result) throw result.projectionFailed;
      if ('duplicate' in result) {
        // The log already handled some of these messages (delivered twice, or by two processes), or
        // answered some of these keys (a call repeated in another process): they are skipped, the
        // keyed ones answered as recorded, and the rest decided again.
        const repeated = new Set(result.messageIds);
        let rest = batch.filter((pending) => {
          const id = pending.delivery?.messageId;
          if (id === undefined || !repeated.has(id)) return true;
          pending.resolve({ ok: true, duplicate: true });
          return false;
        });
        if (result.keys?.length) rest = await this.#repeats(rest);
        if (rest.length === 0) return;
        if (rest.length === batch.length) this.#giveUpAfter(attempt);
        batch = rest;
        continue;
      }
      // Another worker appended first: its decisions stand. Read what it wrote and decide again.
      this.#giveUpAfter(attempt);
      await runtime.backoff(attempt);
      current = await this.#read(current);
      fresh = true;
    }
  }

  /**
   * Answers each message of a batch once its events are committed at `position` (or there were
   * none); a delivered message that was not handled holds back the rest of its lane.
   */
  #answer(batch: readonly Pending[], answers: readonly BatchAnswer[], position: string): void {
    const notHandled: Pending[] = [];
    batch.forEach((pending, i) => {
      const given = answers[i] as BatchAnswer;
      if ('fault' in given) {
        pending.reject(given.fault);
        notHandled.push(pending);
      } else if ('deferred' in given) {
        pending.resolve({ ok: false, deferred: true });
      } else {
        pending.resolve(given.ok ? { ok: true, state: given.state, version: given.version, position } : given);
      }
    });
    this.#holdBackLanes(notHandled);
  }

  /**
   * Answers the keyed calls of `batch` whose key the log holds a live answer under, with that
   * answer (`handle` is not called); answers the rest, to be decided. `loading`: the entity's
   * first read, under way: an answer at the version it reaches takes its state from it.
   */
  async #repeats(batch: readonly Pending[], loading?: Promise<Loaded<unknown>>): Promise<Pending[]> {
    const keys = batch.flatMap((pending) => (pending.key === undefined ? [] : [pending.key]));
    const found = await this.runtime.answered(this.ref.id, keys);
    if (found.size === 0) return [...batch];
    // A failed load is the batch's to report (see `#handle`); the answers then fold their own state.
    await loading?.catch(() => {});
    const rest: Pending[] = [];
    const repeats: Promise<void>[] = [];
    for (const pending of batch) {
      const answer = pending.key === undefined ? undefined : found.get(pending.key);
      if (!answer) rest.push(pending);
      else {
        const given = this.runtime.repeat(this.definition, this.ref.id, answer, this.#loaded);
        repeats.push(given.then(pending.resolve, pending.reject));
      }
    }
    await Promise.all(repeats);
    return rest;
  }

  /** Reads the entity's state (all of it, or the events after `start`) and keeps it, with the token taken before. */
  async #read(start?: Loaded<unknown>): Promise<Loaded<unknown>> {
    const token = this.runtime.changeToken();
    const mark = this.runtime.hints?.mark();
    const loaded = await this.runtime.load(this.definition, this.ref.id, start);
    this.#loaded = loaded;
    this.#token = token;
    this.#mark = mark;
    return loaded;
  }

  /**
   * True when the copy is known to be behind, or may be: a hint showed a newer version, hints were
   * not flowing since it was read, or the store's change token says another system committed.
   */
  #behind(copy: Loaded<unknown>): boolean {
    if (this.#hinted > copy.version) return true;
    const hints = this.runtime.hints;
    if (hints && (this.#mark === undefined || hints.missedSince(this.#mark))) return true;
    return this.#token !== undefined && !this.#unchangedSince(this.#token);
  }

  /** True when the store says nothing but this system committed since `token` was taken. */
  #unchangedSince(token: number | undefined): boolean {
    return token !== undefined && this.runtime.changeToken() === token;
  }

  /** Other writers kept moving the log while this batch was decided `attempt + 1` times. */
  #giveUpAfter(attempt: number): void {
    if (attempt < this.runtime.maxConflictRetries) return;
    throw new ConflictRetriesExhaustedError(
      `${this.ref.type} ${JSON.stringify(this.ref.id)}: gave up after ${attempt + 1} decisions on a log that kept moving; nothing was committed`,
    );
  }
}

/** What `decideBatch` takes of a waiting message. */
function inputOf(pending: Pending): BatchInput {
  const lane = pending.delivery?.lane;
  let input: BatchInput = lane === undefined ? { message: pending.message } : { message: pending.message, lane };
  const sender = pending.delivery?.sender;
  if (sender !== undefined) input = { ...input, sender };
  if (pending.key !== undefined) input = { ...input, key: pending.key };
  return pending.trace ? { ...input, trace: pending.trace.traceparent } : input;
}

const untraced: readonly CallTrace[] = [];

/** The spans of a batch's calls (none when tracing is off). */
function tracesOf(batch: readonly Pending[]): readonly CallTrace[] {
  if (!batch.some((pending) => pending.trace)) return untraced;
  const traces: CallTrace[] = [];
  for (const pending of batch) if (pending.trace) traces.push(pending.trace);
  return traces;
}

/** The ids of the delivered messages of a batch whose events its append records (the accepted ones). */
function handledIds(batch: readonly Pending[], answers: readonly BatchAnswer[]): string[] {
  const ids: string[] = [];
  batch.forEach((pending, i) => {
    const id = pending.delivery?.messageId;
    const given = answers[i] as BatchAnswer;
    if (id !== undefined && 'ok' in given && given.ok) ids.push(id);
  });
  return ids;
}
