/**
 * Delivers the outbox, at least once: at-least-once effects, messages to entities and timers. One
 * deliverer per system; several systems (processes) share an outbox through leases, so a row is
 * delivered by one of them at a time, and a row leased by a process that died is taken over when
 * its lease expires. (At-most-once effects run in process: see runtime/at-most-once-effects.ts.)
 */
import { SpanKind } from '@opentelemetry/api';
import type { CancelTimer, Clock } from '../clock.js';
import { decodeJson } from '../core/json.js';
import type { AppContext, EffectDefinition } from '../define/effect.js';
import { ErrorCode, isPachydermError, messageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Outbox, OutboxOutcome, OutboxRecord } from '../store/port/index.js';
import { Attribute, SpanName, type Telemetry } from '../telemetry/telemetry.js';
import { type RetryPolicy, retryDelay } from './retry-policy.js';
import { SettleQueue } from './settle-queue.js';

/** The outbox as the deliverer uses it: the store's outbox part, failures reported as `STORE_UNAVAILABLE`. */
type OutboxStore = Pick<Outbox, 'claimOutbox' | 'settleOutbox' | 'nextDueAt'>;

/**
 * What the target entity answered a delivered message: handled (or a repeat), rejected, or not
 * handled because an earlier message of its lane was not (`deferred`).
 */
export type DeliveryResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: unknown }
  | { readonly ok: false; readonly deferred: true };

/** What the deliverer knows of a message it hands over, beside its target and the message. */
export interface MessageDelivery {
  /** The row's idempotency key: the target records it with the events that handle the message. */
  readonly messageId: string;
  /** The row's order key: a lane's messages are handled in order. */
  readonly lane?: string;
  /** The `traceparent` of the delivery's span. */
  readonly trace?: string;
  /** The `traceparent` of the span whose decision wrote the row. */
  readonly sender?: string;
  /** The entity whose `send` wrote the row; none for a timer. */
  readonly from?: { readonly type: string; readonly id: string };
}

export interface DelivererOptions {
  readonly store: OutboxStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Identifies this process's leases. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  /**
   * Passes run side by side while the rounds come back full (their claims take different rows): as
   * many as the store has commits in flight.
   */
  readonly passes: number;
  effect(name: string): EffectDefinition | undefined;
  readonly context: AppContext;
  /** Retries of messages to entities. */
  readonly messageRetry: RetryPolicy;
  /** The jitter of retry delays: a number in [0, 1). */
  readonly random: () => number;
  /** Each delivery and effect is a span, a child of the one whose decision wrote the row. */
  readonly telemetry: Telemetry;
  /**
   * Hands a message to the target entity of this system; undefined when it serves no such type.
   * Messages handed over in one turn of the event loop reach their targets' mailboxes together.
   */
  deliver(type: string, id: string, message: unknown, delivery: MessageDelivery): Promise<DeliveryResult> | undefined;
}

/** What this process did since it started. */
export interface DeliveryCounters {
  delivered: number;
  retried: number;
  deadLettered: number;
}

export class AtLeastOnceDeliverer {
  readonly counters: DeliveryCounters = { delivered: 0, retried: 0, deadLettered: 0 };
  #cancelWake: CancelTimer | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Until `start`, nothing is delivered (a tool's system never starts it). */
  #started = false;
  /** Why the last pass failed, while the store is unavailable. */
  #failure: unknown;

  constructor(private readonly options: DelivererOptions) {}

  /** Delivers what is due now, then keeps polling. */
  start(): void {
    this.#started = true;
    this.kick();
  }

  /** Looks at the outbox as soon as possible (after a commit that wrote to it). */
  kick(): void {
    if (this.#stopped || !this.#started) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      // A kick that came while the loop was finishing must not be lost.
      if (this.#again) this.kick();
    });
  }

