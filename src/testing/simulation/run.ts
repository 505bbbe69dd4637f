/**
 * One run of a schedule: a fresh world, the scenario's setup played to the end, then steps, each
 * followed by the invariant. `simulate`, its replays and `exhaust` all play through here.
 */
import type { EffectDefinition } from '../../define/effect.js';
import type { EntityDefinition, EntityRef } from '../../define/entity.js';
import { InvariantBrokenError } from '../../errors.js';
import { rowKeyOf, rowText } from './describe.js';
import { perform, type SimulationStep, type StepAction } from './steps.js';
import { type SimulationView, type StateMap, WorldView } from './view.js';
import { type SimProcess, World } from './world.js';

/** A call from outside the system; with `idempotencyKey`, an idempotent one (a client's retry repeats the key). */
export interface SimulatedCall {
  // biome-ignore lint/suspicious/noExplicitAny: a ref of any entity
  readonly ref: EntityRef<string, any, any, any, any>;
  readonly message: unknown;
  readonly idempotencyKey?: string;
}

/** An entity's type and id. */
export interface PlainRef {
  readonly type: string;
  readonly id: string;
}

/**
 * Checked after every step: `false` (or a promise of it) or a throw means the step broke it;
 * anything else, `undefined` included, that it holds.
 */
export type Invariant<C = unknown> = (view: SimulationView<C>) => unknown;

/** What a run plays: the application's definitions, its starting calls and its invariant. */
export interface Scenario<C = unknown> {
  readonly entities: readonly EntityDefinition[];
  readonly effects: readonly EffectDefinition[];
  /** Makes the `context` of one run (effects get it; so does the invariant, as `view.context`). */
  readonly context?: () => C;
  /** Calls made, and played to the end, before the first step. */
  readonly setup: readonly SimulatedCall[];
  /** The entities of the world besides those with events: each exists from its first state. */
  readonly addressed: readonly PlainRef[];
  readonly invariant: Invariant<C>;
}

/** A step's states before and after, for the report of the one that broke the invariant. */
export interface Change {
  readonly before: StateMap;
  readonly after: StateMap;
}

export interface RunOptions {
  /** Keep the states before and after each step (for a report). */
  readonly recording?: boolean;
  /** After each step, run held store calls and deliver at-least-once effects (see `drain`). */
  readonly drainEachStep?: boolean;
}

/** Steps of automatic progress a drain takes at most (a cycle of messages would go on for ever). */
const DRAIN_LIMIT = 10_000;

export class Run<C = unknown> {
  readonly steps: SimulationStep[] = [];
  /** The states around the last step, when recording. */
  change: Change | undefined;

  private constructor(
    readonly world: World,
    private readonly view: WorldView,
    private readonly scenario: Scenario<C>,
    private readonly context: C,
    private readonly how: RunOptions,
  ) {}

  /** A world with these processes, the setup played to the end. Rejects if the invariant fails then. */
  static async open<C>(scenario: Scenario<C>, processes: readonly string[], how: RunOptions = {}): Promise<Run<C>> {
    const context = scenario.context ? scenario.context() : (undefined as C);
    const world = await World.open({
      entities: scenario.entities,
      effects: scenario.effects,
      context,
      processes,
      // Retry jitter at its middle: a schedule replays the same without its seed.
      random: () => 0.5,
    });
    const view = new WorldView(world.store, scenario.entities, scenario.addressed, world);
    const run = new Run(world, view, scenario, context, how);
    const first = world.processes()[0] as SimProcess;
    for (const call of scenario.setup) world.call(first, call);
    await world.quiesce();
    await run.drain(true);
    world.takeNotes();
    world.renumberCalls();
    const broken = await run.check(0);
    if (broken) throw broken;
    return run;
  }

  /** Plays one step and checks the invariant; answers why it broke, if it did. A step that does not apply is left out. */
  async step(action: StepAction): Promise<InvariantBrokenError | undefined> {
    const before = this.how.recording ? await this.view.states() : undefined;
    const text = await perform(this.world, action);
    await this.world.quiesce();
    if (text !== undefined && this.how.drainEachStep) await this.drain(false);
    const then = this.world.takeNotes();
    if (text === undefined) return undefined;
    this.steps.push({ ...action, text, then });
    if (before) this.change = { before, after: await this.view.states() };
    return this.check(this.steps.length);
  }

  /**
   * Lets the world go on by itself: held appends and settlements run in the order they were made,
   * and due outbox rows are delivered (only at-least-once effects unless `messages`), until none is
   * left. What it did goes in the step's notes.
   */
  async drain(messages: boolean): Promise<void> {
    const { world } = this;
    for (let round = 0; round < DRAIN_LIMIT; round++) {
      const held = world.held().find(({ call }) => call.kind !== 'claim');
      if (held) {
        world.note(held.call.kind, `${held.process.name} ${await world.end(held, 'run')}`);
        await world.quiesce();
        continue;
      }
      const row = world.claimable().find((candidate) => messages || candidate.kind === 'effect');
      const claiming = world.held().find(({ call }) => call.kind === 'claim');
      if (!row || !claiming) return;
      world.note('deliver', `${claiming.process.name} delivers ${rowText(row)}`);
      await world.deliver(claiming.process, rowKeyOf(row));
      await world.quiesce();
    }
  }

  async check(step: number): Promise<InvariantBrokenError | undefined> {
    try {
      const holds = await this.scenario.invariant(this.view.as(this.context, this.world.clock.now));
      return holds === false ? new InvariantBrokenError(step) : undefined;
    } catch (error) {
      return new InvariantBrokenError(step, error);
    }
  }
}
