/**
 * Wiring: the parts of a running system, made from its options and connected to each other. The
 * public `System` object (system.ts) uses them; nothing here is exported from the package.
 */
import { Cluster } from '../cluster/cluster.js';
import type { ForwardedCall } from '../cluster/protocol.js';
import type { Loaded } from '../core/fold.js';
import { assertValidId, assertValidKey } from '../core/id.js';
import { decodeFrozen } from '../core/json.js';
import { partitionOf } from '../core/partitions.js';
import type { EntityDefinition } from '../define/entity.js';
import { AtLeastOnceDeliverer, type MessageDelivery } from '../outbox/deliverer.js';
import { FeedSignal } from '../read/feed-signal.js';
import { ReadSide } from '../read/read-side.js';
import type {
  AnswersRead,
  LogRequest,
  LogStart,
  RecordedAnswer,
  StoredEvent,
  StreamAppend,
  StreamRead,
} from '../store/port/index.js';
import { CommitPhases } from '../telemetry/commit-phases.js';
import { type CallOrigin, type CallOutcome, Telemetry } from '../telemetry/telemetry.js';
import { activate, catchUp, loadAt, logRequestOf, PAGE_SIZE, type ReadPage } from './activation.js';
import { AtMostOnceEffects } from './at-most-once-effects.js';
import { Batcher } from './batcher.js';
import { FreshCopies } from './fresh-copies.js';
import { type CommitOutcome, GuardedStore } from './guarded-store.js';
import { LaneOrder } from './lane-order.js';
import { checkMessage } from './message-schema.js';
import type { Config } from './options.js';
import { liveSince, Pruner } from './retention.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { type Delivery, EntityWorker, type KeyedCall, type MessageAnswer, type WorkerRuntime } from './worker.js';
import { WorkerCache } from './worker-cache.js';

export interface Wiring {
  readonly config: Config;
  readonly store: GuardedStore;
  readonly workers: WorkerCache;
  readonly effects: AtMostOnceEffects;
  readonly snapshots: SnapshotWriter;
  readonly deliverer: AtLeastOnceDeliverer;
  readonly readSide: ReadSide;
  /** This node's part in a cluster, when the system has the `cluster` option. */
  readonly cluster: Cluster | undefined;
  /** Runs a call where it belongs: on its owner in a cluster, else here. */
  route(call: ForwardedCall): Promise<MessageAnswer>;
  /** Runs a checked call on this process's worker (no cluster). */
  here(
    definition: EntityDefinition,
    id: string,
    message: unknown,
    delivery?: Delivery,
    origin?: CallOrigin,
    keyed?: KeyedCall,
  ): Promise<MessageAnswer>;
  /** Forgets expired idempotency keys and message ids, in the background. */
  readonly pruner: Pruner;
  /** Wakes feeds and read-side runners at the commits of this system. */
  readonly commits: FeedSignal;
  /** Aborted when the system closes: every feed ends. */
  readonly closing: AbortController;
  /** Reads an entity's state: its whole log, or the events after `start`. */
  load<S>(definition: EntityDefinition<string, S>, id: string, start?: Loaded<S>): Promise<Loaded<S>>;
  /** The entity's state as of version `at` (time travel). */
  readAt<S>(definition: EntityDefinition<string, S>, id: string, at: number): Promise<Loaded<S>>;
  readPage: ReadPage;
  /** Changes with every commit and every delivered row. */
  activity(): number;
  /** Appends refused by the version check so far. */
  conflicts(): number;
  readonly telemetry: Telemetry;
}

