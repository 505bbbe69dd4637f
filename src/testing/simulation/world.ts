/**
 * The simulated world one run of `simulate` or `exhaust` plays in: a memory store shared by
 * simulated processes, each a real system (the same workers, batchers, outbox deliverer and timers
 * as in production) on a view of that store whose appends, claims and settlements wait for the
 * schedule, and one virtual clock. The schedule moves everything; nothing else does: ids and
 * chance come from the run's seed, and `quiesce` lets the runtime go on until it waits on the
 * schedule again.
 */
import type { EffectDefinition } from '../../define/effect.js';
import type { EntityDefinition } from '../../define/entity.js';
import { silentLogger } from '../../logger.js';
import { createSystemIn, type System } from '../../runtime/system.js';
import { controlledMemoryStore, type OutboxControl } from '../../store/memory.js';
import type { AppendResult, OutboxOutcome, OutboxRecord, Store } from '../../store/port/index.js';
import { answerText, decisionText, failureText, refText, rowKeyOf, shown } from './describe.js';
import { type HeldCall, processStore } from './process-store.js';
import type { SimulatedCall } from './run.js';
import { VirtualClock } from './virtual-clock.js';

/** How long a simulated process holds an outbox row it delivers. */
export const LEASE_MS = 5_000;
/** Turns of the event loop without any work that make the runtime count as waiting. */
const QUIET_TURNS = 3;

export interface WorldOptions {
  readonly entities: readonly EntityDefinition[];
  readonly effects: readonly EffectDefinition[];
  readonly context: unknown;
  /** The names of the processes to start. */
  readonly processes: readonly string[];
  /** Chance for the runtime: the jitter of retries and conflict pauses. */
  readonly random: () => number;
}

/** One simulated process: a system, until it crashes. */
export class SimProcess {
  alive = true;
  /** The calls made to it that have not answered. */
  readonly calls = new Set<number>();
  system!: System;

  constructor(
    readonly name: string,
    readonly owner: string,
  ) {}
}

/** A store call a process waits on, until the schedule runs it. */
export interface Held {
  readonly process: SimProcess;
  readonly call: HeldCall;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** How the schedule ends a held call. */
export type Ending = 'run' | 'fail' | 'crash-after' | 'lose';

export class World {
  readonly store: Store;
  /** Looks at the outbox without changing it, and holds a claim to the row a step chose. */
  readonly #outbox: OutboxControl;
  readonly clock: VirtualClock;
  /** Message ids whose handling committed: delivered, though their rows may not be settled yet. */
  readonly handled = new Set<string>();
  /** Changes with every commit and settlement: what is in flight may have changed. */
  outboxVersion = 0;
  readonly #processes = new Map<string, SimProcess>();
  #held: Held[] = [];
  #activity = 0;
  #notes: string[] = [];
  #calls = 0;
  #incarnations = 0;
  /** Rows claimed by processes, by id: what a settlement names. */
  readonly #claimed = new Map<string, OutboxRecord>();
  readonly #effects: readonly EffectDefinition[];

