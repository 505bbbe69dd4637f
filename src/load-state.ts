import { applyEvent, decodeFrozen, initialState } from './decide.js';
import type { EntityDefinition } from './definition.js';
import type { Store } from './store/port.js';

/** Events read per round trip when replaying a log. */
export const PAGE_SIZE = 1000;

export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
}

/**
 * Rebuilds an entity's state from the store: from `start` when given (a state the caller already
 * holds), else from the latest snapshot of this definition, else from `init`; then folds every
 * later event.
 */
export async function loadState<S>(
  store: Store,
  definition: EntityDefinition<string, S>,
  id: string,
  start?: Loaded<S>,
): Promise<Loaded<S>> {
  let { state, version } = start ?? (await fromSnapshot(store, definition, id));
  for (;;) {
    const page = await store.readStream(id, version + 1, PAGE_SIZE);
    for (const stored of page) {
      state = applyEvent(definition, state, decodeFrozen(stored.data));
      version = stored.version;
    }
    if (page.length < PAGE_SIZE) return { state, version };
  }
}

async function fromSnapshot<S>(store: Store, definition: EntityDefinition<string, S>, id: string): Promise<Loaded<S>> {
  const snapshot = await store.readSnapshot(id, definition.type);
  if (snapshot && snapshot.schemaVersion === definition.snapshotVersion) {
    return { state: decodeFrozen<S>(snapshot.state), version: snapshot.version };
  }
  return { state: initialState(definition), version: 0 };
}