export function wire(config: Config): Wiring {
  const { registered, clock, logger, environment } = config;
  const store = new GuardedStore(config.store);
  const { owner } = environment;
  const commits = new FeedSignal(clock, config.pollIntervalMs);
  const closing = new AbortController();
  const telemetry = new Telemetry();
  const readSide = new ReadSide({
    projections: config.projections,
    reactors: config.reactors,
    store,
    commits,
    clock,
    logger,
    owner,
    leaseMs: config.leaseMs,
    pollIntervalMs: config.pollIntervalMs,
    context: config.context,
    telemetry,
  });

  let conflicts = 0;
  const counted = (appends: readonly StreamAppend[], outcomes: readonly CommitOutcome[]) => {
    telemetry.committed(appends.length);
    outcomes.forEach((outcome, i) => {
      if (outcome.ok || !('conflict' in outcome)) return;
      conflicts++;
      telemetry.conflict((appends[i] as StreamAppend).entityType);
    });
    return outcomes;
  };
  const phases = new CommitPhases();
  // Group commit: appends of many entities in one transaction (one per log); activations and
  // catch-ups (or confirmations that a loaded copy is the latest) of many entities in one read each.
  // Inline projections run in the commit's transaction, once their `setup` has run.
  const committer = new Batcher<StreamAppend, CommitOutcome>(
    async (appends) => {
      phases.starting(appends);
      const recordedAt = clock.now();
      const project = readSide.projector(appends, recordedAt);
      if (!project) return counted(appends, await store.commit({ appends, recordedAt }));
      await readSide.ready();
      const outcomes = counted(appends, await store.commit({ appends, recordedAt, project }));
      return outcomes.map((outcome, i) =>
        'projectionFailed' in outcome
          ? {
              ok: false,
              projectionFailed: readSide.inlineFailure(appends[i] as StreamAppend, outcome.projectionFailed),
            }
          : outcome,
      );
    },
    config.maxBatch,
    (append) => append.streamId,
    // Several commits in flight, as the store allows, never two appends of one log. Inline
    // projections' statements of two commits at once could wait on each other's rows: one then.
    readSide.hasInline ? 1 : store.inFlight,
  );
  const opener = new Batcher<LogRequest, LogStart>(
    (requests) => store.readLogs(requests, PAGE_SIZE),
    config.maxBatch,
    undefined,
    store.inFlight,
  );
  const reader = new Batcher<StreamRead, readonly StoredEvent[]>(
    (requests) => store.readStreams(requests, PAGE_SIZE),
    config.maxBatch,
    undefined,
    store.inFlight,
  );
  // Lookups of keyed answers of many entities in one read.
  const keysSince = () => liveSince(clock.now(), config.retention.idempotencyKeysMs);
  const answers = new Batcher<AnswersRead, readonly RecordedAnswer[]>(
    (requests) => store.readAnswers(requests, keysSince()),
    config.maxBatch,
    undefined,
    store.inFlight,
  );
  const submit = (append: StreamAppend) => committer.submit(append);
  const readPage: ReadPage = (streamId, fromVersion) => reader.submit({ streamId, fromVersion });
  async function load<S>(definition: EntityDefinition<string, S>, id: string, start?: Loaded<S>) {
    if (start) return catchUp(definition, id, start, readPage);
    return activate(definition, id, await opener.submit(logRequestOf(definition, id)), readPage);
  }
  async function readAt<S>(definition: EntityDefinition<string, S>, id: string, at: number) {
    return loadAt(definition, id, at, await opener.submit(logRequestOf(definition, id)), readPage);
  }
  /** A repeat's answer: the rejection, or the state at the answer's version (folded again) and its position. */
  async function repeat(
    definition: EntityDefinition,
    id: string,
    answer: RecordedAnswer,
    loaded?: Loaded<unknown>,
  ): Promise<MessageAnswer> {
    if (answer.rejection !== undefined) return { ok: false, error: decodeFrozen(answer.rejection) };
    const { state } = loaded?.version === answer.version ? loaded : await readAt(definition, id, answer.version);
    return { ok: true, state, version: answer.version, position: answer.position };
  }

  const effects = new AtMostOnceEffects(
    (name) => registered.effect(name),
    config.context,
    logger,
    config.onEffectError,
    telemetry,
  );
  const snapshots = new SnapshotWriter(store, config.snapshotEvery, logger);
  let commitCount = 0;
  // Feeds wake once for the commits of one group commit, however many appends it had.
  let signalled = false;
  const commitSignal = () => {
    if (signalled) return;
    signalled = true;
    queueMicrotask(() => {
      signalled = false;
      commits.notify();
    });
  };
  // A cluster node keeps its loaded copies fresh from the store's hints of others' appends.
  const freshCopies = config.cluster && store.watchesAppends ? new FreshCopies((id) => workers.withId(id)) : undefined;
  const runtime: WorkerRuntime = {
    registrations: registered,
    ...(freshCopies ? { hints: freshCopies } : {}),
    maxConflictRetries: config.maxConflictRetries,
    maxBatch: config.maxBatch,
    now: () => clock.now(),
    changeToken: () => store.changeToken(),
    load,
    append: (append, traces) => phases.commit(append, traces, submit),
    async answered(id, keys) {
      const found = await answers.submit({ streamId: id, keys });
      return new Map(found.map((answer) => [answer.key, answer]));
    },
    repeat,
    keysSince,
    backoff: (attempt) => conflictBackoff(attempt, environment),
    committed(worker, plan, previousVersion, committed, position) {
      commitCount++;
      readSide.committed(worker.ref.type, position);
      commitSignal();
      effects.run(worker, plan.runs);
      if (plan.outbox.length > 0) deliverer.kick();
      snapshots.committed(
        worker.ref,
        registered.entity(worker.ref.type) as EntityDefinition,
        previousVersion,
        committed,
      );
    },
  };
  const workers = new WorkerCache(
    clock,
    config.idleTimeoutMs,
    config.maxActive,
    (definition, id) => new EntityWorker(definition, id, runtime),
  );
  const deliverer = new AtLeastOnceDeliverer({
    store,
    clock,
    logger,
    owner,
    leaseMs: config.leaseMs,
    pollIntervalMs: config.pollIntervalMs,
    batchSize: config.outboxBatchSize,
    passes: store.inFlight,
    effect: (name) => registered.effect(name),
    context: config.context,
    messageRetry: config.messageRetry,
    random: environment.random,
    telemetry,
    deliver(type, id, message, delivery) {
      const definition = registered.entity(type);
      if (!definition) return undefined;
      assertValidId(id);
      const schema = definition.messageSchema;
      if (schema === undefined) return route(deliveredCall(type, id, message, delivery));
      // Checked before routing: an invalid message reaches no worker or peer (a dead letter at once).
      return checkedInOrder.inOrder(delivery.lane, checkMessage(type, schema, message), (checked) =>
        route(deliveredCall(type, id, checked.message, delivery)),
      );
    },
  });
  /** Delivered messages of a lane reach their target in order, though their checks may end out of order. */
  const checkedInOrder = new LaneOrder();

  /** A call on this node's worker for the entity. */
  const local = (call: ForwardedCall, fromPeer = false): Promise<MessageAnswer> => {
    const { type, id, message, messageId, idempotencyKey } = call;
    assertValidId(id);
    if (idempotencyKey !== undefined) assertValidKey(idempotencyKey);
    const delivery = messageId === undefined ? undefined : deliveryOf(messageId, call);
    const origin = { parent: call.trace, sender: call.sender, delivered: delivery !== undefined, forwarded: fromPeer };
    const keyed = idempotencyKey === undefined ? undefined : { key: idempotencyKey };
    return here(registered.requireEntity(type), id, message, delivery, origin, keyed);
  };
  // A call's span is under the `traceparent` it carries (a delivery's, a peer's), else the caller's context.
  function here(
    definition: EntityDefinition,
    id: string,
    message: unknown,
    delivery?: Delivery,
    origin: CallOrigin = CALLED_HERE,
    keyed?: KeyedCall,
  ): Promise<MessageAnswer> {
    const worker = workers.get(definition, id);
    const span = telemetry.startCall(definition.type, id, origin);
    if (!span) return worker.call(message, delivery, undefined, keyed);
    return worker.call(message, delivery, span.trace, keyed).then(
      (answer) => {
        span.end(outcomeOf(answer), 'version' in answer ? answer.version : undefined);
        return answer;
      },
      (error: unknown) => {
        span.end('error', undefined, error);
        throw error;
      },
    );
  }
  const cluster =
    config.cluster &&
    new Cluster(config.cluster, {
      store,
      clock,
      logger,
      local,
      serves: (type) => registered.entity(type) !== undefined,
      unload(partitions) {
        const count = (config.cluster as NonNullable<typeof config.cluster>).partitions;
        workers.unloadIdle((worker) => partitions.has(partitionOf(worker.ref.id, count)));
      },
      conflicts: () => conflicts,
      telemetry,
      maxBatch: config.maxBatch,
      freshCopies,
    });
  const route = (call: ForwardedCall) => (cluster ? cluster.route(call) : local(call));
  const pruner = new Pruner(store, clock, logger, config.retention);

  return {
    config,
    store,
    workers,
    effects,
    snapshots,
    deliverer,
    readSide,
    cluster,
    route,
    here,
    pruner,
    commits,
    closing,
    load,
    readAt,
    readPage,
    conflicts: () => conflicts,
    telemetry,
    activity() {
      const { delivered, retried, deadLettered } = deliverer.counters;
      return commitCount + delivered + retried + deadLettered;
    },
  };
}