  private constructor(private readonly options: WorldOptions) {
    ({ store: this.store, outbox: this.#outbox } = controlledMemoryStore());
    this.clock = new VirtualClock(0, () => this.#activity++);
    this.#effects = options.effects.map((effect) => this.#watched(effect));
  }

  static async open(options: WorldOptions): Promise<World> {
    const world = new World(options);
    await world.store.open();
    world.store.retain();
    for (const name of options.processes) world.#start(name);
    await world.quiesce();
    return world;
  }

  /** The live processes, in name order. */
  processes(): SimProcess[] {
    return [...this.#processes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  process(name: string): SimProcess | undefined {
    return this.#processes.get(name);
  }

  /** The store calls waiting for the schedule, in the order they were made. */
  held(): readonly Held[] {
    return this.#held;
  }

  /** What happened since the last call: decisions, answers, effects, crashes. */
  takeNotes(): string[] {
    const notes = this.#notes;
    this.#notes = [];
    return notes;
  }

  /** Lets the runtime run until it waits on the schedule, on the clock or on nothing. */
  async quiesce(): Promise<void> {
    let quiet = 0;
    let seen = this.#activity;
    while (quiet < QUIET_TURNS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#activity === seen) quiet++;
      else {
        seen = this.#activity;
        quiet = 0;
      }
    }
  }

  /** Makes a call on a process; its answer is noted when it comes. Answers the call's number. */
  call(process: SimProcess, { ref, message, idempotencyKey }: SimulatedCall): number {
    const number = ++this.#calls;
    process.calls.add(number);
    this.#activity++;
    const answered = (text: string) => {
      if (!process.alive) return;
      process.calls.delete(number);
      this.#activity++;
      this.note('answer', `call ${number}: ${text}`);
    };
    const options = idempotencyKey === undefined ? undefined : { idempotencyKey };
    process.system.call(ref, message as never, options).then(
      (answer) => answered(answerText(answer)),
      (error: unknown) => answered(failureText(error)),
    );
    return number;
  }

  /** Ends a held call: runs it, fails it, runs it and crashes its process, or (a settlement) loses its outcomes. */
  async end(held: Held, ending: Ending): Promise<string> {
    this.#held = this.#held.filter((other) => other !== held);
    const { call, process } = held;
    if (ending === 'fail') {
      held.reject(new Error('simulated: the store call failed'));
      return 'failed';
    }
    this.outboxVersion++;
    if (call.kind === 'commit') {
      const results = await this.store.commit(call.request);
      call.request.appends.forEach((append, i) => {
        if ((results[i] as AppendResult).ok) for (const id of append.messageIds ?? []) this.handled.add(id);
      });
      if (ending === 'crash-after') this.crash(process);
      else held.resolve(results);
      return call.request.appends
        .map(
          (append, i) =>
            `${refText(append.entityType, append.streamId)} ${resultText(append.expectedVersion, results[i])}`,
        )
        .join(', ');
    }
    if (call.kind === 'settle') {
      const lost = ending === 'lose';
      const settlements = lost
        ? call.settlements.map(({ id }) => ({ id, outcome: { released: true } as const }))
        : call.settlements;
      await this.store.settleOutbox(call.owner, settlements);
      held.resolve(undefined);
      return call.settlements.map((s) => `${this.rowKey(s.id)}: ${lost ? 'lost' : outcomeText(s.outcome)}`).join(', ');
    }
    // A claim ends by a delivery (see `deliver`), or fails above.
    throw new Error(`simulation: a claim is not ended by "${ending}"`);
  }

  /** The outbox rows a claim could take first now (or at `now`), in id order. Changes nothing. */
  claimable(now = this.clock.now): OutboxRecord[] {
    return this.#outbox.claimable(now);
  }

  /**
   * Ends `process`'s waiting claim with the first row named `key` (see `rowKeyOf`), if one is
   * claimable now: the process claims that row alone, and delivers it. Answers the row, or undefined.
   */
  async deliver(process: SimProcess, key: string): Promise<OutboxRecord | undefined> {
    const held = this.#held.find((other) => other.process === process && other.call.kind === 'claim');
    if (held?.call.kind !== 'claim') return undefined;
    const chosen = this.claimable().find((row) => rowKeyOf(row) === key);
    if (!chosen) return undefined;
    this.#outbox.only = (row) => row.id === chosen.id;
    let rows: readonly OutboxRecord[];
    try {
      rows = await this.store.claimOutbox({ ...held.call.request, now: this.clock.now });
    } finally {
      this.#outbox.only = undefined;
    }
    this.#held = this.#held.filter((other) => other !== held);
    for (const row of rows) this.#claimed.set(row.id, row);
    held.resolve(rows);
    return rows[0];
  }

  /** How steps name a claimed row (see `rowKeyOf`). */
  rowKey(id: string): string {
    const row = this.#claimed.get(id);
    return row ? rowKeyOf(row) : `row ${id}`;
  }

  /** Kills a process where it stands (its store calls and timers never answer), and starts it again. */
  crash(process: SimProcess): void {
    process.alive = false;
    this.#held = this.#held.filter((held) => held.process !== process);
    for (const number of process.calls) this.note('lost', `call ${number}: ${process.name} crashed before answering`);
    this.note('restart', `${process.name} starts again, with nothing loaded`);
    this.#start(process.name);
  }

  /** When something next falls due: a timer of a process, an outbox row, or a lease's end. */
  async nextDue(): Promise<number | undefined> {
    const row = await this.store.nextDueAt(this.clock.now);
    const timer = this.clock.nextAt();
    if (row === undefined) return timer;
    return timer === undefined ? row : Math.min(row, timer);
  }

  #start(name: string): void {
    const process = new SimProcess(name, `${name}#${++this.#incarnations}`);
    const store = processStore(this.store, {
      alive: () => process.alive,
      hold: (call) => this.#hold(process, call),
      touched: () => this.#activity++,
      // One process alone on the store may skip the read that confirms a loaded copy, as in production.
      changeToken: () => (this.#processes.size === 1 ? this.store.changeToken?.() : undefined),
    });
    process.system = createSystemIn(
      {
        store,
        entities: this.options.entities,
        effects: this.#effects,
        context: this.options.context,
        clock: this.clock.for(process),
        logger: silentLogger,
        leaseMs: LEASE_MS,
        outboxBatchSize: 1,
        snapshotEvery: 3,
      },
      { owner: process.owner, random: this.options.random, pause: () => Promise.resolve() },
    );
    this.#processes.set(name, process);
  }

  #hold(process: SimProcess, call: HeldCall): Promise<unknown> {
    this.#activity++;
    if (call.kind === 'commit') {
      for (const append of call.request.appends) this.note('decide', `${process.name} ${decisionText(append)}`);
    }
    return new Promise((resolve, reject) => {
      this.#held.push({ process, call, resolve, reject });
    });
  }

  /** An effect as the world runs it: noted when it runs. */
  #watched(effect: EffectDefinition): EffectDefinition {
    const note = (line: string) => this.note('effect', line);
    return {
      ...effect,
      run(payload, ctx) {
        const attempt = effect.delivery === 'at-least-once' ? ` (attempt ${ctx.attempt})` : '';
        note(`${effect.name} ${shown(payload)} of ${refText(ctx.ref.type, ctx.ref.id)} v${ctx.version}${attempt}`);
        return effect.run(payload, ctx);
      },
    };
  }

  /** Numbers the calls from 1 again (after the setup). */
  renumberCalls(): void {
    this.#calls = 0;
  }

  /** Adds a line to what happened in this step. */
  note(label: string, text: string): void {
    this.#notes.push(`${label.padEnd(8)}${text}`);
  }
}

function resultText(expected: number, result: AppendResult | undefined): string {
  if (!result) return 'no result';
  if (result.ok) return `v${expected} → v${result.version}`;
  if ('conflict' in result) return `conflict: expected v${expected}, the log is at v${result.conflict.actualVersion}`;
  return `refused: already handled ${shown([...result.messageIds, ...(result.keys ?? [])])}`;
}

function outcomeText(outcome: OutboxOutcome): string {
  if ('done' in outcome) return 'done';
  if ('dead' in outcome) return `dead letter (${outcome.error})`;
  if ('released' in outcome) return 'put back';
  return `retry at t=${outcome.retryAt} (${outcome.error})`;
}
