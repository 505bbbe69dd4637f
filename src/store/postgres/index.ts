import pg from 'pg';
import { renderSql, type SqlStatement } from '../../core/sql.js';
import { ConfigurationError } from '../../errors.js';
import { InlineProjectionError } from '../inline-projection-error.js';
import { type OutboxRow, outboxRecord } from '../outbox-rules.js';
import type {
  AppendResult,
  Checkpoint,
  CommitRequest,
  FeedEvent,
  LogStart,
  MemberRecord,
  OutboxStats,
  RecordedAnswer,
  SkippedEvent,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
} from '../port/index.js';
import { partsOf } from '../positions.js';
import { SharedLifecycle } from '../shared-lifecycle.js';
import { appendsChannel, watchAppends } from './append-hints.js';
import { migrate } from './schema.js';
import { driverValue, RefusedStatement, StatementBatch } from './statement-batch.js';
import { statements } from './statements.js';

export type PostgresStoreOptions = (
  | {
      /** e.g. `postgres://user@host:5432/db`. The store owns the pool it creates. */
      readonly connectionString: string;
      /** Connections in the pool. Default 10. */
      readonly poolSize?: number;
    }
  | {
      /** A pool you own: the store never ends it. */
      readonly pool: pg.Pool;
    }
) & {
  /** The schema holding Pachyderm's tables, created when missing. Default `pachyderm`. */
  readonly schema?: string;
  /**
   * How many group commits (and grouped reads) a system has in flight at once, each on its own
   * connection. Default: half the pool's connections, at least 1.
   */
  readonly inFlight?: number;
};

/**
 * A PostgreSQL store through `pg`. Migrations are applied on first use, safely when several
 * processes start at once. Appends lock the stream's row, so duplicate workers on several machines
 * are refused exactly when they are stale.
 *
 * @example
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL, schema: 'app' });
 */