  /**
   * Resolves once a pass finds nothing due now (passes run until then); rejects with the store's
   * error when the outbox cannot be read.
   */
  async settle(): Promise<void> {
    this.kick();
    while (this.#running) await this.#running;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Stops polling and waits for deliveries under way. Rows not delivered stay in the outbox. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    await this.#running;
  }

  /** Runs passes until nothing is due now, then arms a wake-up at the next due time (at most a poll interval away). */
  async #loop(): Promise<void> {
    const { store, clock, logger, pollIntervalMs } = this.options;
    for (;;) {
      // Delivering rows can make later rows of the same order key eligible: go on until a pass
      // claims nothing.
      let passAt: number;
      let claimedAny: boolean;
      let full = false;
      do {
        this.#again = false;
        passAt = clock.now();
        try {
          // Passes side by side only while rounds come back full: a backlog.
          const at = passAt;
          const width: number = full ? this.options.passes : 1;
          const claimed: number[] = await Promise.all(Array.from({ length: width }, () => this.#pass(at)));
          claimedAny = claimed.some((count) => count > 0);
          full = claimed.some((count) => count === this.options.batchSize);
          if (this.#failure) logger.info('outbox delivery resumed', {});
          this.#failure = undefined;
        } catch (error) {
          if (!this.#failure) logger.warn('outbox unavailable; delivery will try again', { error });
          this.#failure = error;
          claimedAny = false;
        }
      } while (!this.#stopped && (this.#again || claimedAny));
      if (this.#stopped) return;
      let wakeAt = clock.now() + pollIntervalMs;
      if (!this.#failure) {
        // Rows due at `passAt` and not claimed are held back or leased elsewhere: look past them.
        const due = await store.nextDueAt(passAt).catch(() => undefined);
        if (due !== undefined) wakeAt = Math.min(wakeAt, due);
      }
      if (this.#stopped) return;
      // Time moved on while we looked (a test clock advanced, or a row fell due): another pass now.
      if (this.#again || wakeAt <= clock.now()) continue;
      this.#cancelWake = clock.setTimeout(() => this.kick(), wakeAt - clock.now());
      return;
    }
  }

  /**
   * Claims a batch, delivers it and records the outcomes (see SettleQueue); answers how many rows it
   * claimed. Every message of the batch is handed over at once, so the messages to one target (of
   * one lane or many) meet in its mailbox and are decided and committed together. The rows of a lane
   * are settled in order: once one of a message lane is not delivered, the rest go back unattempted
   * (its target has answered them `deferred`), so no later message overtakes it. The effects of a
   * lane run one after the other; lanes run side by side.
   */
  async #pass(now: number): Promise<number> {
    const { store, owner, leaseMs, batchSize, logger } = this.options;
    const claimed = await store.claimOutbox({ owner, now, leaseMs, limit: batchSize });
    if (claimed.length === 0) return 0;
    const lanes = new Map<string, OutboxRecord[]>();
    for (const row of claimed) {
      const lane = row.orderKey ?? `row:${row.id}`;
      const rows = lanes.get(lane);
      if (rows) rows.push(row);
      else lanes.set(lane, [row]);
    }
    const sent = new Map<OutboxRecord, Promise<OutboxOutcome>>();
    for (const row of claimed) if (row.kind === 'message') sent.set(row, this.#sendMessage(row));
    const outcomes = new SettleQueue(store, owner, logger);
    await Promise.all(
      [...lanes.values()].map(async (rows) => {
        let stopped = false;
        for (const row of rows) {
          let outcome = await (sent.get(row) ?? this.#runEffect(row));
          // A message lane stops at its first row not delivered: the rest wait for it.
          if (stopped && !('done' in outcome)) outcome = { released: true };
          else if (row.kind === 'message' && !('done' in outcome) && !('dead' in outcome)) stopped = true;
          this.#count(row, outcome);
          outcomes.add([{ id: row.id, outcome: storable(outcome) }]);
        }
      }),
    );
    await outcomes.drained();
    return claimed.length;
  }

  #count(row: OutboxRecord, outcome: OutboxOutcome): void {
    const { logger } = this.options;
    const fields = {
      outboxId: row.id,
      kind: row.kind,
      name: row.name,
      targetId: row.targetId,
      idempotencyKey: row.idempotencyKey,
      attempt: row.attempts,
    };
    const name = 'done' in outcome ? 'done' : 'dead' in outcome ? 'dead' : 'retryAt' in outcome ? 'retry' : 'released';
    this.options.telemetry.delivery(row.kind, name);
    if ('done' in outcome) this.counters.delivered++;
    else if ('dead' in outcome) {
      this.counters.deadLettered++;
      logger.error('outbox row dead-lettered', { ...fields, error: outcome.error });
    } else if ('retryAt' in outcome) {
      this.counters.retried++;
      logger.warn('outbox delivery failed; will retry', {
        ...fields,
        retryInMs: outcome.retryAt - this.options.clock.now(),
        error: outcome.error,
      });
    }
  }

  async #runEffect(row: OutboxRecord): Promise<OutboxOutcome> {
    const definition = this.options.effect(row.name);
    if (!definition)
      return { dead: true, error: `Effect ${JSON.stringify(row.name)} is not registered in this process` };
    const ref = { type: row.sourceType, id: row.sourceId };
    try {
      await this.options.telemetry.inSpan(
        SpanName.effect,
        row.traceContext ?? null,
        SpanKind.INTERNAL,
        () => rowAttributes(row),
        () =>
          definition.run(row.payload === null ? undefined : decodeJson(row.payload), {
            context: this.options.context,
            ref,
            version: row.sourceVersion,
            idempotencyKey: row.idempotencyKey,
            attempt: row.attempts,
          }),
      );
      return { done: true };
    } catch (error) {
      return this.#failed(row, definition.retry, messageOf(error));
    }
  }

  async #sendMessage(row: OutboxRecord): Promise<OutboxOutcome> {
    const target = { type: row.name, id: row.targetId ?? '' };
    const { telemetry } = this.options;
    try {
      const result = await telemetry.inSpan(
        SpanName.deliver,
        row.traceContext ?? null,
        SpanKind.CONSUMER,
        () => rowAttributes(row),
        (trace) => {
          const lane = row.orderKey ?? undefined;
          const delivery = this.options.deliver(target.type, target.id, decodeJson(row.payload ?? 'null'), {
            messageId: row.idempotencyKey,
            ...(lane === undefined ? {} : { lane }),
            ...(trace === undefined ? {} : { trace }),
            ...(row.traceContext === undefined ? {} : { sender: row.traceContext }),
            ...(row.timer ? {} : { from: { type: row.sourceType, id: row.sourceId } }),
          });
          return delivery ?? Promise.resolve(undefined);
        },
      );
      if (!result) {
        return { dead: true, error: `Entity type ${JSON.stringify(target.type)} is not served by this process` };
      }
      if (result.ok) return { done: true };
      if ('deferred' in result) return { released: true };
      return { dead: true, error: `${target.type} rejected the message: ${safeJson(result.error)}` };
    } catch (error) {
      // It failed its target's messageSchema: it will not pass on a later attempt.
      if (isPachydermError(error, ErrorCode.InvalidMessage)) return { dead: true, error: error.message };
      return this.#failed(row, this.options.messageRetry, messageOf(error));
    }
  }

  #failed(row: OutboxRecord, policy: RetryPolicy, error: string): OutboxOutcome {
    if (row.attempts >= policy.maxAttempts) return { dead: true, error };
    return { retryAt: this.options.clock.now() + retryDelay(policy, row.attempts, this.options.random), error };
  }
}

/**
 * The outcome with an error text every store can hold: PostgreSQL's text holds no NUL, and an
 * error's text may come from anywhere (a thrown message, a schema's issues quoting the message).
 */
function storable(outcome: OutboxOutcome): OutboxOutcome {
  if (!('error' in outcome) || !outcome.error.includes('\u0000')) return outcome;
  return { ...outcome, error: outcome.error.replaceAll('\u0000', '\uFFFD') };
}

/** A row's span attributes. */
function rowAttributes(row: OutboxRecord) {
  return {
    [Attribute.outboxId]: row.id,
    [Attribute.outboxKind]: row.kind,
    [Attribute.attempt]: row.attempts,
    ...(row.kind === 'effect'
      ? { [Attribute.effect]: row.name, [Attribute.entityType]: row.sourceType, [Attribute.entityId]: row.sourceId }
      : { [Attribute.entityType]: row.name, [Attribute.entityId]: row.targetId ?? '' }),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
