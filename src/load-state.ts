import { applyEvent, decodeFrozen, initialState } from './decide.js';
import type { EntityDefinition } from './definition.js';
import type { LogStart, StoredEvent } from './store/port.js';

/** Events read per round trip when replaying a log. */
export const PAGE_SIZE = 1000;

export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
}

/** Reads up to {@link PAGE_SIZE} events of a log from `fromVersion` (inclusive). */
export type ReadPage = (streamId: string, fromVersion: number) => Promise<readonly StoredEvent[]>;

/**
 * Activates an entity from the start of its log (its usable snapshot, if any, and the first page
 * of events after it), reading further pages when there are more.
 */
export async function activate<S>(
  definition: EntityDefinition<string, S>,
  id: string,
  opening: LogStart,
  readPage: ReadPage,
): Promise<Loaded<S>> {
  const start = opening.snapshot
    ? { state: decodeFrozen<S>(opening.snapshot.state), version: opening.snapshot.version }
    : { state: initialState(definition), version: 0 };
  const loaded = fold(definition, start, opening.events);
  return opening.events.length < PAGE_SIZE ? loaded : catchUp(definition, id, loaded, readPage);
}

/**
 * Folds every event after `start` into it: a loaded entity catching up with other writers. An
 * answer with the same version confirms that `start` is the latest state.
 */
export async function catchUp<S>(
  definition: EntityDefinition<string, S>,
  id: string,
  start: Loaded<S>,
  readPage: ReadPage,
): Promise<Loaded<S>> {
  let loaded = start;
  for (;;) {
    const page = await readPage(id, loaded.version + 1);
    loaded = fold(definition, loaded, page);
    if (page.length < PAGE_SIZE) return loaded;
  }
}

function fold<S>(definition: EntityDefinition<string, S>, start: Loaded<S>, events: readonly StoredEvent[]): Loaded<S> {
  let { state, version } = start;
  for (const stored of events) {
    state = applyEvent(definition, state, decodeFrozen(stored.data));
    version = stored.version;
  }
  return { state, version };
}
