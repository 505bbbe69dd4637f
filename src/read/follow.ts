/**
 * Following one entity live: every event of its log from a version on, with the state after it,
 * then each new one as it commits (here or in another process). The log is pulled a page at a
 * time, so a slow consumer holds at most one page.
 */
import { applyEvent } from '../core/decide.js';
import { type Loaded, startOf } from '../core/fold.js';
import { eventOf } from '../core/upcast.js';
import type { EntityDefinition } from '../define/entity.js';
import { logRequestOf } from '../runtime/activation.js';
import type { GuardedStore } from '../runtime/guarded-store.js';
import type { StoredEvent } from '../store/port/index.js';
import type { FeedSignal } from './feed-signal.js';

/** Events read per round trip by a feed. */
export const FEED_PAGE = 500;

/** One event of a followed entity, with the state right after it. */
export interface FollowedEvent<S, E> {
  readonly version: number;
  readonly event: E;
  readonly state: S;
  readonly recordedAt: Date;
  readonly position: string;
}

export interface FeedDeps {
  readonly store: GuardedStore;
  /** Wakes the feed at commits of this process and every poll interval. */
  readonly signal: FeedSignal;
}

export async function* follow<S, E>(
  deps: FeedDeps,
  definition: EntityDefinition<string, S>,
  id: string,
  from: number,
  abort: AbortSignal,
): AsyncGenerator<FollowedEvent<S, E>> {
  const { store, signal } = deps;
  const read = async (fromVersion: number) =>
    (await store.readStreams([{ streamId: id, fromVersion }], FEED_PAGE))[0] as readonly StoredEvent[];
  let loaded = await stateBefore(deps, definition, id, from);
  while (!abort.aborted) {
    const page = await read(loaded.version + 1);
    for (const stored of page) {
      const event = eventOf(definition, stored, id) as E;
      loaded = { state: applyEvent(definition, loaded.state, event), version: stored.version };
      if (stored.version < from) continue;
      yield {
        version: stored.version,
        event,
        state: loaded.state,
        recordedAt: new Date(stored.recordedAt),
        position: stored.position,
      };
      if (abort.aborted) return;
    }
    if (page.length < FEED_PAGE) await signal.wait(abort, undefined, true);
  }
}

/** The state just before version `from`: from a snapshot older than it when there is one. */
async function stateBefore<S>(
  { store }: FeedDeps,
  definition: EntityDefinition<string, S>,
  id: string,
  from: number,
): Promise<Loaded<S>> {
  if (from === 1) return startOf(definition, undefined);
  const [start] = await store.readLogs([logRequestOf(definition, id)], 0);
  const snapshot = start?.snapshot && start.snapshot.version < from ? start.snapshot : undefined;
  return startOf(definition, snapshot);
}
