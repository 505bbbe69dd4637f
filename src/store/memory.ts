import { ConfigurationError } from '../errors.js';
import { memoryMembership } from './memory-membership.js';
import { ReadyRows } from './memory-ready-rows.js';
import { claimedRows, concernsEntity, freedInLane, lookAgainAt, outboxStats, writtenHeld } from './outbox-rules.js';
import type {
  AppendResult,
  Checkpoint,
  FeedEvent,
  OutboxRecord,
  RecordedAnswer,
  SkippedEvent,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
} from './port/index.js';
import { partsOf, positionOf } from './positions.js';
import { SharedLifecycle } from './shared-lifecycle.js';

interface Row extends OutboxRecord {
  leaseOwner: string | null;
  leaseUntil: number;
  held: boolean;
}

interface CheckpointRow {
  checkpoint: Checkpoint;
  owner: string | null;
  leaseUntil: number;
  skipped: SkippedEvent[];
}

/**
 * An in-process store for tests and examples. It keeps everything in memory for as long as the
 * store object lives, so a system closed and created again on the same object finds its entities.
 * Share one object between systems to test duplicate workers without a database. It serves
 * follow, subscribe and reactors; SQL projections need a SQL store (`sqliteStore({ filename: ':memory:' })`).
 *
 * @example
 * const system = createSystem({ store: memoryStore(), entities: [Counter] });
 */
export function memoryStore(): Store {
  return controlledMemoryStore().store;
}

/**
 * What a simulation (pachyderm/testing) needs of the outbox beyond the port: a look at what a claim
 * could take that changes nothing, and claims held to chosen rows. Not exported from the package.
 */
export interface OutboxControl {
  /** The rows a claim at `now` could take first (due, not leased, not held back in their lane), in id order. */
  claimable(now: number): OutboxRecord[];
  /** While set, a claim takes only the rows it accepts. */
  only: ((row: OutboxRecord) => boolean) | undefined;
}

