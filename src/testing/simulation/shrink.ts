/**
 * Shrinking a failing schedule to the fewest steps that still break the invariant: delta debugging
 * (ddmin) over its steps, each candidate played from the start.
 */
import { actionOf, replaySchedule } from './replay.js';
import type { Scenario } from './run.js';
import type { StepAction } from './steps.js';

/** Replays tried while shrinking one failure at most. */
const SHRINK_BUDGET = 400;

/**
 * Delta debugging: takes out ever smaller runs of steps while what is left still breaks the
 * invariant, keeping only the steps up to the one that breaks it.
 */
export async function shrink<C>(scenario: Scenario<C>, failing: readonly StepAction[]): Promise<StepAction[]> {
  let current = failing.map(actionOf);
  let budget = SHRINK_BUDGET;
  const stillFails = async (candidate: StepAction[]) => {
    budget--;
    const replayed = await replaySchedule(scenario, candidate, false);
    return replayed.ok ? undefined : replayed.schedule.map(actionOf);
  };
  let parts = 2;
  while (current.length > 1 && budget > 0) {
    const size = Math.ceil(current.length / parts);
    let smaller: StepAction[] | undefined;
    for (let start = 0; start < current.length && budget > 0 && !smaller; start += size) {
      smaller = await stillFails([...current.slice(0, start), ...current.slice(start + size)]);
    }
    if (smaller) {
      current = smaller;
      parts = Math.max(parts - 1, 2);
    } else if (size === 1) {
      break;
    } else {
      parts = Math.min(parts * 2, current.length);
    }
  }
  return current;
}
