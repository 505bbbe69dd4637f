/**
 * `exhaust`: every order in which the messages between entities, their timers and the starting
 * calls can be delivered, up to a depth, each played on the real runtime with the invariant
 * checked after every delivery. Appends, settlements and at-least-once effects run as they come;
 * only deliveries are chosen. The runtime cannot be forked, so each ordering is played from the
 * start: a depth-first walk that replays the prefix it backtracks to.
 */
import type { EffectDefinition } from '../../define/effect.js';
import type { EntityDefinition } from '../../define/entity.js';
import { ConfigurationError, ErrorCode, InvariantBrokenError, isPachydermError } from '../../errors.js';
import { rowKeyOf } from './describe.js';
import { reported, reportText } from './report.js';
import { type Invariant, Run, type Scenario, type SimulatedCall } from './run.js';
import { scenarioOf, wholeNumber } from './scenario.js';
import type { SimulationStep, StepAction } from './steps.js';

export interface ExhaustOptions<C = unknown> {
  readonly entities: readonly EntityDefinition[];
  readonly effects?: readonly EffectDefinition[];
  readonly context?: () => C;
  /** The calls from outside: delivered, like messages, in every order. */
  readonly start: readonly SimulatedCall[];
  readonly invariant: Invariant<C>;
  /** Deliveries per ordering at most. Default 10. */
  readonly maxDepth?: number;
  /** Stop after this many orderings (`complete: false`). Default 100 000. */
  readonly maxOrderings?: number;
  /** Called with each ordering's steps, once per ordering. */
  readonly onOrdering?: (steps: readonly SimulationStep[]) => void;
}

export type ExhaustResult =
  | { readonly ok: true; readonly orderings: number; readonly complete: boolean }
  | {
      readonly ok: false;
      /** Orderings played, the failing one included. */
      readonly orderings: number;
      /** The ordering that broke the invariant: its deliveries, each with what followed it. */
      readonly counterexample: readonly SimulationStep[];
      readonly error: InvariantBrokenError;
      /** The counterexample in words, with the states before and after its last delivery. */
      readonly report: string;
    };

/** Past any time a timer of a run can have. */
const FAR = Number.MAX_SAFE_INTEGER / 4;

/**
 * Plays every ordering of deliveries up to `maxDepth` and checks `invariant` after each delivery.
 *
 * @example
 * const all = await exhaust({ entities: [PingPong], start: [{ ref: bob, message: { ping: 'alice' } }], invariant });
 */
export async function exhaust<C>(options: ExhaustOptions<C>): Promise<ExhaustResult> {
  if (!Array.isArray(options?.start)) throw new ConfigurationError('exhaust: start must be a list of { ref, message }');
  const addressed = options.start.map(({ ref }) => ({ type: ref?.type, id: ref?.id }));
  const scenario = scenarioOf('exhaust', options, [], addressed);
  const maxDepth = wholeNumber('exhaust', 'maxDepth', options.maxDepth ?? 10, 1);
  const maxOrderings = wholeNumber('exhaust', 'maxOrderings', options.maxOrderings ?? 100_000, 1);
  let orderings = 0;
  let path: number[] = [];
  for (;;) {
    const played = await play(scenario, options.start, path, maxDepth, false);
    orderings++;
    options.onOrdering?.(played.run.steps);
    if (played.broken) {
      const again = await play(scenario, options.start, played.taken, maxDepth, true);
      const steps = again.run.steps;
      const error = again.broken ?? played.broken;
      const title = `${InvariantBrokenError.summary(error.step, error.cause)}. Ordering ${orderings} (${steps.length} deliveries):`;
      const report = reportText(title, steps, again.run.change, error);
      return { ok: false, orderings, counterexample: steps, error: reported(error, report), report };
    }
    const { taken, counts } = played;
    let depth = taken.length - 1;
    while (depth >= 0 && (taken[depth] as number) + 1 >= (counts[depth] as number)) depth--;
    if (depth < 0) return { ok: true, orderings, complete: true };
    if (orderings >= maxOrderings) return { ok: true, orderings, complete: false };
    path = [...taken.slice(0, depth), (taken[depth] as number) + 1];
  }
}

interface Played<C> {
  readonly run: Run<C>;
  /** The choice taken at each depth, and how many there were. */
  readonly taken: number[];
  readonly counts: number[];
  readonly broken?: InvariantBrokenError;
}

/** One ordering: the choices of `path`, then the first choice at each later depth. */
async function play<C>(
  scenario: Scenario<C>,
  start: readonly SimulatedCall[],
  path: readonly number[],
  maxDepth: number,
  recording: boolean,
): Promise<Played<C>> {
  let run: Run<C>;
  try {
    run = await Run.open(scenario, ['p1'], { recording, drainEachStep: true });
  } catch (error) {
    if (!isPachydermError(error, ErrorCode.InvariantBroken)) throw error;
    throw new ConfigurationError(`exhaust: the invariant fails before any delivery: ${error.message}`);
  }
  const waiting = [...start];
  const taken: number[] = [];
  const counts: number[] = [];
  while (taken.length < maxDepth) {
    const choices = choicesOf(run, waiting);
    if (choices.length === 0) break;
    const index = path[taken.length] ?? 0;
    const { action, call } = choices[index] as Choice;
    taken.push(index);
    counts.push(choices.length);
    if (call !== undefined) waiting.splice(call, 1);
    const broken = await run.step(action);
    if (broken) return { run, taken, counts, broken };
  }
  return { run, taken, counts };
}

/** A delivery that can come next; a starting call says which of the waiting ones it is. */
interface Choice {
  readonly action: StepAction;
  readonly call?: number;
}

/**
 * What can be delivered next, in a fixed order: the starting calls not made yet, the messages due
 * now (each lane's first), then timers and retries by their time. Two deliveries of the same thing
 * (two equal calls, two equal timers) are one choice: either leads to the same world.
 */
function choicesOf<C>(run: Run<C>, waiting: readonly SimulatedCall[]): Choice[] {
  const { world } = run;
  const choices: Choice[] = waiting.map((call, i) => ({ action: { kind: 'call', process: 'p1', ...call }, call: i }));
  const now = world.claimable();
  const dueNow = new Set(now.map((row) => row.id));
  const later = world
    .claimable(FAR)
    .filter((row) => !dueNow.has(row.id))
    .sort((a, b) => a.dueAt - b.dueAt || Number(a.id) - Number(b.id));
  for (const row of [...now, ...later]) {
    if (row.kind !== 'message') continue;
    const at = dueNow.has(row.id) ? {} : { at: row.dueAt };
    choices.push({ action: { kind: 'deliver', process: 'p1', row: rowKeyOf(row), ...at } });
  }
  const seen = new Set<string>();
  return choices.filter(({ action }) => {
    const key = JSON.stringify(action);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