/** A message the outbox delivers, as a call routed to its target's owner. */
function deliveredCall(
  type: string,
  id: string,
  message: unknown,
  { messageId, lane, trace, sender, from }: MessageDelivery,
): ForwardedCall {
  return {
    type,
    id,
    message,
    messageId,
    ...(lane === undefined ? {} : { lane }),
    ...(trace === undefined ? {} : { trace }),
    ...(sender === undefined ? {} : { sender }),
    ...(from === undefined ? {} : { from }),
  };
}

/** A delivered message's id, lane and sender, as the worker takes them. */
function deliveryOf(messageId: string, { lane, from }: ForwardedCall): Delivery {
  if (from === undefined) return lane === undefined ? { messageId } : { messageId, lane };
  // A plain ref, whatever else a peer's JSON held.
  const sender = { type: from.type, id: from.id };
  return lane === undefined ? { messageId, sender } : { messageId, lane, sender };
}

/** The origin of a `system.call` run in this process: its span is under the caller's context. */
const CALLED_HERE: CallOrigin = { delivered: false, forwarded: false };

function outcomeOf(answer: MessageAnswer): CallOutcome {
  if (answer.ok) return 'duplicate' in answer ? 'duplicate' : 'ok';
  return 'deferred' in answer ? 'deferred' : 'rejected';
}

/**
 * Exponential backoff with full jitter between conflicting appends. It pauses on real timers, not
 * the injected clock: it spreads out colliding writers by a few milliseconds and schedules nothing.
 */
function conflictBackoff(attempt: number, { random, pause }: Config['environment']): Promise<void> {
  if (attempt === 0) return Promise.resolve();
  return pause(random() * Math.min(100, 2 ** attempt));
}
