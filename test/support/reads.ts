/** Reads of a store's data as tests need them, through the port (a store object of their own). */
import type { Store, StoredEvent, StoredSnapshot } from 'pachyderm/store';
import type { StorePlace } from './stores.js';

/** Runs `body` with a store object of its own on the place, opened and released around it. */
export async function withStore<T>(place: StorePlace, body: (store: Store) => Promise<T>): Promise<T> {
  const store = place.newStore();
  store.retain();
  try {
    await store.open();
    return await body(store);
  } finally {
    await store.release();
  }
}

/** Every event of a log (up to 100,000). */
export async function eventsOf(store: Store, streamId: string): Promise<readonly StoredEvent[]> {
  const [events] = await store.readStreams([{ streamId, fromVersion: 1 }], 100_000);
  return events ?? [];
}

/** The snapshot of a log for an entity type, if one was written under this schema version. */
export async function snapshotOf(
  store: Store,
  streamId: string,
  entityType: string,
  schemaVersion = '1',
): Promise<StoredSnapshot | undefined> {
  const [start] = await store.readLogs([{ streamId, entityType, schemaVersion }], 0);
  return start?.snapshot;
}
