/** A failing schedule in words: numbered steps, what followed each, and what the breaking step changed. */
import { InvariantBrokenError } from '../../errors.js';
import type { Change } from './run.js';
import type { SimulationStep } from './steps.js';

const INDENT = ' '.repeat(15);

/** The schedule as numbered lines: `kind`, the step, then the lines of what followed it. */
export function scheduleText(steps: readonly SimulationStep[]): string {
  const width = String(steps.length).length;
  return steps
    .map((step, i) => {
      const number = `${String(i + 1).padStart(width)}.`;
      const head = `${number} ${step.kind.padEnd(INDENT.length - number.length - 1)}${step.text}`;
      return [head, ...step.then.map((line) => `${INDENT}${line}`)].join('\n');
    })
    .join('\n');
}

/** What the breaking step changed: each entity whose state differs, before and after. */
export function changeText(change: Change | undefined): string {
  if (!change) return '';
  const lines: string[] = [];
  for (const key of new Set([...change.before.keys(), ...change.after.keys()])) {
    const before = change.before.get(key) ?? '(no events)';
    const after = change.after.get(key) ?? '(no events)';
    if (before !== after) lines.push(`  ${key}\n    before: ${before}\n    after:  ${after}`);
  }
  return lines.length > 0 ? lines.join('\n') : '  (no entity state changed in this step)';
}

/** The whole report: a title, the schedule, what its last step changed, and what broke. */
export function reportText(
  title: string,
  steps: readonly SimulationStep[],
  change: Change | undefined,
  error: InvariantBrokenError,
): string {
  const parts = [title, scheduleText(steps)];
  if (steps.length > 0) parts.push(`State changed by step ${steps.length}:\n${changeText(change)}`);
  parts.push(InvariantBrokenError.summary(error.step, error.cause));
  return parts.join('\n');
}

/** The error a result gives: its message is the whole report. */
export function reported(error: InvariantBrokenError, report: string): InvariantBrokenError {
  return new InvariantBrokenError(error.step, error.cause, report);
}
