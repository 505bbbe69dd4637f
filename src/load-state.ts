import { applyEvent, decodeFrozen, initialState } from './decide.js';
import type { EntityDefinition } from './definition.js';
import { decodeJson } from './json.js';
import type { LogStart, Store, StoredEvent } from './store/port.js';

/** Events read per round trip when replaying a log. */
export const PAGE_SIZE = 1000;

export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
}

/**
 * Activates an entity from the start of its log (its usable snapshot, if any, and the first page
 * of events after it), reading further pages when there are more.
 */
export async function activate<S>(
  store: Store,
  definition: EntityDefinition<string, S>,
  id: string,
  opening: LogStart,
): Promise<Loaded<S>> {
  const start = opening.snapshot
    ? { state: decodeFrozen<S>(opening.snapshot.state), version: opening.snapshot.version }
    : { state: initialState(definition), version: 0 };
  const loaded = fold(definition, start, opening.events);
  return opening.events.length < PAGE_SIZE ? loaded : catchUp(store, definition, id, loaded);
}

/** Folds every event after `start` into it: a loaded entity catching up with other writers. */
export async function catchUp<S>(
  store: Store,
  definition: EntityDefinition<string, S>,
  id: string,
  start: Loaded<S>,
): Promise<Loaded<S>> {
  let loaded = start;
  for (;;) {
    const page = await store.readStream(id, loaded.version + 1, PAGE_SIZE);
    loaded = fold(definition, loaded, page);
    if (page.length < PAGE_SIZE) return loaded;
  }
}

function fold<S>(definition: EntityDefinition<string, S>, start: Loaded<S>, events: readonly StoredEvent[]): Loaded<S> {
  let { state, version } = start;
  for (const stored of events) {
    state = applyEvent(definition, state, decodeJson(stored.data));
    version = stored.version;
  }
  return { state, version };
}
