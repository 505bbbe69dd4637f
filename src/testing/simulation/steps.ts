/**
 * The steps of a schedule: plain data that names what to do (not how it was chosen), so that a
 * schedule replays without its seed and survives having steps taken out. A step whose target is
 * gone when it comes (a commit already run, a row already delivered) is skipped.
 */

import { refText, rowText, shown } from './describe.js';
import type { SimulatedCall } from './run.js';
import type { Ending, Held, World } from './world.js';

/** A held store call of a process, named by what it carries. */
interface HeldKeys {
  readonly process: string;
  /** The stream ids of a commit, or the rows a settlement names (see `rowKeyOf`); none for a claim. */
  readonly keys: readonly string[];
}

/** Which held store call a step ends. */
interface HeldTarget extends HeldKeys {
  readonly call: Held['call']['kind'];
}

/** One step of a schedule, as given to `simulate.replay`. */
export type StepAction =
  /** A call from outside, on a process. */
  | ({ readonly kind: 'call'; readonly process: string } & SimulatedCall)
  /** A process's held append (one group commit) of these logs goes to the store. */
  | ({ readonly kind: 'commit' } & HeldKeys)
  /**
   * A process claims the outbox row named `row` (what it carries, from whom, to whom) and delivers
   * it; with `at`, once the clock has moved to that time (a timer's).
   */
  | { readonly kind: 'deliver'; readonly process: string; readonly row: string; readonly at?: number }
  /** A process records how its deliveries of these rows went. */
  | ({ readonly kind: 'settle' } & HeldKeys)
  /** The clock moves to the next time something falls due (a timer, a lease's end). */
  | { readonly kind: 'timer' }
  /** The clock jumps forward. */
  | { readonly kind: 'jump'; readonly ms: number }
  /** A process dies (and starts again): where it stands, or right after its held commit of these logs reaches the store. */
  | { readonly kind: 'crash'; readonly process: string; readonly afterCommit?: readonly string[] }
  /** A held store call (an append, a claim, a settlement) fails. */
  | ({ readonly kind: 'store-error' } & HeldTarget)
  /** A settlement of these rows is lost and the rows go back to the outbox: they will be delivered again. */
  | ({ readonly kind: 'redeliver' } & HeldKeys);

/** A step as a schedule holds it: the action, what it did, and what followed until the runtime waited again. */
export type SimulationStep = StepAction & {
  /** The step in words. */
  readonly text: string;
  /** What followed: decisions, answers, effects run, crashes. */
  readonly then: readonly string[];
};

/** Runs one step; answers its text, or undefined when it does not apply now (skipped). */
export async function perform(world: World, step: StepAction): Promise<string | undefined> {
  switch (step.kind) {
    case 'call': {
      const process = world.process(step.process);
      if (!process) return undefined;
      const number = world.call(process, step);
      const key = step.idempotencyKey === undefined ? '' : ` (key ${shown(step.idempotencyKey)})`;
      return `${step.process} gets call ${number}: ${shown(step.message)} → ${refText(step.ref.type, step.ref.id)}${key}`;
    }
    case 'deliver': {
      const process = world.process(step.process);
      if (step.at !== undefined && step.at > world.clock.now) world.clock.advanceTo(step.at);
      const row = process && (await world.deliver(process, step.row));
      return row && `${step.process} delivers ${rowText(row)}`;
    }
    case 'timer': {
      const at = await world.nextDue();
      if (at === undefined) return undefined;
      world.clock.advanceTo(at);
      return `the clock moves to t=${at}`;
    }
    case 'jump':
      world.clock.advanceTo(world.clock.now + step.ms);
      return `the clock jumps ${step.ms} ms to t=${world.clock.now}`;
    case 'crash': {
      const process = world.process(step.process);
      if (!process) return undefined;
      if (step.afterCommit === undefined) {
        world.crash(process);
        return `${step.process} crashes`;
      }
      const held = find(world, { process: step.process, call: 'commit', keys: step.afterCommit });
      if (!held) return undefined;
      return `${step.process} commits ${await world.end(held, 'crash-after')}, then crashes before it hears back`;
    }
    default:
      return endHeld(world, step);
  }
}

/** How each step ends the held call it names, and which kind of call that is. */
const ENDINGS = {
  commit: { ending: 'run', call: 'commit', verb: 'commits' },
  settle: { ending: 'run', call: 'settle', verb: 'settles' },
  'store-error': { ending: 'fail', call: undefined, verb: 'store call fails:' },
  redeliver: { ending: 'lose', call: 'settle', verb: 'loses its settlement, the rows go back:' },
} as const satisfies Record<string, { ending: Ending; call: Held['call']['kind'] | undefined; verb: string }>;

async function endHeld(
  world: World,
  step: Extract<StepAction, { kind: keyof typeof ENDINGS }>,
): Promise<string | undefined> {
  const { ending, call, verb } = ENDINGS[step.kind];
  const held = find(world, { process: step.process, call: call ?? (step as HeldTarget).call, keys: step.keys });
  if (!held) return undefined;
  const what = ending === 'fail' ? describeHeld(world, held) : await world.end(held, ending);
  if (ending === 'fail') await world.end(held, ending);
  return `${step.process} ${verb} ${what}`;
}

/** The held call a step names: the first of its process with that kind and keys. */
function find(world: World, target: HeldTarget): Held | undefined {
  return world
    .held()
    .find(
      (held) =>
        held.process.name === target.process &&
        held.call.kind === target.call &&
        sameKeys(keysOf(world, held), target.keys),
    );
}

/** The keys a step names a held call by. */
export function keysOf(world: World, held: Held): string[] {
  const { call } = held;
  if (call.kind === 'commit') return call.request.appends.map((append) => append.streamId);
  if (call.kind === 'settle') return call.settlements.map(({ id }) => world.rowKey(id));
  return [];
}

function describeHeld(world: World, held: Held): string {
  const { call } = held;
  if (call.kind === 'commit') {
    return `the commit of ${call.request.appends.map((a) => refText(a.entityType, a.streamId)).join(', ')}`;
  }
  if (call.kind === 'settle') return `the settlement of ${keysOf(world, held).join(', ')}`;
  return 'a claim';
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}
