/**
 * What operator tools (the dashboard, the CLI) read of a running system beyond its public API: the
 * types it serves, its projections by name with their lag, and the outbox rows of one entity. Not
 * exported from the package: tools inside it reach a system's parts through `inspection(system)`.
 */
import { assertValidId } from '../core/id.js';
import type { EntityRef } from '../define/entity.js';
import { ConfigurationError } from '../errors.js';
import { type DeadLetter, toDeadLetter } from '../outbox/dead-letters.js';
import type { ReadSideStatus } from '../read/checkpoint-runner.js';
import type { ProjectionHandle } from '../read/read-side.js';
import type { OutboxRecord } from '../store/port/index.js';
import type { System } from './system.js';
import type { Wiring } from './wiring.js';

/** An outbox row as an operator sees it: a dead letter's fields, and where the row stands. */
export interface OutboxEntry extends Omit<DeadLetter, 'error'> {
  readonly status: 'pending' | 'dead';
  /** A timer (`sendAfter`, `sendAt`), with its key when it has one. */
  readonly timer: boolean;
  readonly timerKey?: string;
  readonly dueAt: number;
  /** The last error, or why it was given up; null before any failure. */
  readonly error: string | null;
}

/** How far a projection or reactor is behind. */
export interface Lag {
  /** Events after its position, counted up to the cap asked for. */
  readonly events: number;
  /** How long ago the first event it has not applied was recorded; 0 when caught up. */
  readonly ms: number;
}

/**
 * A projection's or reactor's checkpoint as stored, read now. A tool's system runs no read side,
 * so its handles' `status()` never moves; this is right in any system.
 */
export interface StoredProgress {
  readonly name: string;
  readonly mode: 'inline' | 'async';
  readonly kind: 'projection' | 'reactor';
  /**
   * As `status().state` would say in the process that runs it: `failed` (stopped at an event until
   * resumed), `rebuilding` (asked for, or a newer version starts again), `stopped` (a newer version
   * runs elsewhere), else `live` (caught up or catching up: see `lag`).
   */
  readonly state: ReadSideStatus['state'];
  /** The definition's `version` in this system (1 for reactors). */
  readonly version: number;
  /** The version its checkpoint was built under; undefined before its first run (and for inline ones). */
  readonly storedVersion: number | undefined;
  /** The last event applied (`''` before the first). Inline ones are always at the head. */
  readonly position: string;
  /** The latest committed event of its entity types. */
  readonly head: string;
  /** Why it stopped, until resumed. */
  readonly failed: string | null;
  /** A rebuild was asked for and has not started yet. */
  readonly rebuildRequested: boolean;
  readonly lag: Lag;
}

export interface Inspection {
  /** `memory`, `sqlite`, `postgres`. */
  readonly storeKind: string;
  /** The entity types the system serves, in the order given. */
  entityTypes(): string[];
  /** The names of its projections and reactors. */
  projectionNames(): string[];
  projection(name: string): ProjectionHandle;
  /** The checkpoint of a projection or reactor as stored, its head and lag (events counted up to `cap`). */
  stored(name: string, cap?: number): Promise<StoredProgress>;
  /** The rows still in the outbox that the entity's decisions wrote or that are messages for it. */
  outboxOf(ref: EntityRef, limit?: number): Promise<OutboxEntry[]>;
  /** The system's clock, in milliseconds since the epoch. */
  now(): number;
}

/**
 * Systems to their parts, kept on a global key: a tool loaded from another copy of this module
 * (the package's `dist` next to its sources in a test setup, say) still finds them.
 */
const registry = Symbol.for('pachyderm.inspection');
const shared = globalThis as { [registry]?: WeakMap<object, Wiring> };
shared[registry] ??= new WeakMap<object, Wiring>();
const wirings = shared[registry];

/** Called once by `createSystem`: tools inside the package can then inspect the system. */
export function registerInspection(system: System, wiring: Wiring): void {
  wirings.set(system, wiring);
}

/** The inspection of a system made by `createSystem`; `INVALID_CONFIGURATION` for anything else. */
export function inspection(system: System): Inspection {
  const parts = wirings.get(system as object);
  if (!parts) throw new ConfigurationError('Expected a system made by createSystem(...)');
  const { config, readSide, store } = parts;
  return {
    storeKind: store.kind,
    entityTypes: () => config.registered.entityTypes(),
    projectionNames: () => readSide.names(),
    projection: (name) => readSide.handleNamed(name),
    async stored(name, cap = 10_000) {
      const { entityTypes, version, mode, kind } = readSide.entry(name);
      const head = await store.feedHead(entityTypes);
      if (mode === 'inline') {
        const lag = { events: 0, ms: 0 };
        const rest = { storedVersion: undefined, position: head, failed: null, rebuildRequested: false, lag };
        return { name, mode: 'inline', kind, state: 'live', version, head, ...rest };
      }
      const checkpoint = await store.readCheckpoint(name);
      const position = checkpoint?.position ?? '';
      const storedVersion = checkpoint?.version;
      const failed = checkpoint?.failed ?? null;
      const rebuildRequested = checkpoint?.rebuild ?? false;
      const state: StoredProgress['state'] =
        failed !== null
          ? 'failed'
          : storedVersion !== undefined && storedVersion > version
            ? 'stopped'
            : rebuildRequested || (storedVersion !== undefined && storedVersion < version)
              ? 'rebuilding'
              : 'live';
      const lag = await readSide.lag(name, config.clock.now(), cap, position);
      return {
        name,
        mode: 'async',
        kind,
        state,
        version,
        storedVersion,
        position,
        head,
        failed,
        rebuildRequested,
        lag,
      };
    },
    async outboxOf(ref, limit = 100) {
      assertValidId(ref?.id);
      const definition = config.registered.requireEntity(ref.type);
      return (await store.outboxOf({ type: definition.type, id: ref.id }, limit)).map(toEntry);
    },
    now: () => config.clock.now(),
  };
}

function toEntry(row: OutboxRecord): OutboxEntry {
  return {
    ...toDeadLetter(row),
    error: row.lastError,
    status: row.status,
    timer: row.timer,
    ...(row.timerKey === undefined ? {} : { timerKey: row.timerKey }),
    dueAt: row.dueAt,
  };
}