export function postgresStore(options: PostgresStoreOptions): Store {
  const schema = options?.schema ?? 'pachyderm';
  if (typeof schema !== 'string' || schema.length === 0 || Buffer.byteLength(schema) > 63 || schema.includes('\0')) {
    throw new ConfigurationError('postgresStore: schema must be a name of 1 to 63 bytes');
  }
  const ownsPool = !('pool' in options);
  if (!ownsPool && typeof options.pool?.connect !== 'function') {
    throw new ConfigurationError('postgresStore: pool must be a pg.Pool');
  }
  if (ownsPool) {
    if (typeof options.connectionString !== 'string') {
      throw new ConfigurationError('postgresStore: connectionString or pool is required');
    }
    const size = options.poolSize ?? 10;
    if (!Number.isInteger(size) || size < 1) throw new ConfigurationError('postgresStore: poolSize must be >= 1');
  }
  const connections = ownsPool ? (options.poolSize ?? 10) : (options.pool.options?.max ?? 10);
  const inFlight = options.inFlight ?? Math.max(1, Math.floor(connections / 2));
  if (!Number.isInteger(inFlight) || inFlight < 1) throw new ConfigurationError('postgresStore: inFlight must be >= 1');
  const quotedSchema = `"${schema.replaceAll('"', '""')}"`;
  const sql = statements(schema, quotedSchema);

  const lifecycle = new SharedLifecycle(
    'postgres',
    async () => {
      const pool = 'pool' in options ? options.pool : createPool(options.connectionString, options.poolSize ?? 10);
      try {
        const client = await pool.connect();
        try {
          await migrate(client, schema, quotedSchema);
        } finally {
          client.release();
        }
      } catch (error) {
        if (ownsPool) await pool.end().catch(() => {});
        throw error;
      }
      return pool;
    },
    async (pool) => {
      if (ownsPool) await pool.end();
    },
  );
  const query = <R extends pg.QueryResultRow>(config: pg.QueryConfig) => lifecycle.resource.query<R>(config);
  /** Runs `work` in a transaction on one connection; it answers false to roll back. */
  async function transaction<T>(work: (client: pg.PoolClient) => Promise<T | false>): Promise<T | false> {
    const client = await lifecycle.resource.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query(result === false ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
  // Projections' statements: one round trip for many (see statement-batch.ts).
  const statementBatch = new StatementBatch(quotedSchema);
  const runStatements = (client: pg.ClientBase, statements: readonly SqlStatement[]) =>
    statementBatch.run(client, statements);

  return {
    kind: 'postgres',
    inFlight,
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    commit: (request) => commitBatch(request),

    watchAppends(hints) {
      const config = ownsPool ? { connectionString: options.connectionString } : options.pool.options;
      return watchAppends(config, appendsChannel(quotedSchema), hints);
    },

    async readStreams(requests, limit) {
      const { rows } = await query<StoredEvent & { index: number }>({
        ...sql.readStreams,
        values: [requests.map((r) => r.streamId), requests.map((r) => r.fromVersion), limit],
      });
      const pages: StoredEvent[][] = requests.map(() => []);
      for (const { index, ...event } of rows) pages[index - 1]?.push(event);
      return pages;
    },

    async readLogs(requests, limit) {
      const { rows } = await query<{
        index: number;
        snapshotVersion: number | null;
        state: string | null;
        version: number | null;
        data: string | null;
        eventVersion: number | null;
        recordedAt: number | null;
        position: string | null;
      }>({
        ...sql.readLogs,
        values: [
          requests.map((r) => r.streamId),
          requests.map((r) => r.entityType),
          requests.map((r) => r.schemaVersion),
          limit,
        ],
      });
      const starts: { snapshot?: StoredSnapshot; events: StoredEvent[] }[] = requests.map(() => ({ events: [] }));
      for (const row of rows) {
        const start = starts[row.index - 1] as { snapshot?: StoredSnapshot; events: StoredEvent[] };
        if (row.snapshotVersion !== null && !start.snapshot) {
          const schemaVersion = requests[row.index - 1]?.schemaVersion as string;
          start.snapshot = { schemaVersion, version: row.snapshotVersion, state: row.state as string };
        }
        if (row.version !== null) {
          const { version, data, eventVersion, recordedAt, position } = row as StoredEvent;
          start.events.push({ version, data, eventVersion, recordedAt, position });
        }
      }
      return starts satisfies LogStart[];
    },

    async readAnswers(requests, since) {
      const pairs = requests.flatMap(({ streamId, keys }, index) => keys.map((key) => ({ streamId, key, index })));
      const found: RecordedAnswer[][] = requests.map(() => []);
      if (pairs.length === 0) return found;
      const { rows } = await query<AnswerRow & { index: number }>({
        ...sql.readAnswers,
        values: [pairs.map((p) => p.streamId), pairs.map((p) => p.key), since],
      });
      for (const { index, ...row } of rows) found[(pairs[index - 1] as { index: number }).index]?.push(answerOf(row));
      return found;
    },

    async prune({ messageIdsBefore, keysBefore, limit }) {
      const forget = async (statement: pg.QueryConfig, before: number) =>
        (await query({ ...statement, values: [before, limit] })).rowCount ?? 0;
      return {
        messageIds: await forget(sql.prune.messageIds, messageIdsBefore),
        keys: await forget(sql.prune.keys, keysBefore),
      };
    },

    async readFeed({ after, entityTypes, limit }) {
      const [tx, seq] = partsOf(after, 2, 'postgres') ?? ['0', '0'];
      const { rows } = await query<FeedEvent>({ ...sql.readFeed, values: [entityTypes, tx, seq, limit] });
      return rows;
    },

    async feedHead(entityTypes) {
      const { rows } = await query<{ position: string | null }>({ ...sql.feedHead, values: [entityTypes] });
      return rows[0]?.position ?? '';
    },

    async joinCluster({ incarnation, name, address }) {
      await query({ ...sql.joinCluster, values: [incarnation, name, address] });
    },

    async heartbeat({ incarnation, status, ttlMs, partitions }) {
      const { rows } = await query<{ alive: boolean; members: MemberRecord[]; owners: [number, string][] }>({
        ...sql.heartbeat,
        values: [incarnation, status, ttlMs, partitions],
      });
      const { alive, members, owners } = rows[0] as {
        alive: boolean;
        members: MemberRecord[];
        owners: [number, string][];
      };
      const byPartition: (string | null)[] = new Array(partitions).fill(null);
      for (const [partition, owner] of owners) byPartition[partition] = owner;
      return { alive, members, owners: byPartition };
    },

    async claimPartitions({ incarnation, ttlMs, partitions }) {
      if (partitions.length === 0) return [];
      const { rows } = await query<{ partition: number }>({
        ...sql.claimPartitions,
        values: [incarnation, partitions, ttlMs],
      });
      return rows.map((row) => row.partition).sort((a, b) => a - b);
    },

    async handOverPartitions(incarnation, partitions) {
      if (partitions.length === 0) return;
      await query({ ...sql.handOverPartitions, values: [incarnation, JSON.stringify(partitions)] });
    },

    async leaveCluster(incarnation) {
      await query({ ...sql.leaveCluster, values: [incarnation] });
    },

    async leaseCheckpoint({ name, owner, now, leaseMs, version }) {
      const { rows } = await query<Checkpoint>({
        ...sql.leaseCheckpoint,
        values: [name, version, owner, now, leaseMs],
      });
      return rows[0];
    },

    async readCheckpoint(name) {
      const { rows } = await query<Checkpoint>({ ...sql.readCheckpoint, values: [name] });
      return rows[0];
    },

    async writeCheckpoint(write) {
      partsOf(write.position, 2, 'postgres');
      const { move, forgetSkipped, skip } = sql.writeCheckpoint;
      const written = await transaction(async (client) => {
        const moved = await client.query({
          ...move,
          values: [
            write.name,
            write.expected,
            write.owner,
            write.now,
            write.position,
            write.version,
            write.leaseMs,
            write.failed !== undefined,
            write.failed ?? null,
            write.restart === true,
          ],
        });
        if (moved.rowCount === 0) return false;
        if (write.restart) await client.query({ ...forgetSkipped, values: [write.name] });
        if (write.skipped?.length) {
          await client.query({ ...skip, values: [write.name, JSON.stringify(write.skipped)] });
        }
        await runStatements(client, write.statements);
        return true;
      });
      return written === true;
    },

    async markCheckpoint(name, mark) {
      const result = await query({ ...sql.markCheckpoint, values: [name, mark === 'rebuild'] });
      return (result.rowCount ?? 0) > 0;
    },

    async skippedEvents(name, limit) {
      const { rows } = await query<SkippedEvent>({ ...sql.skippedEvents, values: [name, limit] });
      return rows;
    },

    sql: {
      async query(statement) {
        const { rows } = await query(queryOf(statement));
        return rows;
      },
      async execute(statements) {
        await transaction(async (client) => runStatements(client, statements));
      },
    },

    async writeSnapshot(streamId, entityType, snapshot) {
      await query({
        ...sql.writeSnapshot,
        values: [streamId, entityType, snapshot.schemaVersion, snapshot.version, snapshot.state],
      });
    },

    async claimOutbox({ owner, now, leaseMs, limit }) {
      const { rows } = await query<OutboxRow>({ ...sql.claimOutbox, values: [now, limit, owner, leaseMs] });
      return rows.map(outboxRecord).sort((a, b) => Number(a.id) - Number(b.id));
    },

    async settleOutbox(owner, settlements) {
      const settled = settlements.filter(({ id }) => /^\d+$/.test(id));
      if (settled.length === 0) return;
      const outcomes = settled.map(({ outcome }) => outcome);
      await query({
        ...sql.settleOutbox,
        values: [
          owner,
          settled.map(({ id }) => id),
          outcomes.map((o) => ('done' in o ? 'done' : 'released' in o ? 'released' : 'dead' in o ? 'dead' : 'retry')),
          outcomes.map((o) => ('retryAt' in o ? o.retryAt : null)),
          outcomes.map((o) => ('error' in o ? o.error : null)),
        ],
      });
    },

    async deadLetters(limit) {
      const { rows } = await query<OutboxRow>({ ...sql.deadLetters, values: [limit] });
      return rows.map(outboxRecord);
    },

    async retryDeadLetter(id, now) {
      if (!/^\d+$/.test(id)) return false;
      const result = await query({ ...sql.retryDeadLetter, values: [id, now] });
      return (result.rowCount ?? 0) > 0;
    },

    async nextDueAt(after) {
      const { rows } = await query<{ at: number | null }>({ ...sql.nextDueAt, values: [after] });
      return rows[0]?.at ?? undefined;
    },

    async outboxOf({ type, id }, limit) {
      const { rows } = await query<OutboxRow>({ ...sql.outboxOf, values: [type, id, limit] });
      return rows.map(outboxRecord);
    },
    async outboxStats(now) {
      const { rows } = await query<OutboxStats>({ ...sql.outboxStats, values: [now] });
      return rows[0] as OutboxStats;
    },
  };

  /**
   * Commits a batch with one statement (with inline projections: that statement and theirs in one
   * transaction), applying the appends in the order given. The runtime gives
   * them in stream-id order, so two processes committing batches that share streams lock their
   * rows in the same order and cannot deadlock.
   */
  async function commitBatch(request: CommitRequest): Promise<AppendResult[]> {
    if (!request.project) return resultsOf(request, await commitRows(query, request));
    // Inline projections: the batch and their statements in one transaction on one connection.
    const { project } = request;
    const results = await transaction(async (client) => {
      const rows = await commitRows((config) => client.query(config), request);
      const statements: SqlStatement[] = [];
      /** The append each statement projects. */
      const appendOf: number[] = [];
      for (const row of rows) {
        if (row.outcome !== 'ok') continue;
        const index = row.index - 1;
        const append = request.appends[index] as StreamAppend;
        const written = (row.positions ?? []).map((position, i) => ({
          version: row.version - append.events.length + i + 1,
          position,
        }));
        let projected: readonly SqlStatement[];
        try {
          projected = project(index, written);
        } catch (error) {
          throw new InlineProjectionError(index, error);
        }
        for (const statement of projected) {
          statements.push(statement);
          appendOf.push(index);
        }
      }
      try {
        await runStatements(client, statements);
      } catch (error) {
        if (!(error instanceof RefusedStatement)) throw error;
        throw new InlineProjectionError(appendOf[error.index] as number, error);
      }
      return resultsOf(request, rows);
    });
    return results as AppendResult[];
  }

  function commitRows(run: (config: pg.QueryConfig) => Promise<pg.QueryResult<CommitRow>>, request: CommitRequest) {
    const { appends } = request;
    const hasExtras = appends.some((a) => a.outbox?.length || a.cancelTimers?.length || a.idempotency?.answers.length);
    return run({
      ...sql.commit,
      values: [
        appends.map((a) => a.streamId),
        appends.map((a) => a.expectedVersion),
        appends.map((a) => a.events.length),
        appends.flatMap((a) => a.events),
        request.recordedAt,
        appends.flatMap((a) => a.messageIds ?? []),
        appends.map((a) => a.messageIds?.length ?? 0),
        appends.map((a) => a.entityType),
        hasExtras ? JSON.stringify(appends.map(extrasOf)) : null,
        request.project !== undefined,
        appends.map((a) => a.eventVersion),
      ],
    }).then((result) => result.rows);
  }
}

interface CommitRow {
  index: number;
  outcome: 'ok' | 'conflict' | 'duplicate';
  version: number;
  positions: string[] | null;
  duplicates: string[] | null;
  keys: string[] | null;
}

function resultsOf({ appends }: CommitRequest, rows: readonly CommitRow[]): AppendResult[] {
  const results: AppendResult[] = new Array(appends.length);
  for (const row of rows) {
    const append = appends[row.index - 1] as StreamAppend;
    results[row.index - 1] =
      row.outcome === 'ok'
        ? { ok: true, version: row.version, position: row.positions?.[row.positions.length - 1] ?? '' }
        : row.outcome === 'duplicate'
          ? { ok: false, duplicate: true, messageIds: row.duplicates ?? [], ...(row.keys ? { keys: row.keys } : {}) }
          : { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: row.version } };
  }
  return results;
}

/** A statement as `pg` runs it: numbered parameters; bigints as text, bytes as a Buffer. */
function queryOf(statement: SqlStatement): pg.QueryConfig {
  return { text: renderSql(statement, 'numbered'), values: statement.values.map(driverValue) };
}

/** A keyed answer as `readAnswers` reads it. */
interface AnswerRow {
  readonly key: string;
  readonly version: number;
  readonly position: string;
  readonly rejection: string | null;
}

function answerOf({ key, version, position, rejection }: AnswerRow): RecordedAnswer {
  return rejection === null ? { key, version, position } : { key, version, position, rejection };
}

/** An append's timers to delete, outbox rows to insert and keyed answers, as the JSON that `commit_batch` reads. */
function extrasOf(append: StreamAppend): object | null {
  const { idempotency } = append;
  if (!append.outbox?.length && !append.cancelTimers?.length && !idempotency?.answers.length) return null;
  return {
    ...(idempotency?.answers.length
      ? {
          since: idempotency.since,
          answers: idempotency.answers.map(({ key, version, rejection }) => ({
            key,
            version,
            rejection: rejection ?? null,
          })),
        }
      : {}),
    timers: (append.cancelTimers ?? []).map(({ targetId, key }) => ({ target_id: targetId, key })),
    outbox: (append.outbox ?? []).map((w) => ({
      kind: w.kind,
      name: w.name,
      target_id: w.targetId ?? null,
      payload: w.payload,
      idempotency_key: w.idempotencyKey,
      due_at: w.dueAt,
      timer: w.timer,
      timer_key: w.timerKey ?? null,
      order_key: w.orderKey,
      source_version: w.sourceVersion,
      trace_context: w.traceContext ?? null,
    })),
  };
}

function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  // An idle connection that the server drops must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}
