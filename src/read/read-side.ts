/**
 * The read side of a running system: its projections (inline ones, committed with the events;
 * async ones, each run by a checkpoint runner) and reactors, their `setup`, and the handles that
 * `system.projection(...)` gives.
 */
import { decodeFrozen } from '../core/json.js';
import type { SqlStatement } from '../core/sql.js';
import type { AppContext } from '../define/effect.js';
import type { InlineProjection, ProjectionDefinition, ReactorDefinition } from '../define/projection.js';
import { ConfigurationError, messageOf, ProjectionFailedError } from '../errors.js';
import type { CommitRequest, SkippedEvent, StreamAppend } from '../store/port/index.js';
import { applyProjection, applyReactor, project } from './apply.js';
import {
  CheckpointRunner,
  type ReadSideStatus,
  type RunnerEnvironment,
  type RunnerOptions,
} from './checkpoint-runner.js';

/** What `system.projection(P)` gives: the state of a projection or reactor, and its controls. */
export interface ProjectionHandle {
  /** This process's view: mode, state, position and head (refreshed every round and poll). */
  status(): ReadSideStatus;
  /**
   * Resolves once the projection has applied the event at `position` (a call's `position`): for an
   * async one, read-your-writes; an inline one is there when the call resolves. Rejects with
   * `PROJECTION_FAILED` while it is stopped at an earlier event.
   */
  waitFor(position: string): Promise<void>;
  /** Starts again from the start (`reset`, then every event); resolves once it has caught up with the head of now. */
  rebuild(): Promise<void>;
  /** Goes on after it stopped at a failing event (that event is tried again). */
  resume(): Promise<void>;
  /** The events it skipped (`onError: 'skip'`), oldest first. */
  skipped(options?: { limit?: number }): Promise<readonly SkippedEvent[]>;
}

export type ProjectionOption = ProjectionDefinition | InlineProjection;

export interface ReadSideOptions extends RunnerEnvironment {
  readonly projections: readonly ProjectionOption[];
  readonly reactors: readonly ReactorDefinition[];
  readonly context: AppContext;
}

/** Feed events per batch of an async projection or reactor. */
const BATCH_SIZE = 500;

/** What a registered projection or reactor reads, and how it runs. */
export interface ReadSideEntry {
  readonly kind: 'projection' | 'reactor';
  readonly mode: 'inline' | 'async';
  readonly entityTypes: readonly string[];
  /** The definition's `version` (1 for reactors). */
  readonly version: number;
}

export class ReadSide {
  readonly #entries = new Map<string, ReadSideEntry>();
  readonly #runners = new Map<string, CheckpointRunner>();
  readonly #inline = new Map<string, ProjectionDefinition>();
  /** Per entity type, the inline projections of its events. */
  readonly #inlineByType = new Map<string, ProjectionDefinition[]>();
  /** Per inline projection, the position of the latest commit it projected in this process. */
  readonly #inlineHeads = new Map<string, string>();
  readonly #setup: readonly SqlStatement[];
  #ready: Promise<void> | undefined;

