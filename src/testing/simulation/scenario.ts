/**
 * What `simulate`, `simulate.replay` and `exhaust` are given, checked once for all three: the
 * definitions, the invariant, the context factory, and whole numbers of runs, steps and depths.
 */
import type { EffectDefinition } from '../../define/effect.js';
import type { EntityDefinition } from '../../define/entity.js';
import { ConfigurationError } from '../../errors.js';
import type { Invariant, PlainRef, Scenario, SimulatedCall } from './run.js';

/** The options every kind of run takes. */
export interface ScenarioOptions<C> {
  readonly entities: readonly EntityDefinition[];
  readonly effects?: readonly EffectDefinition[];
  readonly context?: () => C;
  readonly invariant: Invariant<C>;
}

/** A checked scenario; `INVALID_CONFIGURATION` names `owner` (`simulate`, `exhaust`). */
export function scenarioOf<C>(
  owner: string,
  options: ScenarioOptions<C>,
  setup: readonly SimulatedCall[],
  addressed: readonly PlainRef[],
): Scenario<C> {
  if (!options || !Array.isArray(options.entities) || options.entities.length === 0) {
    throw new ConfigurationError(`${owner}: entities must be a non-empty list of defineEntity(...)`);
  }
  if (typeof options.invariant !== 'function') throw new ConfigurationError(`${owner}: invariant must be a function`);
  if (options.context !== undefined && typeof options.context !== 'function') {
    throw new ConfigurationError(`${owner}: context must be a function that makes one run's context`);
  }
  return {
    entities: options.entities,
    effects: options.effects ?? [],
    ...(options.context ? { context: options.context } : {}),
    setup,
    addressed,
    invariant: options.invariant,
  };
}

/** A whole number option, at least `min`. */
export function wholeNumber(owner: string, name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigurationError(`${owner}: ${name} must be an integer >= ${min}`);
  }
  return value;
}