/** A memory store and the control of its outbox. */
export function controlledMemoryStore(): { readonly store: Store; readonly outbox: OutboxControl } {
  const logs = new Map<string, StoredEvent[]>();
  /** Per log, the ids of the messages it handled, with when. */
  const processed = new Map<string, Map<string, number>>();
  /** Per log, the answers of idempotent calls by key, with when. */
  const answers = new Map<string, Map<string, { answer: RecordedAnswer; recordedAt: number }>>();
  const snapshots = new Map<string, StoredSnapshot>();
  const outbox = new Map<string, Row>();
  let nextOutboxId = 1;
  /** Every event in commit order (the same objects as in the logs), with its log and type: the feed. */
  const feed: StoredEvent[] = [];
  const feedStreams: string[] = [];
  const feedTypes: string[] = [];
  const checkpoints = new Map<string, CheckpointRow>();
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
    const repeated = handled ? (append.messageIds ?? []).filter((id) => handled.has(id)) : [];
    if (repeated.length > 0) return { ok: false, duplicate: true, messageIds: repeated };
    const keyed = append.idempotency;
    const answered = answers.get(append.streamId);
    if (keyed && answered) {
      const keys = keyed.answers
        .map(({ key }) => key)
        .filter((key) => (answered.get(key)?.recordedAt ?? Number.NEGATIVE_INFINITY) >= keyed.since);
      if (keys.length > 0) return { ok: false, duplicate: true, messageIds: [], keys };
    }

    for (const data of append.events) {
      const event = {
        version: log.length + 1,
        data,
        eventVersion: append.eventVersion,
        recordedAt,
        position: positionOf(feed.length + 1),
      };
      log.push(event);
      feed.push(event);
      feedStreams.push(append.streamId);
      feedTypes.push(append.entityType);
    }
    logs.set(append.streamId, log);
    if (append.messageIds?.length) {
      const ids = handled ?? new Map<string, number>();
      for (const id of append.messageIds) ids.set(id, recordedAt);
      processed.set(append.streamId, ids);
    }
    for (const { targetId, key } of append.cancelTimers ?? []) {
      for (const [id, row] of outbox) {
        if (row.status === 'pending' && row.targetId === targetId && row.timerKey === key) {
          outbox.delete(id);
          leaveLane(row);
          if (!row.held) ready.remove(row);
        }
      }
    }
    for (const write of append.outbox ?? []) {
      const id = String(nextOutboxId++);
      const lane = write.orderKey === null ? [] : laneOf(write.orderKey);
      const row: Row = {
        ...write,
        id,
        held: write.orderKey !== null && writtenHeld(write.kind, lane[lane.length - 1]),
        sourceType: append.entityType,
        sourceId: append.streamId,
        attempts: 0,
        lastError: null,
        status: 'pending',
        leaseOwner: null,
        leaseUntil: 0,
      };
      outbox.set(id, row);
      enterLane(row);
      if (!row.held) ready.add(row);
    }
    const position = append.events.length === 0 ? '' : (log[log.length - 1] as StoredEvent).position;
    if (keyed?.answers.length) {
      const byKey = answered ?? new Map();
      for (const answer of keyed.answers) byKey.set(answer.key, { answer: { ...answer, position }, recordedAt });
      answers.set(append.streamId, byKey);
    }
    return { ok: true, version: log.length, position };
  }

  /** Forgets up to `limit` entries recorded before `before` from per-log maps; answers how many. */
  function forget<V>(
    maps: Map<string, Map<string, V>>,
    recordedAt: (value: V) => number,
    before: number,
    limit: number,
  ): number {
    let count = 0;
    for (const [streamId, entries] of maps) {
      for (const [key, value] of entries) {
        if (count === limit) return count;
        if (recordedAt(value) >= before) continue;
        entries.delete(key);
        count++;
      }
      if (entries.size === 0) maps.delete(streamId);
    }
    return count;
  }

  /** The checkpoint if `owner` holds its lease at `now`. */
  function leased(name: string, owner: string, now: number): CheckpointRow | undefined {
    const row = checkpoints.get(name);
    return row && row.owner === owner && row.leaseUntil > now ? row : undefined;
  }

  /** The pending rows not held, by due time then id. */
  const ready = new ReadyRows<Row>();
  /** Each order key's pending rows, in id order. */
  const lanes = new Map<string, Row[]>();
  const laneOf = (orderKey: string): readonly Row[] => lanes.get(orderKey) ?? [];
  function enterLane(row: Row): void {
    if (row.orderKey === null) return;
    const lane = lanes.get(row.orderKey);
    if (!lane) {
      lanes.set(row.orderKey, [row]);
      return;
    }
    let at = lane.length;
    while (at > 0 && Number((lane[at - 1] as Row).id) > Number(row.id)) at--;
    lane.splice(at, 0, row);
  }
  function leaveLane(row: Row): void {
    const lane = row.orderKey === null ? undefined : lanes.get(row.orderKey);
    const at = lane?.indexOf(row) ?? -1;
    if (!lane || at < 0) return;
    lane.splice(at, 1);
    if (lane.length === 0) lanes.delete(row.orderKey as string);
  }
  const publish = ({ leaseOwner: _owner, leaseUntil: _until, held: _held, ...record }: Row): OutboxRecord => record;
  const readFrom = (streamId: string, fromVersion: number, limit: number) => {
    const start = Math.max(fromVersion, 1) - 1;
    return (logs.get(streamId) ?? []).slice(start, start + limit);
  };

  const control: OutboxControl = {
    // Heads only: a lane's later rows come after its first, in the same claim.
    claimable: (now) => claimedRows(ready.due(now), () => [], now, Number.MAX_SAFE_INTEGER, true).map(publish),
    only: undefined,
  };
  const store: Store = {
    ...memoryMembership(),
    kind: 'memory',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    async commit(request) {
      if (request.project) throw new ConfigurationError('The memory store has no SQL for inline projections');
      // Everything below runs without an await, so the batch is atomic like a transaction.
      return request.appends.map((a) => append(a, request.recordedAt));
    },

    async readFeed({ after, entityTypes, limit }) {
      const start = Number(partsOf(after, 1, 'memory')?.[0] ?? 0);
      const types = new Set(entityTypes);
      const events: FeedEvent[] = [];
      for (let i = start; i < feed.length && events.length < limit; i++) {
        const entityType = feedTypes[i] as string;
        if (types.has(entityType))
          events.push({ ...(feed[i] as StoredEvent), streamId: feedStreams[i] as string, entityType });
      }
      return events;
    },

    async feedHead(entityTypes) {
      const types = new Set(entityTypes);
      for (let i = feed.length - 1; i >= 0; i--) {
        if (types.has(feedTypes[i] as string)) return (feed[i] as StoredEvent).position;
      }
      return '';
    },

    async leaseCheckpoint({ name, owner, now, leaseMs, version }) {
      const row = checkpoints.get(name) ?? {
        checkpoint: { name, version, position: '', failed: null, rebuild: false },
        owner: null,
        leaseUntil: 0,
        skipped: [],
      };
      if (row.owner !== owner && row.leaseUntil > now) return undefined;
      Object.assign(row, { owner, leaseUntil: now + leaseMs });
      checkpoints.set(name, row);
      return row.checkpoint;
    },

    async readCheckpoint(name) {
      return checkpoints.get(name)?.checkpoint;
    },

    async writeCheckpoint(write) {
      if (write.statements.length > 0) throw new ConfigurationError('The memory store has no SQL for projections');
      partsOf(write.position, 1, 'memory');
      const row = leased(write.name, write.owner, write.now);
      if (!row || row.checkpoint.position !== write.expected) return false;
      const { checkpoint } = row;
      row.checkpoint = {
        name: checkpoint.name,
        version: write.version,
        position: write.position,
        failed: write.failed === undefined ? checkpoint.failed : write.failed,
        rebuild: write.restart ? false : checkpoint.rebuild,
      };
      if (write.restart) row.skipped = [];
      row.skipped.push(...(write.skipped ?? []).map((skipped) => ({ ...skipped })));
      row.leaseUntil = write.now + write.leaseMs;
      return true;
    },

    async markCheckpoint(name, mark) {
      const row = checkpoints.get(name);
      if (!row) return false;
      row.checkpoint = { ...row.checkpoint, failed: null, ...(mark === 'rebuild' ? { rebuild: true } : {}) };
      return true;
    },

    async skippedEvents(name, limit) {
      return (checkpoints.get(name)?.skipped ?? []).slice(0, limit);
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

    async readAnswers(requests, since) {
      return requests.map(({ streamId, keys }) => {
        const byKey = answers.get(streamId);
        const found: RecordedAnswer[] = [];
        for (const key of keys) {
          const stored = byKey?.get(key);
          if (stored && stored.recordedAt >= since) found.push({ ...stored.answer });
        }
        return found;
      });
    },

    async prune({ messageIdsBefore, keysBefore, limit }) {
      return {
        messageIds: forget(processed, (at) => at, messageIdsBefore, limit),
        keys: forget(answers, (stored) => stored.recordedAt, keysBefore, limit),
      };
    },

    async writeSnapshot(streamId, entityType, snapshot) {
      const key = snapshotKey(streamId, entityType);
      const existing = snapshots.get(key);
      if (existing && existing.schemaVersion === snapshot.schemaVersion && existing.version >= snapshot.version) return;
      snapshots.set(key, { ...snapshot });
    },

    async claimOutbox({ owner, now, leaseMs, limit }) {
      const { only } = control;
      const due = only ? [...ready.due(now)].filter(only) : ready.due(now);
      return claimedRows(due, laneOf, now, limit, true).map((row) => {
        row.leaseOwner = owner;
        row.leaseUntil = now + leaseMs;
        (row as { attempts: number }).attempts++;
        return publish(row);
      });
    },

    async settleOutbox(owner, settlements) {
      const touched = new Set<string>();
      for (const { id, outcome } of settlements) {
        const row = outbox.get(id);
        if (!row || row.leaseOwner !== owner || row.status !== 'pending') continue;
        if (row.orderKey !== null) touched.add(row.orderKey);
        if ('released' in outcome) {
          Object.assign(row, { leaseOwner: null, leaseUntil: 0, attempts: row.attempts - 1 });
          continue;
        }
        if (!row.held) ready.remove(row);
        if ('done' in outcome) {
          outbox.delete(id);
          leaveLane(row);
          continue;
        }
        Object.assign(row, { lastError: outcome.error, leaseOwner: null, leaseUntil: 0 });
        if ('dead' in outcome) {
          Object.assign(row, { status: 'dead' });
          leaveLane(row);
        } else {
          Object.assign(row, { dueAt: outcome.retryAt });
          if (!row.held) ready.add(row);
        }
      }
      for (const lane of touched) {
        const freed = freedInLane(laneOf(lane));
        if (freed) {
          freed.held = false;
          ready.add(freed);
        }
      }
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
      // A dead letter retried is not held: it goes as soon as it is due.
      Object.assign(row, { status: 'pending', attempts: 0, dueAt: now, leaseOwner: null, leaseUntil: 0, held: false });
      enterLane(row);
      ready.add(row);
      return true;
    },

    async nextDueAt(after) {
      return lookAgainAt(ready.all(), after);
    },

    async outboxStats(now) {
      return outboxStats([...outbox.values()], now);
    },

    async outboxOf(entity, limit) {
      const rows: OutboxRecord[] = [];
      for (const row of outbox.values()) if (concernsEntity(row, entity)) rows.push(publish(row));
      return rows.sort((a, b) => Number(a.id) - Number(b.id)).slice(0, limit);
    },
  };
  return { store, outbox: control };
}
