import Database from 'better-sqlite3';
import { renderSql, type SqlStatement, type SqlValue } from '../../core/sql.js';
import { ConfigurationError } from '../../errors.js';
import { InlineProjectionError } from '../inline-projection-error.js';
import { freedInLane, type OutboxRow, outboxRecord, writtenHeld } from '../outbox-rules.js';
import type {
  AppendResult,
  Checkpoint,
  CheckpointLease,
  CheckpointWrite,
  ClaimRequest,
  CommitRequest,
  FeedEvent,
  HeartbeatRequest,
  MemberRecord,
  OutboxRecord,
  OutboxSettlement,
  OutboxStats,
  PartitionClaim,
  PartitionHandOver,
  RecordedAnswer,
  SkippedEvent,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
  WrittenEvent,
} from '../port/index.js';
import { partsOf, positionOf } from '../positions.js';
import { SharedLifecycle } from '../shared-lifecycle.js';
import { migrate } from './schema.js';
import { statements } from './statements.js';

export interface SqliteStoreOptions {
  /** The database file; created when missing (its directory must exist). */
  readonly filename: string;
  /**
   * `FULL` (default): a commit is on disk before the call is answered, also across power loss.
   * `NORMAL`: in WAL mode, survives a process crash but may lose the last commits on power loss.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a writer waits for another process's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

/**
 * The embedded default: a SQLite file through better-sqlite3, in WAL mode. Several processes may
 * use one file; SQLite serialises their writes and the expected-version check keeps them exact.
 *
 * @example
 * const store = sqliteStore({ filename: 'pachyderm.db' });
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  if (typeof options?.filename !== 'string' || options.filename.length === 0) {
    throw new ConfigurationError('sqliteStore: filename must be a non-empty string');
  }
  const synchronous = options.synchronous ?? 'FULL';
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
    throw new ConfigurationError(`sqliteStore: synchronous must be 'FULL' or 'NORMAL', got ${String(synchronous)}`);
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigurationError('sqliteStore: busyTimeoutMs must be an integer >= 0');
  }
  const lifecycle = new SharedLifecycle(
    'sqlite',
    async () => connect(options.filename, synchronous, busyTimeoutMs),
    async (connection) => {
      connection.db.close();
    },
  );
  const sql = () => lifecycle.resource.sql;

  return {
    kind: 'sqlite',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    async commit(request) {
      return lifecycle.resource.commit(request);
    },
    async readStreams(requests, limit) {
      const read = sql().readStreams;
      return requests.map(({ streamId, fromVersion }) =>
        eventsOf(read.all(streamId, fromVersion, limit) as EventRow[]),
      );
    },
    async readAnswers(requests, since) {
      const read = sql().readAnswers;
      return requests.map(({ streamId, keys }) => {
        const found: RecordedAnswer[] = [];
        for (const key of keys) {
          const row = read.get(streamId, key, since) as AnswerRow | undefined;
          if (row) found.push(answerOf(row));
        }
        return found;
      });
    },
    async prune({ messageIdsBefore, keysBefore, limit }) {
      const { prune } = sql();
      return {
        messageIds: prune.messageIds.run(messageIdsBefore, limit).changes,
        keys: prune.keys.run(keysBefore, limit).changes,
      };
    },
    changeToken() {
      const connection = lifecycle.isOpen ? lifecycle.resource : undefined;
      // PRAGMA data_version changes when another connection (another process) commits.
      return connection && lifecycle.changeToken(connection.dataVersion.get() as number);
    },
    async readFeed({ after, entityTypes, limit }) {
      const seq = partsOf(after, 1, 'sqlite')?.[0] ?? 0;
      const read = sql().readFeed;
      // One ordered range per type (the index serves each), merged by position.
      const events = entityTypes.flatMap((type) => feedEventsOf(read.all(type, seq, limit) as FeedRow[], type));
      if (entityTypes.length > 1) events.sort((a, b) => (a.position < b.position ? -1 : 1));
      return events.slice(0, limit);
    },
    async feedHead(entityTypes) {
      const head = sql().feedHead;
      let latest = '';
      for (const type of entityTypes) {
        const seq = head.get(type) as number | undefined;
        const found = seq === undefined ? '' : positionOf(seq);
        if (found > latest) latest = found;
      }
      return latest;
    },
    async leaseCheckpoint(lease) {
      return lifecycle.resource.leaseCheckpoint(lease);
    },
    async readCheckpoint(name) {
      const row = sql().readCheckpoint.get(name) as CheckpointRow | undefined;
      return row && checkpointOf(row);
    },
    async writeCheckpoint(write) {
      partsOf(write.position, 1, 'sqlite');
      return lifecycle.resource.writeCheckpoint(write);
    },
    async markCheckpoint(name, mark) {
      return sql().markCheckpoint.run(mark === 'rebuild' ? 1 : 0, name).changes > 0;
    },
    async skippedEvents(name, limit) {
      return sql().skippedEvents.all(name, limit) as SkippedEvent[];
    },
    sql: {
      async query(statement) {
        const prepared = lifecycle.resource.prepared(statement);
        const values = bindable(statement.values);
        if (prepared.reader) return prepared.all(...values) as Record<string, unknown>[];
        prepared.run(...values);
        return [];
      },
      async execute(statements) {
        lifecycle.resource.execute(statements);
      },
    },
    async joinCluster({ incarnation, name, address, now }) {
      sql().joinCluster.run({ incarnation, name, address, now });
    },
    async heartbeat(beat) {
      return lifecycle.resource.heartbeat(beat);
    },
    async claimPartitions(claim) {
      return lifecycle.resource.claimPartitions(claim);
    },
    async handOverPartitions(incarnation, partitions) {
      lifecycle.resource.handOverPartitions(incarnation, partitions);
    },
    async leaveCluster(incarnation) {
      lifecycle.resource.leaveCluster(incarnation);
    },
    async readLogs(requests, limit) {
      const { snapshot: readSnapshot, events: readEvents } = sql().readLogs;
      return requests.map(({ streamId, entityType, schemaVersion }) => {
        const found = readSnapshot.get(streamId, entityType) as StoredSnapshot | undefined;
        const snapshot = found?.schemaVersion === schemaVersion ? found : undefined;
        const events = eventsOf(readEvents.all(streamId, (snapshot?.version ?? 0) + 1, limit) as EventRow[]);
        return snapshot ? { snapshot, events } : { events };
      });
    },
    async writeSnapshot(streamId, entityType, snapshot) {
      sql().writeSnapshot.run(streamId, entityType, snapshot.schemaVersion, snapshot.version, snapshot.state);
    },
    async claimOutbox(request) {
      return lifecycle.resource.claim(request);
    },
    async settleOutbox(owner, settlements) {
      if (settlements.length > 0) lifecycle.resource.settle(owner, settlements);
    },
    async deadLetters(limit) {
      return (sql().deadLetters.all(limit) as OutboxRow[]).map(outboxRecord);
    },
    async retryDeadLetter(id, now) {
      return sql().retryDeadLetter.run(now, Number(id)).changes > 0;
    },
    async nextDueAt(after) {
      return (sql().nextDueAt.get({ after }) as { at: number | null }).at ?? undefined;
    },
    async outboxStats(now) {
      return sql().outboxStats.get({ now }) as OutboxStats;
    },
    async outboxOf({ type, id }, limit) {
      return (sql().outboxOf.all({ type, id, limit }) as OutboxRow[]).map(outboxRecord);
    },
  };
}

/** The application's statements prepared per connection, by text; at most this many kept. */
const MAX_PREPARED = 256;

/** Opens the file, applies migrations, prepares the statements and the transactions. */
function connect(filename: string, synchronous: 'FULL' | 'NORMAL', busyTimeoutMs: number) {
  const db = new Database(filename, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    migrate(db);
    const sql = prepare(db, statements);
    for (const rows of [sql.readStreams, sql.readLogs.events, sql.readFeed]) rows.raw();
    sql.feedHead.pluck();
    const cache = new Map<string, Database.Statement>();
    const prepared = (statement: SqlStatement) => {
      const text = renderSql(statement, 'question');
      let found = cache.get(text);
      if (!found) {
        if (cache.size >= MAX_PREPARED) cache.clear();
        found = db.prepare(text);
        cache.set(text, found);
      }
      return found;
    };
    const run = (list: readonly SqlStatement[]) => {
      for (const statement of list) prepared(statement).run(...bindable(statement.values));
    };
    const commit = db.transaction((request: CommitRequest) =>
      request.appends.map((a, index) => append(sql, a, request, index, run)),
    );
    const claim = db.transaction(({ owner, now, leaseMs, limit }: ClaimRequest) => {
      const { heads, laneAfter, lease } = sql.claimOutbox;
      const taken: ClaimedRow[] = [];
      for (const head of heads.all({ now, limit }) as ClaimedRow[]) {
        if (taken.length >= limit) break;
        taken.push(head);
        if (head.orderKey === null) continue;
        // The held rows right behind it, while they can be claimed: the lane's run (see `claimedRows`).
        const after = laneAfter.all({ orderKey: head.orderKey, id: head.id, limit: limit - taken.length });
        for (const next of after as ClaimedRow[]) {
          if (next.held === 0 || next.kind !== 'message' || next.dueAt > now || next.leaseUntil > now) break;
          taken.push(next);
        }
      }
      taken.sort((a, b) => Number(a.id) - Number(b.id));
      for (const row of taken) lease.run(owner, now + leaseMs, row.id);
      return taken.map(({ held: _held, leaseUntil: _until, ...row }) =>
        outboxRecord({ ...row, attempts: row.attempts + 1 }),
      );
    });
    const settle = db.transaction((owner: string, settlements: readonly OutboxSettlement[]) => {
      const s = sql.settleOutbox;
      const lanes = new Set<string>();
      for (const { id, outcome } of settlements) {
        const row = s.leased.get(Number(id), owner) as { orderKey: string | null } | undefined;
        if (!row) continue;
        if (row.orderKey !== null) lanes.add(row.orderKey);
        if ('done' in outcome) s.done.run(Number(id));
        else if ('released' in outcome) s.released.run(Number(id));
        else if ('dead' in outcome) s.dead.run(outcome.error, Number(id));
        else s.retry.run(outcome.retryAt, outcome.error, Number(id));
      }
      for (const orderKey of lanes) {
        const lane = (s.laneHead.all({ orderKey }) as LaneRow[]).map(laneRowOf);
        const freed = freedInLane(lane);
        if (freed) s.free.run(Number(freed.id));
      }
    });
    const leaseCheckpoint = db.transaction(({ name, owner, now, leaseMs, version }: CheckpointLease) => {
      sql.leaseCheckpoint.create.run(name, version);
      if (sql.leaseCheckpoint.take.run({ name, owner, now, until: now + leaseMs }).changes === 0) return undefined;
      return checkpointOf(sql.readCheckpoint.get(name) as CheckpointRow);
    });
    const writeCheckpoint = db.transaction((write: CheckpointWrite) => {
      const { writeCheckpoint: w } = sql;
      const moved = w.move.run({
        name: write.name,
        owner: write.owner,
        now: write.now,
        until: write.now + write.leaseMs,
        expected: write.expected,
        position: write.position,
        version: write.version,
        setFailed: write.failed === undefined ? 0 : 1,
        failed: write.failed ?? null,
        restart: write.restart ? 1 : 0,
      });
      if (moved.changes === 0) return false;
      if (write.restart) w.forgetSkipped.run(write.name);
      for (const skipped of write.skipped ?? []) w.skip.run({ name: write.name, ...skipped });
      run(write.statements);
      return true;
    });
    const heartbeat = db.transaction(({ incarnation, ttlMs, now, status, partitions }: HeartbeatRequest) => {
      const { heartbeat: h } = sql;
      const alive = h.renew.run({ incarnation, ttlMs, now, status }).changes > 0;
      h.forget.run({ now, ttlMs });
      const owners: (string | null)[] = new Array(partitions).fill(null);
      for (const row of h.owners.all(partitions) as { partition: number; owner: string }[]) {
        owners[row.partition] = row.owner;
      }
      return { alive, members: h.members.all({ now, ttlMs }) as MemberRecord[], owners };
    });
    const claimPartitions = db.transaction(({ incarnation, ttlMs, now, partitions }: PartitionClaim) => {
      if (!sql.heartbeat.alive.get({ incarnation, ttlMs, now })) return [];
      return partitions.filter(
        (partition) => sql.claimPartition.run({ partition, incarnation, now, ttlMs }).changes > 0,
      );
    });
    const handOverPartitions = db.transaction((incarnation: string, partitions: readonly PartitionHandOver[]) => {
      for (const { partition, to } of partitions) sql.handOverPartition.run(to, partition, incarnation);
    });
    const leaveCluster = db.transaction((incarnation: string) => {
      sql.leaveCluster.member.run(incarnation);
      sql.leaveCluster.partitions.run(incarnation);
    });
    const withoutSync = db.prepare('PRAGMA synchronous = NORMAL');
    const withSync = db.prepare(`PRAGMA synchronous = ${synchronous}`);
    return {
      db,
      sql,
      prepared,
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      // IMMEDIATE: take the write lock at the start, so the version read inside is exact.
      commit: (request: CommitRequest) => commit.immediate(request),
      claim: (request: ClaimRequest) => claim.immediate(request),
      settle: (owner: string, settlements: readonly OutboxSettlement[]) => settle.immediate(owner, settlements),
      leaseCheckpoint: (lease: CheckpointLease) => leaseCheckpoint.immediate(lease),
      // A read-side batch need not wait for the disk: it stays atomic, and what a power loss
      // takes is applied again from the log (the events themselves commit under `synchronous`).
      writeCheckpoint: (write: CheckpointWrite) => {
        if (synchronous === 'NORMAL') return writeCheckpoint.immediate(write);
        withoutSync.run();
        try {
          return writeCheckpoint.immediate(write);
        } finally {
          withSync.run();
        }
      },
      execute: db.transaction(run),
      heartbeat: (request: HeartbeatRequest) => heartbeat.immediate(request),
      claimPartitions: (request: PartitionClaim) => claimPartitions.immediate(request),
      handOverPartitions: (incarnation: string, partitions: readonly PartitionHandOver[]) =>
        handOverPartitions.immediate(incarnation, partitions),
      leaveCluster: (incarnation: string) => leaveCluster.immediate(incarnation),
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The statements, prepared: the same tree, every SQL text replaced by its prepared statement. */
type Prepared<T> = { readonly [K in keyof T]: T[K] extends string ? Database.Statement : Prepared<T[K]> };
type Statements = Prepared<typeof statements>;

function prepare<T extends object>(db: Database.Database, tree: T): Prepared<T> {
  const entries = Object.entries(tree).map(([key, value]) => [
    key,
    typeof value === 'string' ? db.prepare(value) : prepare(db, value as object),
  ]);
  return Object.fromEntries(entries) as Prepared<T>;
}

/** An event as `statements` reads it: version, data, recorded_at, seq, event_version (and stream_id in the feed). */
type EventRow = [number, string, number, number, number];
type FeedRow = [number, string, number, number, number, string];

function eventsOf(rows: readonly EventRow[]): StoredEvent[] {
  const events = new Array<StoredEvent>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const [version, data, recordedAt, seq, eventVersion] = rows[i] as EventRow;
    events[i] = { version, data, eventVersion, recordedAt, position: positionOf(seq) };
  }
  return events;
}

function feedEventsOf(rows: readonly FeedRow[], entityType: string): FeedEvent[] {
  const events = new Array<FeedEvent>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const [version, data, recordedAt, seq, eventVersion, streamId] = rows[i] as FeedRow;
    events[i] = { version, data, eventVersion, recordedAt, position: positionOf(seq), streamId, entityType };
  }
  return events;
}

/** An outbox row as a claim reads it: the record's columns, whether it is held, its lease. */
type ClaimedRow = OutboxRow & { readonly held: number; readonly leaseUntil: number };

/** A lane's row as `laneTail` and `laneHead` read it. */
interface LaneRow {
  readonly id: number;
  readonly kind: OutboxRecord['kind'];
  readonly held: number;
  readonly attempts: number;
}

function laneRowOf(row: LaneRow) {
  return { id: String(row.id), kind: row.kind, held: row.held === 1, attempts: row.attempts };
}

interface CheckpointRow extends Omit<Checkpoint, 'rebuild'> {
  readonly rebuild: number;
}

function checkpointOf(row: CheckpointRow): Checkpoint {
  return {
    name: row.name,
    version: row.version,
    position: row.position,
    failed: row.failed,
    rebuild: row.rebuild === 1,
  };
}

/** Parameters as better-sqlite3 binds them: booleans as 1 and 0, bytes as a Buffer. */
function bindable(values: readonly SqlValue[]): readonly unknown[] {
  if (!values.some((value) => typeof value === 'boolean' || value instanceof Uint8Array)) return values;
  return values.map((value) =>
    typeof value === 'boolean'
      ? Number(value)
      : value instanceof Uint8Array && !Buffer.isBuffer(value)
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : value,
  );
}

/**
 * One append, inside the commit's transaction: SQLite runs one writer at a time. The inline
 * projections' statements for it run right after its events.
 */
function append(
  sql: Statements,
  append: StreamAppend,
  request: CommitRequest,
  index: number,
  run: (statements: readonly SqlStatement[]) => void,
): AppendResult {
  const { commit } = sql;
  const actual = (commit.streamVersion.get(append.streamId) as { version: number }).version;
  if (actual !== append.expectedVersion) {
    return { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: actual } };
  }
  const { streamId, idempotency } = append;
  if (append.messageIds?.length) {
    const repeated = append.messageIds.filter((id) => commit.isProcessed.get(streamId, id) !== undefined);
    if (repeated.length > 0) return { ok: false, duplicate: true, messageIds: repeated };
  }
  if (idempotency?.answers.length) {
    const keys = idempotency.answers
      .map(({ key }) => key)
      .filter((key) => commit.isAnswered.get(streamId, key, idempotency.since) !== undefined);
    if (keys.length > 0) return { ok: false, duplicate: true, messageIds: [], keys };
  }
  for (const id of append.messageIds ?? []) commit.markProcessed.run(streamId, id, request.recordedAt);
  let version = actual;
  const written: WrittenEvent[] = [];
  for (const data of append.events) {
    const { lastInsertRowid } = commit.insertEvent.run(
      append.streamId,
      ++version,
      data,
      request.recordedAt,
      append.entityType,
      append.eventVersion,
    );
    written.push({ version, position: positionOf(lastInsertRowid) });
  }
  if (request.project) {
    try {
      run(request.project(index, written));
    } catch (error) {
      throw new InlineProjectionError(index, error);
    }
  }
  for (const { targetId, key } of append.cancelTimers ?? []) commit.cancelTimer.run(targetId, key);
  for (const write of append.outbox ?? []) {
    // The lane's tail includes the rows this append wrote before this one.
    const tail = write.orderKey === null ? undefined : (commit.laneTail.get(write.orderKey) as LaneRow | undefined);
    commit.insertOutbox.run({
      kind: write.kind,
      name: write.name,
      targetId: write.targetId ?? null,
      payload: write.payload,
      idempotencyKey: write.idempotencyKey,
      dueAt: write.dueAt,
      timer: write.timer ? 1 : 0,
      timerKey: write.timerKey ?? null,
      orderKey: write.orderKey,
      sourceType: append.entityType,
      sourceId: append.streamId,
      sourceVersion: write.sourceVersion,
      traceContext: write.traceContext ?? null,
      held: writtenHeld(write.kind, tail && laneRowOf(tail)) ? 1 : 0,
    });
  }
  const position = written[written.length - 1]?.position ?? '';
  for (const { key, version: at, rejection } of idempotency?.answers ?? []) {
    const row = { streamId, key, recordedAt: request.recordedAt, version: at, position };
    commit.recordAnswer.run({ ...row, rejection: rejection ?? null });
  }
  return { ok: true, version, position };
}

/** A keyed answer as `readAnswers` reads it. */
interface AnswerRow {
  readonly key: string;
  readonly version: number;
  readonly position: string;
  readonly rejection: string | null;
}

function answerOf({ rejection, ...answer }: AnswerRow): RecordedAnswer {
  return rejection === null ? answer : { ...answer, rejection };
}
