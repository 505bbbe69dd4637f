import { StoreLifecycle } from './lifecycle.js';
import { isClaimable, isHeldBack, outboxStats } from './outbox-rules.js';
import type {
  AppendResult,
  CommitRequest,
  OutboxRecord,
  OutboxStats,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
} from './port.js';

interface Row extends OutboxRecord {
  leaseOwner: string | null;
  leaseUntil: number;
}

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
  const processed = new Map<string, Set<string>>();
  const snapshots = new Map<string, StoredSnapshot>();
  const outbox = new Map<string, Row>();
  let nextOutboxId = 1;
  const lifecycle = new StoreLifecycle(
    async () => {},
    async () => {},
  );
  const snapshotKey = (streamId: string, entityType: string) => `${entityType.length}:${entityType}${streamId}`;

  function append(append: StreamAppend, recordedAt: number): AppendResult {
    const log = logs.get(append.streamId) ?? [];
    if (log.length !== append.expectedVersion) {
      return { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: log.length } };
    }
    const handled = processed.get(append.streamId);
    if (append.messageId !== undefined && handled?.has(append.messageId)) return { ok: false, duplicate: true };

    for (const data of append.events) log.push({ version: log.length + 1, data, recordedAt });
    logs.set(append.streamId, log);
    if (append.messageId !== undefined) processed.set(append.streamId, (handled ?? new Set()).add(append.messageId));
    for (const { targetId, key } of append.cancelTimers ?? []) {
      for (const [id, row] of outbox) {
        if (row.status === 'pending' && row.targetId === targetId && row.timerKey === key) outbox.delete(id);
      }
    }
    for (const write of append.outbox ?? []) {
      const id = String(nextOutboxId++);
      outbox.set(id, {
        ...write,
        id,
        sourceType: append.entityType ?? '',
        sourceId: append.streamId,
        attempts: 0,
        lastError: null,
        status: 'pending',
        leaseOwner: null,
        leaseUntil: 0,
      });
    }
    return { ok: true, version: log.length };
  }

  const pending = () => [...outbox.values()].filter((row) => row.status === 'pending');
  const publish = (row: Row): OutboxRecord => {
    const { leaseOwner: _owner, leaseUntil: _until, ...record } = row;
    return { ...record };
  };

  return {
    kind: 'memory',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    async commit(request: CommitRequest): Promise<readonly AppendResult[]> {
      // Everything below runs without an await, so the batch is atomic like a transaction.
      return request.appends.map((a) => append(a, request.recordedAt));
    },

    async readStream(streamId, fromVersion, limit) {
      const log = logs.get(streamId) ?? [];
      const start = Math.max(fromVersion, 1) - 1;
      return log.slice(start, start + limit);
    },

    async readStreams(requests, limit) {
      return requests.map(({ streamId, fromVersion }) => {
        const start = Math.max(fromVersion, 1) - 1;
        return (logs.get(streamId) ?? []).slice(start, start + limit);
      });
    },

    async readLogs(requests, limit) {
      return requests.map(({ streamId, entityType, schemaVersion }) => {
        const found = snapshots.get(snapshotKey(streamId, entityType));
        const snapshot = found?.schemaVersion === schemaVersion ? found : undefined;
        const from = snapshot?.version ?? 0;
        return { ...(snapshot ? { snapshot } : {}), events: (logs.get(streamId) ?? []).slice(from, from + limit) };
      });
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

    async claimOutbox({ owner, now, leaseMs, limit }) {
      const rows = pending().sort((a, b) => Number(a.id) - Number(b.id));
      const claimed: OutboxRecord[] = [];
      for (const row of rows) {
        if (claimed.length >= limit) break;
        if (!isClaimable(row, now) || isHeldBack(row, rows)) continue;
        row.leaseOwner = owner;
        row.leaseUntil = now + leaseMs;
        (row as { attempts: number }).attempts++;
        claimed.push(publish(row));
      }
      return claimed;
    },

    async settleOutbox(id, owner, outcome) {
      const row = outbox.get(id);
      if (!row || row.leaseOwner !== owner || row.status !== 'pending') return;
      if ('done' in outcome) {
        outbox.delete(id);
        return;
      }
      Object.assign(row, { lastError: outcome.error, leaseOwner: null, leaseUntil: 0 });
      if ('dead' in outcome) Object.assign(row, { status: 'dead' });
      else Object.assign(row, { dueAt: outcome.retryAt });
    },

    async deadLetters(limit) {
      return [...outbox.values()]
        .filter((row) => row.status === 'dead')
        .sort((a, b) => Number(a.id) - Number(b.id))
        .slice(0, limit)
        .map(publish);
    },

    async retryDeadLetter(id, now) {
      const row = outbox.get(id);
      if (row?.status !== 'dead') return false;
      Object.assign(row, { status: 'pending', attempts: 0, dueAt: now, leaseOwner: null, leaseUntil: 0 });
      return true;
    },

    async nextDueAt(after) {
      const times = pending()
        .map((row) => Math.max(row.dueAt, row.leaseUntil))
        .filter((at) => at > after);
      return times.length === 0 ? undefined : Math.min(...times);
    },

    async outboxStats(now): Promise<OutboxStats> {
      return outboxStats([...outbox.values()], now);
    },
  };
}
