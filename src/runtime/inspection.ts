/**
 * What operator tools (the dashboard, the CLI) read of a running system beyond its public API: the
 * types it serves, its projections by name with their lag, and the outbox rows of one entity. Not
 * exported from the package: tools inside it reach a system's parts through `inspection(system)`.
 */
import { assertValidId } from '../core/id.js';
import { decodeJson } from '../core/json.js';
import type { EntityRef } from '../define/entity.js';
import { ConfigurationError } from '../errors.js';
import type { ProjectionHandle } from '../read/read-side.js';
import type { OutboxRecord } from '../store/port/index.js';
import type { System } from './system.js';
import type { Wiring } from './wiring.js';

/** An outbox row as an operator sees it. */
export interface OutboxEntry {
  readonly id: string;
  readonly kind: 'effect' | 'message';
  /** The effect's name (`effect`), or the entity the message is for (`message`). */
  readonly effect?: string;
  readonly target?: { readonly type: string; readonly id: string };
  readonly payload: unknown;
  readonly status: 'pending' | 'dead';
  /** A timer (`sendAfter`, `sendAt`), with its key when it has one. */
  readonly timer: boolean;
  readonly timerKey?: string;
  readonly dueAt: number;
  readonly attempts: number;
  /** The last error, or why it was given up. */
  readonly error: string | null;
  readonly source: { readonly type: string; readonly id: string; readonly version: number };
}

/** How far a projection or reactor is behind. */
export interface Lag {
  /** Events after its position, counted up to the cap asked for. */
  readonly events: number;
  /** How long ago the first event it has not applied was recorded; 0 when caught up. */
  readonly ms: number;
}

export interface Inspection {
  /** `memory`, `sqlite`, `postgres`. */
  readonly storeKind: string;
  /** The entity types the system serves, in the order given. */
  entityTypes(): string[];
  /** The names of its projections and reactors. */
  projectionNames(): string[];
  projection(name: string): ProjectionHandle;
  lag(name: string, cap?: number): Promise<Lag>;
  /** The rows still in the outbox that the entity's decisions wrote or that are messages for it. */
  outboxOf(ref: EntityRef, limit?: number): Promise<OutboxEntry[]>;
  /** The system's clock, in milliseconds since the epoch. */
  now(): number;
}

const wirings = new WeakMap<object, Wiring>();

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
    lag: (name, cap = 10_000) => readSide.lag(name, config.clock.now(), cap),
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
    id: row.id,
    kind: row.kind,
    ...(row.kind === 'effect' ? { effect: row.name } : { target: { type: row.name, id: row.targetId ?? '' } }),
    payload: row.payload === null ? undefined : decodeJson(row.payload),
    status: row.status,
    timer: row.timer,
    ...(row.timerKey === undefined ? {} : { timerKey: row.timerKey }),
    dueAt: row.dueAt,
    attempts: row.attempts,
    error: row.lastError,
    source: { type: row.sourceType, id: row.sourceId, version: row.sourceVersion },
  };
}
