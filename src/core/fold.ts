/**
 * Replay, the pure part: the state an entity starts from (its snapshot, or `init`) and the fold of
 * stored events into it. Each event is decoded, frozen and upcast to the current `eventVersion`
 * (core/upcast.ts), as `update` sees it on the live path.
 */
import type { EntityDefinition } from '../define/entity.js';
import type { StoredEvent, StoredSnapshot } from '../store/port/index.js';
import { applyEvent, initialState } from './decide.js';
import { decodeFrozen } from './json.js';
import { eventOf } from './upcast.js';

/** An entity's state at a version of its log. */
export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
}

/** The state before the events of a log: the usable snapshot's, or the first state. */
export function startOf<S>(definition: EntityDefinition<string, S>, snapshot: StoredSnapshot | undefined): Loaded<S> {
  return snapshot
    ? { state: decodeFrozen<S>(snapshot.state), version: snapshot.version }
    : { state: initialState(definition), version: 0 };
}

/** Folds stored events of the log `id`, in order, into a state. */
export function fold<S>(
  definition: EntityDefinition<string, S>,
  start: Loaded<S>,
  events: readonly StoredEvent[],
  id: string,
): Loaded<S> {
  let { state, version } = start;
  for (const stored of events) {
    state = applyEvent(definition, state, eventOf(definition, stored, id));
    version = stored.version;
  }
  return { state, version };
}
