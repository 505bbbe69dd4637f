import { StoreLifecycle } from './lifecycle.js';
import type { AppendResult, CommitRequest, Store, StoredEvent, StoredSnapshot } from './port.js';

/**
 * An in-process store for tests and examples. It keeps everything in memory for as long as the
 * store object lives, so a system closed and created again on the same object finds its entities.
 * Share one object between systems to test duplicate workers without a database.
 *
 * @example
 * const system = createSystem({ store: memoryStore(), entities: [Counter] });
 */
export function memoryStore(): Store {
  const logs = new Map<string, StoredEvent[]>();
  const snapshots = new Map<string, StoredSnapshot>();
  const lifecycle = new StoreLifecycle(
    async () => {},
    async () => {},
  );
  const snapshotKey = (streamId: string, entityType: string) => `${entityType.length}:${entityType}${streamId}`;

  return {
    kind: 'memory',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    async commit(request: CommitRequest): Promise<readonly AppendResult[]> {
      // Everything below runs without an await, so the batch is atomic like a transaction.
      return request.appends.map((append) => {
        const log = logs.get(append.streamId) ?? [];
        if (log.length !== append.expectedVersion) {
          return { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: log.length } };
        }
        for (const data of append.events) {
          log.push({ version: log.length + 1, data, recordedAt: request.recordedAt });
        }
        logs.set(append.streamId, log);
        return { ok: true, version: log.length };
      });
    },

    async readStream(streamId, fromVersion, limit) {
      const log = logs.get(streamId) ?? [];
      const start = Math.max(fromVersion, 1) - 1;
      return log.slice(start, start + limit);
    },

    async streamVersion(streamId) {
      return logs.get(streamId)?.length ?? 0;
    },

    async readSnapshot(streamId, entityType) {
      return snapshots.get(snapshotKey(streamId, entityType));
    },

    async writeSnapshot(streamId, entityType, snapshot) {
      const key = snapshotKey(streamId, entityType);
      const existing = snapshots.get(key);
      if (existing && existing.schemaVersion === snapshot.schemaVersion && existing.version >= snapshot.version) return;
      snapshots.set(key, { ...snapshot });
    },
  };
}
