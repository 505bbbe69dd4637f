/**
 * `simulate`: many seeded runs of the application's own entities on the real runtime, each a
 * random schedule of calls, store calls, deliveries, time and faults, with the invariant checked
 * after every step; a failing schedule is shrunk to the fewest steps that still fail. And
 * `simulate.replay`, which plays a schedule again.
 */
import type { EffectDefinition } from '../../define/effect.js';
import type { EntityDefinition } from '../../define/entity.js';
import { ConfigurationError, ErrorCode, InvariantBrokenError, isPachydermError } from '../../errors.js';
import { chooseStep, type Faults } from './choose.js';
import { replaySchedule } from './replay.js';
import { reported, reportText } from './report.js';
import { createRng, type Rng } from './rng.js';
import { type Invariant, type PlainRef, Run, type Scenario, type SimulatedCall } from './run.js';
import { scenarioOf, wholeNumber } from './scenario.js';
import { shrink } from './shrink.js';
import type { SimulationStep, StepAction } from './steps.js';

export interface SimulateOptions<C = unknown> {
  readonly entities: readonly EntityDefinition[];
  readonly effects?: readonly EffectDefinition[];
  /** Makes the `context` of each run: effects get it, and the invariant as `view.context`. */
  readonly context?: () => C;
  /** Calls made and played to the end before each run's first step (faults apart), e.g. opening accounts. */
  readonly setup?: readonly SimulatedCall[];
  /** The next call from outside, drawn from the run's seed. */
  readonly workload: (rng: Rng) => SimulatedCall;
  /** Checked after every step: false or a throw is a failure. */
  readonly invariant: Invariant<C>;
  /** Run `i` plays seed `seed + i`. Default 1. */
  readonly seed?: number;
  /** Default 100. */
  readonly runs?: number;
  /** Steps per run. Default 100. */
  readonly steps?: number;
  /** Each fault is on unless set to false. */
  readonly faults?: Partial<Faults>;
}

export type SimulateResult =
  | { readonly ok: true; readonly runs: number; readonly steps: number }
  | {
      readonly ok: false;
      /** The seed of the failing run: `simulate({ ...options, seed, runs: 1 })` plays it again. */
      readonly seed: number;
      /** The failing run's steps, up to the one that broke the invariant. */
      readonly schedule: readonly SimulationStep[];
      /** The fewest of those steps that still break it: give it to `simulate.replay`. */
      readonly shortest: readonly SimulationStep[];
      readonly error: InvariantBrokenError;
      /** `shortest` in words, with the states before and after its last step. */
      readonly report: string;
    };

/**
 * The options of `simulate.replay`: the entities and the invariant; the effects, setup and context
 * of the simulation that answered the schedule unless given; `workload`, to find the entities it
 * addresses (else those of the simulation, or those the schedule's calls name).
 */
export type ReplayOptions<C = unknown> = Pick<SimulateOptions<C>, 'entities' | 'invariant'> &
  Partial<Pick<SimulateOptions<C>, 'effects' | 'context' | 'setup' | 'workload'>>;

export type ReplayResult =
  | { readonly ok: true; readonly steps: number; readonly schedule: readonly SimulationStep[] }
  | {
      readonly ok: false;
      readonly schedule: readonly SimulationStep[];
      readonly error: InvariantBrokenError;
      readonly report: string;
    };

/** Draws from the workload, on a stream of their own, that find the entities it addresses. */
const PROBE_DRAWS = 1000;
/** A type whose workload addresses more entities than this has none besides those with events. */
const PROBE_MAX = 100;

/** What a schedule `simulate` answered was played with, for `replay` when its options leave it out. */
const origins = new WeakMap<readonly StepAction[], Omit<Scenario, 'entities' | 'invariant'>>();

