/**
 * Subscribing across entities: every committed event of some entity types, in feed order, from a
 * position kept by the caller (exclusive), then live. Pulled a page at a time.
 */
import { feedReader } from '../core/upcast.js';
import type { EntityDefinition, EntityRef } from '../define/entity.js';
import { FEED_PAGE, type FeedDeps } from './follow.js';

/** One event of a subscription. */
export interface SubscribedEvent<E> {
  readonly ref: EntityRef;
  readonly version: number;
  readonly event: E;
  readonly recordedAt: Date;
  readonly position: string;
}

export async function* subscribe<E>(
  { store, signal }: FeedDeps,
  entities: readonly EntityDefinition[],
  after: string,
  abort: AbortSignal,
): AsyncGenerator<SubscribedEvent<E>> {
  const read = feedReader(entities);
  const entityTypes = [...new Set(entities.map((definition) => definition.type))];
  let position = after;
  while (!abort.aborted) {
    const page = await store.readFeed({ after: position, entityTypes, limit: FEED_PAGE });
    for (const stored of page) {
      position = stored.position;
      yield {
        ref: { type: stored.entityType, id: stored.streamId },
        version: stored.version,
        event: read(stored) as E,
        recordedAt: new Date(stored.recordedAt),
        position,
      };
      if (abort.aborted) return;
    }
    if (page.length < FEED_PAGE) await signal.wait(abort, undefined, true);
  }
}
