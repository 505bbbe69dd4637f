/** Loading an entity: its log read from the store, folded by the pure replay in core/fold. */
import { fold, type Loaded, startOf } from '../core/fold.js';
import { snapshotSchemaOf } from '../core/upcast.js';
import type { EntityDefinition } from '../define/entity.js';
import type { LogRequest, LogStart, StoredEvent } from '../store/port/index.js';

/** Events read per round trip when replaying a log. */
export const PAGE_SIZE = 1000;

/** Reads up to {@link PAGE_SIZE} events of a log from `fromVersion` (inclusive). */
export type ReadPage = (streamId: string, fromVersion: number) => Promise<readonly StoredEvent[]>;

/** What an activation of the entity `id` asks the store for: its log, and a snapshot it can use. */
export function logRequestOf(definition: EntityDefinition, id: string): LogRequest {
  return { streamId: id, entityType: definition.type, schemaVersion: snapshotSchemaOf(definition) };
}

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
  const loaded = fold(definition, startOf(definition, opening.snapshot), opening.events, id);
  return opening.events.length < PAGE_SIZE ? loaded : catchUp(definition, id, loaded, readPage);
}

/**
 * Folds every event after `start` into it: a loaded entity catching up with other writers. An
 * answer at the same version confirms that `start` is the latest state.
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
    loaded = fold(definition, loaded, page, id);
    if (page.length < PAGE_SIZE) return loaded;
  }
}

/**
 * The state as of version `at` (time travel): folded from the opening's snapshot when it is at or
 * before `at`, else from the first state, reading pages until `at`. Past the end of the log, the
 * latest state (its version says where the log ends).
 */
export async function loadAt<S>(
  definition: EntityDefinition<string, S>,
  id: string,
  at: number,
  opening: LogStart,
  readPage: ReadPage,
): Promise<Loaded<S>> {
  const usable = opening.snapshot && opening.snapshot.version <= at ? opening.snapshot : undefined;
  let loaded = startOf(definition, usable);
  let page = usable || !opening.snapshot ? opening.events : await readPage(id, 1);
  for (;;) {
    const wanted = page.filter((stored) => stored.version <= at);
    loaded = fold(definition, loaded, wanted, id);
    if (page.length < PAGE_SIZE || wanted.length < page.length) return loaded;
    page = await readPage(id, loaded.version + 1);
  }
}
