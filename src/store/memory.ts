import { claimableAt, isClaimable, isHeldBack, outboxStats } from './outbox-rules.js';
import type { AppendResult, OutboxRecord, Store, StoredEvent, StoredSnapshot, StreamAppend } from './port/index.js';
import { SharedLifecycle } from './shared-lifecycle.js';

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
  // The data lives with the object: opening and closing have nothing to do.
  const lifecycle = new SharedLifecycle(
    'memory',
    async () => true,
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
        sourceType: append.entityType,
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
  const publish = ({ leaseOwner: _owner, leaseUntil: _until, ...record }: Row): OutboxRecord => record;
  const readFrom = (streamId: string, fromVersion: number, limit: number) => {
    const start = Math.max(fromVersion, 1) - 1;
    return (logs.get(streamId) ?? []).slice(start, start + limit);
  };

  return {
    kind: 'memory',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    async commit(request) {
      // Everything below runs without an await, so the batch is atomic like a transaction.
      return request.appends.map((a) => append(a, request.recordedAt));
    },

    async readStreams(requests, limit) {
      return requests.map(({ streamId, fromVersion }) => readFrom(streamId, fromVersion, limit));
    },

    // Nothing but the store object's users can commit to it.
    changeToken: () => lifecycle.changeToken(0),

    async readLogs(requests, limit) {
      return requests.map(({ streamId, entityType, schemaVersion }) => {
        const found = snapshots.get(snapshotKey(streamId, entityType));
        const snapshot = found?.schemaVersion === schemaVersion ? found : undefined;
        const events = readFrom(streamId, (snapshot?.version ?? 0) + 1, limit);
        return snapshot ? { snapshot, events } : { events };
      });
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
        .map(claimableAt)
        .filter((at) => at > after);
      return times.length === 0 ? undefined : Math.min(...times);
    },

    async outboxStats(now) {
      return outboxStats([...outbox.values()], now);
    },
  };
}
