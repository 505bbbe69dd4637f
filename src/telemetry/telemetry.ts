/**
 * Traces and metrics through `@opentelemetry/api` alone: the application registers an SDK (or not).
 * Without one, the API hands out non-recording spans and no-op instruments, and the runtime skips
 * everything it would only do for a recording span (phase spans, trace context on outbox rows), so
 * the cost is a few no-op calls per call. The names here are the documented ones
 * (docs/operations.md); changing one breaks the application's dashboards.
 */
import {
  type Attributes,
  type BatchObservableResult,
  context,
  createNoopMeter,
  type Histogram,
  INVALID_TRACEID,
  type Link,
  type Meter,
  metrics,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { messageOf } from '../errors.js';
import { contextOf, traceparentOf } from './trace-context.js';

/** Span names. */
export const SpanName = {
  /** A call or a delivered message, from its arrival to its answer (the owner's, when forwarded). */
  call: 'pachyderm.call',
  /** `handle` for the messages of a mailbox batch (children of each of their calls). */
  decide: 'pachyderm.decide',
  /** Waiting for the group commit to start. */
  commitWait: 'pachyderm.commit.wait',
  /** The group commit's transaction. */
  commit: 'pachyderm.commit',
  /** An outbox message handed to its target (a child of the span whose decision sent it). */
  deliver: 'pachyderm.deliver',
  /** An effect run: at-least-once from the outbox, at-most-once after the commit. */
  effect: 'pachyderm.effect',
  /** A batch of events applied by a projection or reactor. */
  projectionBatch: 'pachyderm.projection.batch',
  /** A call sent to its owner in the cluster. */
  forward: 'pachyderm.forward',
} as const;

/** Span and metric attribute names. */
export const Attribute = {
  entityType: 'pachyderm.entity.type',
  entityId: 'pachyderm.entity.id',
  /** `ok`, `rejected`, `error`, `duplicate` (a repeat already handled), `deferred`. */
  outcome: 'pachyderm.outcome',
  version: 'pachyderm.entity.version',
  messageId: 'pachyderm.message.id',
  /** True for a message delivered from the outbox, false for `system.call`. */
  delivered: 'pachyderm.delivered',
  batchSize: 'pachyderm.batch.size',
  attempt: 'pachyderm.attempt',
  commitSize: 'pachyderm.commit.appends',
  outboxId: 'pachyderm.outbox.id',
  outboxKind: 'pachyderm.outbox.kind',
  effect: 'pachyderm.effect.name',
  projection: 'pachyderm.projection.name',
  events: 'pachyderm.events',
  member: 'pachyderm.cluster.member',
} as const;

/** Metric names. */
export const MetricName = {
  calls: 'pachyderm.calls',
  callDuration: 'pachyderm.call.duration',
  conflicts: 'pachyderm.conflicts',
  commitBatchSize: 'pachyderm.commit.batch_size',
  deliveries: 'pachyderm.outbox.deliveries',
  outboxDepth: 'pachyderm.outbox.depth',
  outboxOldestAge: 'pachyderm.outbox.oldest_age',
  deadLetters: 'pachyderm.outbox.dead_letters',
  pendingTimers: 'pachyderm.outbox.pending_timers',
  projectionLag: 'pachyderm.projection.lag',
  projectionLagTime: 'pachyderm.projection.lag_time',
  activeEntities: 'pachyderm.entities.active',
} as const;

/** A call's span, handed to the worker that decides it: it records the phases of its batch. */
export class CallTrace {
  constructor(
    private readonly tracer: Tracer,
    readonly span: Span,
    /** What the rows its decision writes carry. */
    readonly traceparent: string,
  ) {}

  /** A finished phase (decide, commit wait, commit) as a child span; times from `performance.now()`. */
  phase(name: string, start: number, end: number, attributes: Attributes): void {
    if (!this.span.isRecording()) return;
    this.tracer.startSpan(name, { startTime: start, attributes }, trace.setSpan(ROOT_CONTEXT, this.span)).end(end);
  }
}

/** Where a call comes from, for its span. */
export interface CallOrigin {
  /** The `traceparent` its span is a child of: a delivery's, a peer's. */
  readonly parent?: string | undefined;
  /** A delivered message's sender: the `traceparent` its outbox row carries, which the span links to. */
  readonly sender?: string | undefined;
  readonly delivered: boolean;
  readonly forwarded: boolean;
}

/** The span options that link to a `traceparent`, when it names a span. */
function linkTo(traceparent: string | undefined): { links?: Link[] } {
  if (traceparent === undefined) return {};
  const spanContext = trace.getSpanContext(contextOf(traceparent));
  return spanContext ? { links: [{ context: spanContext }] } : {};
}

/** What answered a call, as the `outcome` attribute. */
export type CallOutcome = 'ok' | 'rejected' | 'error' | 'duplicate' | 'deferred';

/** An open call span: `end` it with the outcome. */
export interface OpenCall {
  /** For the worker; undefined when nothing records (no SDK), so it does no tracing work. */
  readonly trace: CallTrace | undefined;
  end(outcome: CallOutcome, version?: number, error?: unknown): void;
}

/** The gauges' sources, read when a metric reader collects. */
export interface ObservedSources {
  outboxStats(): Promise<{
    depth: number;
    deadLetters: number;
    pendingTimers: number;
    oldestDueAt: number | null;
  }>;
  now(): number;
  activeEntities(): number;
  projections(): readonly string[];
  lag(name: string): Promise<{ events: number; ms: number }>;
}

/**
 * One system's telemetry. Tracing follows the global tracer provider as it changes (the API's proxy
 * tracer); metrics use the meter provider registered when the system was created (the metrics API
 * has no proxy): register the SDK first.
 */
export class Telemetry {
  /** The global tracer provider: the API's proxy, whose delegate is the SDK once one registers. */
  readonly #provider = trace.getTracerProvider();
  /** The SDK's tracer, once there is one. */
  #tracer: Tracer | undefined;
  readonly #meter: Meter = metrics.getMeter('pachyderm');
  /** False without a meter provider: calls then skip their clock reads and metric updates. */
  readonly #metered = this.#meter !== createNoopMeter();
  readonly #calls: CallCounts | undefined = this.#metered ? callCountsOf(this.#meter) : undefined;
  readonly #callDuration: Histogram = this.#meter.createHistogram(MetricName.callDuration, {
    description: 'From a call arriving at its worker to its answer (decide, commit wait, commit)',
    unit: 's',
  });
  readonly #conflicts = this.#meter.createCounter(MetricName.conflicts, {
    description: 'Appends refused by the version check: another worker appended first',
    unit: '{append}',
  });
  readonly #commitSize = this.#meter.createHistogram(MetricName.commitBatchSize, {
    description: 'Appends (entities) per group commit',
    unit: '{append}',
    advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] },
  });
  readonly #deliveries = this.#meter.createCounter(MetricName.deliveries, {
    description: 'Outbox rows attempted, by kind and outcome (done, retry, dead, released)',
    unit: '{row}',
  });

  /**
   * Opens the span of a call arriving at its worker: under `from.parent` (a delivery's or a peer's
   * `traceparent`), else under the caller's active context, and linked to `from.sender` (the span
   * whose decision sent a delivered message). Undefined when there is nothing to record (no SDK).
   */
  startCall(type: string, id: string, from: CallOrigin): OpenCall | undefined {
    const { parent, sender, delivered, forwarded } = from;
    const metered = this.#metered;
    const tracer = this.#sdkTracer();
    if (!tracer && !metered) return undefined;
    const started = metered ? performance.now() : 0;
    const span = tracer?.startSpan(
      SpanName.call,
      {
        kind: forwarded ? SpanKind.SERVER : SpanKind.INTERNAL,
        attributes: { [Attribute.entityType]: type, [Attribute.entityId]: id, [Attribute.delivered]: delivered },
        ...linkTo(sender),
      },
      parent === undefined ? context.active() : contextOf(parent),
    );
    const traceparent = span && !untraced(span) ? traceparentOf(span) : undefined;
    if (traceparent === undefined && !metered) {
      span?.end();
      return undefined;
    }
    return {
      trace: tracer && span && traceparent !== undefined ? new CallTrace(tracer, span, traceparent) : undefined,
      end: (outcome, version, error) => {
        if (metered) {
          const attributes = (this.#calls as CallCounts).add(type, outcome);
          this.#callDuration.record((performance.now() - started) / 1000, attributes);
        }
        if (!span) return;
        if (span.isRecording()) {
          span.setAttribute(Attribute.outcome, outcome);
          if (version !== undefined) span.setAttribute(Attribute.version, version);
          if (error !== undefined) failed(span, error);
        }
        span.end();
      },
    };
  }

  /** Counts a refused append. */
  conflict(type: string): void {
    if (this.#metered) this.#conflicts.add(1, { [Attribute.entityType]: type });
  }

  /** Records a group commit's size. */
  committed(appends: number): void {
    if (this.#metered) this.#commitSize.record(appends);
  }

  /** Counts an outbox row's outcome. */
  delivery(kind: 'effect' | 'message', outcome: string): void {
    if (this.#metered) this.#deliveries.add(1, { [Attribute.outboxKind]: kind, [Attribute.outcome]: outcome });
  }

  /**
   * Runs `work` in a span (with `attributes()`) under `parent` (a `traceparent`; the active context when undefined; a new
   * trace when null): the span is active while it
   * runs (the application's own spans nest under it) and `work` gets the span's `traceparent` to
   * hand on. A throw marks the span failed.
   */
  async inSpan<T>(
    name: string,
    parent: string | undefined | null,
    kind: SpanKind,
    attributes: () => Attributes,
    work: (traceparent: string | undefined) => T | Promise<T>,
  ): Promise<T> {
    const tracer = this.#sdkTracer();
    if (!tracer) return work(undefined);
    const parentContext = parent === undefined ? context.active() : parent === null ? ROOT_CONTEXT : contextOf(parent);
    const span = tracer.startSpan(name, { kind, attributes: attributes() }, parentContext);
    const traceparent = untraced(span) ? undefined : traceparentOf(span);
    if (traceparent === undefined) {
      span.end();
      return work(undefined);
    }
    try {
      return await context.with(trace.setSpan(parentContext, span), () => work(traceparent));
    } catch (error) {
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * The registered SDK's tracer, or undefined without one: a check of the proxy's delegate, much
   * cheaper than a no-op span. Kept once found, as the API's own proxy tracer keeps it.
   */
  #sdkTracer(): Tracer | undefined {
    if (this.#tracer) return this.#tracer;
    const provider = this.#provider;
    const tracer =
      provider instanceof ProxyTracerProvider
        ? provider.getDelegateTracer('pachyderm')
        : provider.getTracer('pachyderm');
    if (tracer) this.#tracer = tracer;
    return tracer;
  }

  /** Registers the gauges; answers what unregisters them (at close). */
  observe(sources: ObservedSources): () => void {
    const meter = this.#meter;
    const gauge = (name: string, description: string, unit: string) =>
      meter.createObservableGauge(name, { description, unit });
    const depth = gauge(MetricName.outboxDepth, 'Outbox rows waiting or in delivery', '{row}');
    const oldest = gauge(MetricName.outboxOldestAge, 'Age of the oldest outbox row waiting, since due', 's');
    const dead = gauge(MetricName.deadLetters, 'Outbox rows given up on', '{row}');
    const timers = gauge(MetricName.pendingTimers, 'Timers whose time has not come', '{timer}');
    const lag = gauge(MetricName.projectionLag, 'Events a projection or reactor has not applied yet', '{event}');
    const lagTime = gauge(MetricName.projectionLagTime, 'Age of the oldest event a projection has not applied', 's');
    const active = gauge(MetricName.activeEntities, 'Entities loaded in this process', '{entity}');
    const observables = [depth, oldest, dead, timers, lag, lagTime, active];
    const callback = async (result: BatchObservableResult) => {
      result.observe(active, sources.activeEntities());
      try {
        const stats = await sources.outboxStats();
        result.observe(depth, stats.depth);
        result.observe(dead, stats.deadLetters);
        result.observe(timers, stats.pendingTimers);
        const now = sources.now();
        result.observe(oldest, stats.oldestDueAt === null ? 0 : Math.max(0, now - stats.oldestDueAt) / 1000);
        for (const name of sources.projections()) {
          const behind = await sources.lag(name);
          result.observe(lag, behind.events, { [Attribute.projection]: name });
          result.observe(lagTime, behind.ms / 1000, { [Attribute.projection]: name });
        }
      } catch {
        // The store is unavailable: these gauges have no value this time (calls report the fault).
      }
    };
    meter.addBatchObservableCallback(callback, observables);
    return () => meter.removeBatchObservableCallback(callback, observables);
  }
}

/**
 * The calls answered in this process under one meter, by entity type and outcome: counted in a map
 * and reported when a reader collects (an observable counter), which costs a call far less than a
 * counter's update, whose attributes the SDK hashes every time. Every system on the meter shares it.
 */
class CallCounts {
  readonly #counts = new Map<string, Map<CallOutcome, { n: number; attributes: Attributes }>>();

  constructor(meter: Meter) {
    const counter = meter.createObservableCounter(MetricName.calls, {
      description: 'Calls and delivered messages answered, by entity type and outcome',
      unit: '{call}',
    });
    counter.addCallback((result) => {
      for (const outcomes of this.#counts.values()) {
        for (const { n, attributes } of outcomes.values()) result.observe(n, attributes);
      }
    });
  }

  /** Counts a call; answers its attributes (one object per type and outcome, for the histogram too). */
  add(type: string, outcome: CallOutcome): Attributes {
    let outcomes = this.#counts.get(type);
    if (!outcomes) {
      outcomes = new Map();
      this.#counts.set(type, outcomes);
    }
    let count = outcomes.get(outcome);
    if (!count) {
      count = { n: 0, attributes: { [Attribute.entityType]: type, [Attribute.outcome]: outcome } };
      outcomes.set(outcome, count);
    }
    count.n++;
    return count.attributes;
  }
}

const callCounts = new WeakMap<Meter, CallCounts>();

function callCountsOf(meter: Meter): CallCounts {
  let counts = callCounts.get(meter);
  if (!counts) {
    counts = new CallCounts(meter);
    callCounts.set(meter, counts);
  }
  return counts;
}

/** A span with no context at all (no SDK): cheaper to tell than a full validity check. */
function untraced(span: Span): boolean {
  return !span.isRecording() && span.spanContext().traceId === INVALID_TRACEID;
}

function failed(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
}