async function simulateRuns<C>(options: SimulateOptions<C>): Promise<SimulateResult> {
  if (typeof options?.workload !== 'function') throw new ConfigurationError('simulate: workload must be a function');
  const setup = options.setup ?? [];
  const scenario = scenarioOf('simulate', options, setup, addressedBy(options.workload, setup));
  const seed = wholeNumber('simulate', 'seed', options.seed ?? 1, Number.MIN_SAFE_INTEGER);
  const runs = wholeNumber('simulate', 'runs', options.runs ?? 100, 1);
  const steps = wholeNumber('simulate', 'steps', options.steps ?? 100, 1);
  const faults: Faults = {
    duplicateWorkers: options.faults?.duplicateWorkers !== false,
    crashes: options.faults?.crashes !== false,
    redeliveries: options.faults?.redeliveries !== false,
    clockJumps: options.faults?.clockJumps !== false,
    storeErrors: options.faults?.storeErrors !== false,
  };
  const processes = faults.duplicateWorkers ? ['p1', 'p2'] : ['p1'];
  for (let i = 0; i < runs; i++) {
    const runSeed = seed + i;
    const rng = createRng(runSeed, 0);
    const workloadRng = createRng(runSeed, 1);
    let run: Run<C>;
    try {
      run = await Run.open(scenario, processes);
    } catch (error) {
      if (!isPachydermError(error, ErrorCode.InvariantBroken)) throw error;
      const broken = error as InvariantBrokenError;
      const report = reportText(`Seed ${runSeed}: the invariant fails before the first step.`, [], undefined, broken);
      return { ok: false, seed: runSeed, schedule: [], shortest: [], error: reported(broken, report), report };
    }
    for (let step = 0; step < steps; step++) {
      const broken = await run.step(await chooseStep(run.world, rng, () => options.workload(workloadRng), faults));
      if (!broken) continue;
      const replayed = await replaySchedule(scenario, await shrink(scenario, run.steps));
      if (replayed.ok) throw new Error(`simulate: the shrunk schedule of seed ${runSeed} did not fail again`);
      const { schedule: shortest, error, change } = replayed;
      const found = InvariantBrokenError.summary(broken.step, broken.cause);
      const title = `Seed ${runSeed}: ${found}. Shortest schedule (${shortest.length} of ${run.steps.length} steps):`;
      const report = reportText(title, shortest, change, error);
      for (const schedule of [run.steps, shortest]) origins.set(schedule, scenario);
      return { ok: false, seed: runSeed, schedule: run.steps, shortest, error: reported(error, report), report };
    }
  }
  return { ok: true, runs, steps };
}

/**
 * Plays a schedule (a simulation's `shortest` or `schedule`, or steps written by hand) again. The
 * effects, setup, context and entities of the simulation that answered the schedule are used
 * unless `options` gives them.
 */
async function replay<C>(schedule: readonly StepAction[], options: ReplayOptions<C>): Promise<ReplayResult> {
  if (!Array.isArray(schedule)) throw new ConfigurationError('simulate.replay: the schedule must be a list of steps');
  const origin = origins.get(schedule);
  const setup = options?.setup ?? origin?.setup ?? [];
  const addressed = options?.workload
    ? addressedBy(options.workload, setup)
    : (origin?.addressed ??
      [...setup, ...schedule.flatMap((step) => (step.kind === 'call' ? [step] : []))].map(plainRef));
  const context = (options?.context ?? origin?.context) as (() => C) | undefined;
  const given = { ...options, effects: options?.effects ?? origin?.effects ?? [], ...(context ? { context } : {}) };
  const scenario = scenarioOf('simulate.replay', given, setup, addressed);
  const replayed = await replaySchedule(scenario, schedule);
  origins.set(replayed.schedule, scenario);
  if (replayed.ok) return { ok: true, steps: replayed.schedule.length, schedule: replayed.schedule };
  const { error } = replayed;
  const title = `${InvariantBrokenError.summary(error.step, error.cause)}. Schedule (${replayed.schedule.length} steps):`;
  const report = reportText(title, replayed.schedule, replayed.change, error);
  return { ok: false, schedule: replayed.schedule, error: reported(error, report), report };
}

/**
 * The entities a workload addresses: drawn from it on a stream of their own (the same for every
 * seed), with the setup's. A type with more than {@link PROBE_MAX} is left out: only its entities
 * with events are in the world.
 */
function addressedBy(workload: (rng: Rng) => SimulatedCall, setup: readonly SimulatedCall[]): PlainRef[] {
  const rng = createRng(0, 3);
  const byType = new Map<string, Set<string>>();
  const add = ({ ref }: SimulatedCall) => {
    if (typeof ref?.type !== 'string' || typeof ref.id !== 'string') return;
    const ids = byType.get(ref.type) ?? new Set<string>();
    ids.add(ref.id);
    byType.set(ref.type, ids);
  };
  for (let i = 0; i < PROBE_DRAWS; i++) add(workload(rng));
  setup.forEach(add);
  return [...byType].flatMap(([type, ids]) => (ids.size > PROBE_MAX ? [] : [...ids].map((id) => ({ type, id }))));
}

function plainRef({ ref }: { readonly ref: PlainRef }): PlainRef {
  return { type: ref?.type, id: ref?.id };
}

/**
 * Explores random schedules of calls, deliveries, time and faults on the real runtime, checking
 * `invariant` after every step. The same options and seed give the same result, byte for byte.
 *
 * @example
 * const result = await simulate({ entities: [Account], setup, workload, invariant, runs: 200 });
 * if (!result.ok) console.log(result.report);
 */
export const simulate: typeof simulateRuns & { replay: typeof replay } = Object.assign(simulateRuns, { replay });
