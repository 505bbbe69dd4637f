import { SpanKind } from '@opentelemetry/api';
import type { PlannedRun } from '../core/commit-plan.js';
import type { AppContext, EffectDefinition } from '../define/effect.js';
import { EffectFailedError, type FailedEffect } from '../errors.js';
import type { Logger } from '../logger.js';
import { Attribute, SpanName, type Telemetry } from '../telemetry/telemetry.js';
import type { EntityWorker } from './worker.js';

/**
 * Runs the at-most-once effects of committed decisions in this process, right after the commit,
 * at most once each: in the order returned, and for one entity in commit order, without holding up
 * the entity's next message. A failing effect is reported to `onEffectError` and the log; it never
 * touches the call or the state. (At-least-once effects go through the outbox: see
 * outbox/deliverer.ts.)
 */
export class AtMostOnceEffects {
  readonly #chains = new WeakMap<EntityWorker, Promise<void>>();
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly effect: (name: string) => EffectDefinition | undefined,
    private readonly context: AppContext,
    private readonly logger: Logger,
    private readonly onEffectError: ((error: EffectFailedError, effect: FailedEffect) => void) | undefined,
    private readonly telemetry: Telemetry,
  ) {}

  run(worker: EntityWorker, effects: readonly PlannedRun[]): void {
    if (effects.length === 0) return;
    const release = worker.hold();
    const previous = this.#chains.get(worker) ?? Promise.resolve();
    const run = previous.then(() => this.#runAll(worker, effects));
    const settled = run.finally(() => {
      release();
      this.#running.delete(settled);
      if (this.#chains.get(worker) === run) this.#chains.delete(worker);
    });
    this.#chains.set(worker, run);
    this.#running.add(settled);
  }

  /** Resolves when every effect started so far has finished. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  async #runAll(worker: EntityWorker, effects: readonly PlannedRun[]): Promise<void> {
    const { ref } = worker;
    for (const { effect, payload, version, idempotencyKey, traceContext } of effects) {
      try {
        // Registration was checked before the commit.
        const definition = this.effect(effect) as EffectDefinition;
        const attributes = () => ({
          [Attribute.effect]: effect,
          [Attribute.entityType]: ref.type,
          [Attribute.entityId]: ref.id,
        });
        await this.telemetry.inSpan(SpanName.effect, traceContext ?? null, SpanKind.INTERNAL, attributes, () =>
          definition.run(payload, { context: this.context, ref, version, idempotencyKey, attempt: 1 }),
        );
      } catch (cause) {
        const failed = { effect, payload, ref: worker.ref, version, idempotencyKey };
        this.#report(new EffectFailedError(failed, cause), failed);
      }
    }
  }

  #report(error: EffectFailedError, failed: FailedEffect): void {
    this.logger.error('effect failed', {
      effect: failed.effect,
      idempotencyKey: failed.idempotencyKey,
      entityType: failed.ref.type,
      entityId: failed.ref.id,
      version: failed.version,
      error: error.cause,
    });
    try {
      this.onEffectError?.(error, failed);
    } catch (hookError) {
      this.logger.error('onEffectError threw', { error: hookError });
    }
  }
}
