/**
 * Test a definition without a store: given these events, when this message, then these events,
 * effects, state or rejection. Events go through the same JSON round trip and `update` as in a
 * running system.
 *
 * @example
 * given(Counter, [{ type: 'Increased', amount: 1 }])
 *   .when({ type: 'Increment' })
 *   .then([{ type: 'Increased', amount: 1 }]);
 */
import assert from 'node:assert/strict';
import {
  applyEvent,
  decide,
  entitySelf,
  initialState,
  type Outcome,
  type Registrations,
  withSender,
} from '../core/decide.js';
import { decodeFrozen, encodeJson } from '../core/json.js';
import type { EffectCall, EntityDefinition, EntityRef } from '../define/entity.js';
import { isPachydermError } from '../errors.js';
import { defaultRetryPolicy } from '../outbox/retry-policy.js';

export type { TestClock } from '../clock.js';
export { createTestClock } from '../clock.js';

/** The outcome of `when`, to assert on. */
export interface Then<S, E, R> {
  /** `handle` accepted the message with exactly these events. */
  then(events: readonly E[]): void;
  /** `handle` accepted the message and asked for exactly these effects. */
  thenEffects(effects: readonly EffectCall[]): void;
  /** The state after the new events. */
  thenState(state: S): void;
  /** `handle` rejected the message with this reason. */
  thenError(reason: R): void;
  /** The step failed with a `PachydermError` of this code (e.g. `HANDLE_THREW`). */
  thenThrows(code: string): void;
}

export interface When<S, M, E, R> {
  /** Runs `handle` once on the state the given events lead to. */
  when(message: M): Then<S, E, R>;
}

/**
 * Starts a specification of one entity definition from the events already in its log.
 * `options.id` is the entity's id as `handle` sees it (default `test-entity`); `options.sender` is
 * `entity.sender`, the entity that sent the message (default none, as for a `system.call`).
 */
export function given<S, M, E, R>(
  definition: EntityDefinition<string, S, M, E, R>,
  events: readonly E[] = [],
  options: { id?: string; sender?: EntityRef } = {},
): When<S, M, E, R> {
  const id = options.id ?? 'test-entity';
  const self = entitySelf(definition.type, id);
  const sender = options.sender;
  const entity = sender === undefined ? self : withSender(self, { type: sender.type, id: sender.id });
  return {
    when(message) {
      let result: { outcome: Outcome<S, E, R> } | { thrown: unknown };
      try {
        let state = initialState(definition);
        events.forEach((event, i) => {
          state = applyEvent(definition, state, decodeFrozen<E>(encodeJson(event, `Given event ${i}`)));
        });
        result = { outcome: decide(definition, state, message, anything, entity) };
      } catch (thrown) {
        result = { thrown };
      }
      const accepted = () => {
        if ('thrown' in result) throw result.thrown;
        const { outcome } = result;
        if (outcome.kind !== 'accepted') {
          assert.fail(
            `Expected handle to accept the message, but it rejected it with ${JSON.stringify(outcome.reason)}`,
          );
        }
        return outcome;
      };
      const assertions: Omit<Then<S, E, R>, 'then'> = {
        thenEffects(expected) {
          const actual = roundTrip(accepted().requested.map(({ effect, payload }) => ({ effect, payload })));
          assert.deepStrictEqual(actual, roundTrip(expected.map(({ effect, payload }) => ({ effect, payload }))));
        },
        thenState(expected) {
          assert.deepStrictEqual(accepted().state, expected);
        },
        thenError(expected) {
          if ('thrown' in result) throw result.thrown;
          const { outcome } = result;
          if (outcome.kind !== 'rejected') {
            assert.fail(
              `Expected handle to reject the message, but it accepted it with ${JSON.stringify(outcome.events)}`,
            );
          }
          assert.deepStrictEqual(outcome.reason, expected);
        },
        thenThrows(code) {
          if (!('thrown' in result)) assert.fail(`Expected a ${code} error, but the step succeeded`);
          if (!isPachydermError(result.thrown)) throw result.thrown;
          assert.equal(result.thrown.code, code, result.thrown.message);
        },
      };
      return {
        ...assertions,
        // biome-ignore lint/suspicious/noThenProperty: given/when/then reads best; `await` on it is handled below.
        then(expected: readonly E[] | ((value: unknown) => void)) {
          // Awaited by mistake: resolve to the assertions instead of treating the callback as events.
          if (typeof expected === 'function') return expected(assertions);
          assert.deepStrictEqual(accepted().events, roundTrip(expected));
        },
      };
    },
  };
}

/** A definition is specified on its own: every effect and every target type is accepted. */
const anything: Registrations = {
  effect: (name) => ({
    kind: 'effect',
    name,
    delivery: 'at-most-once',
    retry: defaultRetryPolicy,
    run() {},
    with: () => ({ effect: name, payload: undefined }),
  }),
  hasEntity: () => true,
};

function roundTrip<T>(value: T): T {
  return JSON.parse(encodeJson(value, 'The expected value')) as T;
}

export type { CheckReplayOptions, ReplayFailure, ReplayReport } from './check-replay.js';
export { checkReplay } from './check-replay.js';
export type { GivenEvent, ProjectedDatabase, ProjectionThen, RenderedStatement } from './projection.js';
export { givenProjection, runProjection } from './projection.js';
export type { Faults } from './simulation/choose.js';
export type { ExhaustOptions, ExhaustResult } from './simulation/exhaust.js';
export { exhaust } from './simulation/exhaust.js';
export type { Rng } from './simulation/rng.js';
export type { Invariant, SimulatedCall } from './simulation/run.js';
export type { ReplayOptions, ReplayResult, SimulateOptions, SimulateResult } from './simulation/simulate.js';
export { simulate } from './simulation/simulate.js';
export type { SimulationStep, StepAction } from './simulation/steps.js';
export type { InFlightMessage, SimulationView } from './simulation/view.js';
