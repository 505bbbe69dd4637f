/**
 * Playing a schedule again: its actions, in order, on a fresh world, until one breaks the
 * invariant. What `simulate.replay` and the shrinking of a failure run.
 */
import { ErrorCode, type InvariantBrokenError, isPachydermError } from '../../errors.js';
import { type Change, Run, type Scenario } from './run.js';
import type { SimulationStep, StepAction } from './steps.js';

export type Replayed =
  | { readonly ok: true; readonly schedule: SimulationStep[] }
  | {
      readonly ok: false;
      readonly schedule: SimulationStep[];
      readonly error: InvariantBrokenError;
      readonly change: Change | undefined;
    };

/** Plays the actions on a fresh world; `recording` keeps what the breaking step changed, for a report. */
export async function replaySchedule<C>(
  scenario: Scenario<C>,
  actions: readonly StepAction[],
  recording = true,
): Promise<Replayed> {
  let run: Run<C>;
  try {
    run = await Run.open(scenario, processesOf(actions), { recording });
  } catch (error) {
    if (!isPachydermError(error, ErrorCode.InvariantBroken)) throw error;
    return { ok: false, schedule: [], error: error as InvariantBrokenError, change: undefined };
  }
  for (const action of actions) {
    const broken = await run.step(actionOf(action));
    if (broken) return { ok: false, schedule: run.steps, error: broken, change: run.change };
  }
  return { ok: true, schedule: run.steps };
}

/** A step without what it did: the action alone. */
export function actionOf(step: StepAction): StepAction {
  const { text: _text, then: _then, ...action } = step as SimulationStep;
  return action;
}

/** The processes a schedule names (p1 at least). */
function processesOf(actions: readonly StepAction[]): string[] {
  const names = new Set(['p1']);
  for (const action of actions) if ('process' in action) names.add(action.process);
  return [...names].sort();
}