  constructor(private readonly options: ReadSideOptions) {
    const { projections, reactors, store } = options;
    if (!Array.isArray(projections) || !Array.isArray(reactors)) {
      throw new ConfigurationError('createSystem: projections and reactors must be arrays');
    }
    const names = new Set<string>();
    const claim = (name: string) => {
      if (names.has(name)) throw new ConfigurationError(`createSystem: two projections or reactors are named ${name}`);
      names.add(name);
    };
    const setup: SqlStatement[] = [];
    for (const given of projections) {
      const definition = given?.kind === 'inline' ? given.projection : given;
      if (definition?.kind !== 'projection') {
        throw new ConfigurationError('createSystem: projections must be defineProjection(...) or inline(...)');
      }
      if (!store.hasSql) {
        throw new ConfigurationError(
          `Projection ${definition.name} needs a SQL store: the ${store.kind} store has none. In tests, use sqliteStore({ filename: ':memory:' })`,
        );
      }
      claim(definition.name);
      this.#entries.set(definition.name, {
        kind: 'projection',
        mode: given.kind === 'inline' ? 'inline' : 'async',
        entityTypes: definition.entityTypes,
        version: definition.version,
      });
      setup.push(...definition.setup);
      if (given.kind === 'inline') {
        this.#inline.set(definition.name, definition);
        for (const type of definition.entityTypes) {
          this.#inlineByType.set(type, [...(this.#inlineByType.get(type) ?? []), definition]);
        }
      } else {
        this.#runners.set(
          definition.name,
          this.#runner(definition, definition.version, definition.reset, applyProjection(definition)),
        );
      }
    }
    for (const definition of reactors) {
      if (definition?.kind !== 'reactor')
        throw new ConfigurationError('createSystem: reactors must be defineReactor(...)');
      claim(definition.name);
      this.#entries.set(definition.name, {
        kind: 'reactor',
        mode: 'async',
        entityTypes: definition.entityTypes,
        version: 1,
      });
      this.#runners.set(definition.name, this.#runner(definition, 1, [], applyReactor(definition, options.context)));
    }
    this.#setup = setup;
  }

  start(): void {
    for (const runner of this.#runners.values()) runner.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#runners.values()].map((runner) => runner.stop()));
  }

  /** Resolves once every projection's `setup` ran in this system (tried again after a failure). */
  ready(): Promise<void> {
    if (this.#setup.length === 0) return Promise.resolve();
    if (!this.#ready) {
      const ready = this.options.store.execute(this.#setup);
      this.#ready = ready;
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  /** Whether the system has inline projections (their statements run in commits). */
  get hasInline(): boolean {
    return this.#inline.size > 0;
  }

  /** The commit's `project` callback when one of its appends has inline projections. */
  projector(appends: readonly StreamAppend[], recordedAt: number): CommitRequest['project'] {
    if (!appends.some((append) => this.#inlineByType.has(append.entityType))) return undefined;
    return (index, written) => {
      const append = appends[index] as StreamAppend;
      const statements: SqlStatement[] = [];
      for (const definition of this.#inlineByType.get(append.entityType) ?? []) {
        append.events.forEach((data, i) => {
          const at = written[i] as (typeof written)[number];
          const meta = {
            ref: { type: append.entityType, id: append.streamId },
            version: at.version,
            position: at.position,
            recordedAt: new Date(recordedAt),
          };
          try {
            statements.push(...project(definition, decodeFrozen(data), meta));
          } catch (error) {
            throw new ProjectionFailedError(
              definition.name,
              `Inline projection ${definition.name} failed on ${append.entityType} ${JSON.stringify(append.streamId)} version ${at.version}: ${messageOf(error)}; nothing of the call was committed`,
              error,
            );
          }
        });
      }
      return statements;
    };
  }

  /** The error a call gets when an inline projection of its append failed. */
  inlineFailure(append: StreamAppend, cause: unknown): ProjectionFailedError {
    if (cause instanceof ProjectionFailedError) return cause;
    const names = (this.#inlineByType.get(append.entityType) ?? []).map((p) => p.name).join(', ');
    return new ProjectionFailedError(
      names,
      `Inline projection ${names} failed on ${append.entityType} ${JSON.stringify(append.streamId)}: ${messageOf(cause)}; nothing of the call was committed`,
      cause,
    );
  }

  /** A commit of this process: inline projections that took part are at its position. */
  committed(entityType: string, position: string): void {
    for (const definition of this.#inlineByType.get(entityType) ?? []) {
      if (position > (this.#inlineHeads.get(definition.name) ?? '')) this.#inlineHeads.set(definition.name, position);
    }
  }

  /** Every projection and reactor of the system, by name: the projections in the order given, then the reactors. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** What a projection or reactor of this system reads and how it runs; `INVALID_CONFIGURATION` for another name. */
  entry(name: string): ReadSideEntry {
    const entry = this.#entries.get(name);
    if (!entry)
      throw new ConfigurationError(
        `No projection or reactor named ${JSON.stringify(name)} is registered in this system`,
      );
    return entry;
  }

  /** The handle of a projection or reactor by name (see `names`). */
  handleNamed(name: string): ProjectionHandle {
    const runner = this.#runners.get(name);
    if (runner) return this.#asyncHandle(runner, name);
    if (this.#inline.has(name)) return this.#inlineHandle(name);
    throw new ConfigurationError(`No projection or reactor named ${JSON.stringify(name)} is registered in this system`);
  }

  /**
   * How far a projection or reactor is behind its head: the events after its stored checkpoint (or
   * `after`, when the caller just read it), counted up to `cap`, and how long ago the first of them
   * was recorded (0 when caught up). Read from the store, so it is right in any process, also one that
   * runs no read side. Inline ones never lag.
   */
  async lag(name: string, now: number, cap: number, after?: string): Promise<{ events: number; ms: number }> {
    const runner = this.#runners.get(name);
    if (!runner) return { events: 0, ms: 0 };
    const { store } = this.options;
    const position = after ?? (await store.readCheckpoint(name))?.position ?? '';
    const behind = await store.readFeed({ after: position, entityTypes: runner.entityTypes, limit: cap });
    const first = behind[0];
    return { events: behind.length, ms: first ? Math.max(0, now - first.recordedAt) : 0 };
  }

  handle(definition: ProjectionOption | ReactorDefinition): ProjectionHandle {
    return this.handleNamed((definition?.kind === 'inline' ? definition.projection : definition)?.name);
  }

  #asyncHandle(runner: CheckpointRunner, name: string): ProjectionHandle {
    const { store } = this.options;
    return {
      status: () => runner.status(),
      waitFor: (position) => {
        checkPosition(position);
        return runner.waitFor(position);
      },
      async rebuild() {
        const marked = await store.markCheckpoint(name, 'rebuild');
        runner.wake();
        const head = await store.feedHead(runner.entityTypes);
        // The rebuild has started (here or in the process that runs it) once the request is gone, and
        // is done once the stored checkpoint reaches the head of now: this process's own copy of the
        // position may still be the one from before the rebuild.
        for (;;) {
          const stored = await store.readCheckpoint(name);
          if (!marked || !stored || (!stored.rebuild && (stored.position >= head || stored.failed !== null))) break;
          await runner.progress();
        }
        await runner.waitFor(head);
      },
      async resume() {
        await store.markCheckpoint(name, 'resume');
        runner.wake();
      },
      skipped: ({ limit = 1000 } = {}) => store.skippedEvents(name, limit),
    };
  }

  #inlineHandle(name: string): ProjectionHandle {
    const head = () => this.#inlineHeads.get(name) ?? '';
    return {
      status: () => ({ name, mode: 'inline', state: 'live', position: head(), head: head(), lastError: undefined }),
      waitFor: async (position) => checkPosition(position),
      rebuild: async () => {
        throw new ConfigurationError(
          `Projection ${name} is inline: rebuild it as an async projection (register it without inline())`,
        );
      },
      resume: async () => {},
      skipped: async () => [],
    };
  }

  #runner(
    definition: Pick<ProjectionDefinition, 'name' | 'entityTypes' | 'onError' | 'retry'>,
    version: number,
    reset: readonly SqlStatement[],
    apply: RunnerOptions['apply'],
  ): CheckpointRunner {
    const { name, entityTypes, onError, retry } = definition;
    return new CheckpointRunner({
      ...this.options,
      name,
      entityTypes,
      version,
      onError,
      retry,
      reset,
      apply,
      prepare: () => this.ready(),
      batchSize: BATCH_SIZE,
    });
  }
}

function checkPosition(position: unknown): asserts position is string {
  if (typeof position !== 'string')
    throw new ConfigurationError("waitFor: position must be a string (a call result's position)");
}
