import pg from 'pg';
import { StoreLifecycle } from '../lifecycle.js';
import type {
  AppendResult,
  CommitRequest,
  LogRequest,
  OutboxRecord,
  OutboxStats,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
} from '../port.js';
import { migrate } from './migrations.js';
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
  const schema = options.schema ?? 'pachyderm';
  if (typeof schema !== 'string' || schema.length === 0 || Buffer.byteLength(schema) > 63 || schema.includes('\0')) {
    throw new TypeError('postgresStore: schema must be a name of 1 to 63 bytes');
  }
  const quotedSchema = `"${schema.replaceAll('"', '""')}"`;
  const sql = statements(schema, quotedSchema);
  const ownsPool = !('pool' in options);
  let pool: pg.Pool | undefined;

  const lifecycle = new StoreLifecycle(
    async () => {
      const next = 'pool' in options ? options.pool : createPool(options.connectionString, options.poolSize ?? 10);
      try {
        const client = await next.connect();
        try {
          await migrate(client, schema, quotedSchema);
        } finally {
          client.release();
        }
      } catch (error) {
        if (ownsPool) await next.end().catch(() => {});
        throw error;
      }
      pool = next;
    },
    async () => {
      const current = pool;
      pool = undefined;
      if (current && ownsPool) await current.end();
    },
  );
  const open = (): pg.Pool => {
    if (!pool) throw new Error('The PostgreSQL store is not open');
    return pool;
  };

  return {
    kind: 'postgres',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),

    async commit(request: CommitRequest): Promise<readonly AppendResult[]> {
      return commitBatch(open(), request);
    },

    async readStream(streamId, fromVersion, limit) {
      const { rows } = await open().query<StoredEvent>({ ...sql.readStream, values: [streamId, fromVersion, limit] });
      return rows;
    },

    async readStreams(requests, limit) {
      const { rows } = await open().query<StoredEvent & { index: number }>({
        ...sql.readStreams,
        values: [requests.map((r) => r.streamId), requests.map((r) => r.fromVersion), limit],
      });
      const pages: StoredEvent[][] = requests.map(() => []);
      for (const { index, ...event } of rows) pages[index - 1]?.push(event);
      return pages;
    },

    async readLogs(requests, limit) {
      const { rows } = await open().query<{
        index: number;
        snapshotVersion: number | null;
        state: string | null;
        version: number | null;
        data: string | null;
        recordedAt: number | null;
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
          const schemaVersion = (requests[row.index - 1] as LogRequest).schemaVersion;
          start.snapshot = { schemaVersion, version: row.snapshotVersion, state: row.state as string };
        }
        if (row.version !== null) {
          start.events.push({ version: row.version, data: row.data as string, recordedAt: row.recordedAt as number });
        }
      }
      return starts;
    },

    async streamVersion(streamId) {
      const { rows } = await open().query<{ version: number }>({ ...sql.streamVersion, values: [streamId] });
      return rows[0]?.version ?? 0;
    },

    async readSnapshot(streamId, entityType) {
      const { rows } = await open().query<StoredSnapshot>({ ...sql.readSnapshot, values: [streamId, entityType] });
      return rows[0];
    },

    async writeSnapshot(streamId, entityType, snapshot) {
      await open().query({
        ...sql.writeSnapshot,
        values: [streamId, entityType, snapshot.schemaVersion, snapshot.version, snapshot.state],
      });
    },

    async claimOutbox({ owner, now, leaseMs, limit }) {
      const { rows } = await open().query<OutboxRow>({
        ...sql.claimOutbox,
        values: [Math.floor(now), limit, owner, Math.ceil(leaseMs)],
      });
      return rows.map(toRecord).sort((a, b) => Number(a.id) - Number(b.id));
    },

    async settleOutbox(id, owner, outcome) {
      if ('done' in outcome) await open().query({ ...sql.settleDone, values: [id, owner] });
      else if ('dead' in outcome) await open().query({ ...sql.settleDead, values: [id, owner, outcome.error] });
      else await open().query({ ...sql.settleRetry, values: [id, owner, Math.ceil(outcome.retryAt), outcome.error] });
    },

    async deadLetters(limit) {
      const { rows } = await open().query<OutboxRow>({ ...sql.deadLetters, values: [limit] });
      return rows.map(toRecord);
    },

    async retryDeadLetter(id, now) {
      if (!/^\d+$/.test(id)) return false;
      const result = await open().query({ ...sql.retryDeadLetter, values: [id, Math.floor(now)] });
      return (result.rowCount ?? 0) > 0;
    },

    async nextDueAt(after) {
      const { rows } = await open().query<{ at: number | null }>({ ...sql.nextDueAt, values: [Math.floor(after)] });
      return rows[0]?.at ?? undefined;
    },

    async outboxStats(now) {
      const { rows } = await open().query<OutboxStats>({ ...sql.outboxStats, values: [Math.floor(now)] });
      return rows[0] as OutboxStats;
    },
  };

  /**
   * Commits a batch with one statement. Appends go in stream-id order, so two processes committing
   * batches that share streams lock their rows in the same order and cannot deadlock.
   */
  async function commitBatch(pool: pg.Pool, request: CommitRequest): Promise<AppendResult[]> {
    const { appends } = request;
    const order = appends.map((_, i) => i).sort((a, b) => compareIds(appends[a]?.streamId, appends[b]?.streamId));
    const sorted = order.map((i) => appends[i] as StreamAppend);
    const hasExtras = sorted.some((a) => a.outbox?.length || a.cancelTimers?.length);
    const { rows } = await pool.query<{ index: number; outcome: 'ok' | 'conflict' | 'duplicate'; version: number }>({
      ...sql.commitBatch,
      values: [
        sorted.map((a) => a.streamId),
        sorted.map((a) => a.expectedVersion),
        sorted.map((a) => a.events.length),
        sorted.flatMap((a) => a.events),
        request.recordedAt,
        sorted.map((a) => a.messageId ?? null),
        sorted.map((a) => a.entityType ?? ''),
        hasExtras ? JSON.stringify(sorted.map(extrasOf)) : null,
      ],
    });
    const results: AppendResult[] = new Array(appends.length);
    for (const row of rows) {
      const position = order[row.index - 1] as number;
      const append = appends[position] as StreamAppend;
      results[position] =
        row.outcome === 'ok'
          ? { ok: true, version: row.version }
          : row.outcome === 'duplicate'
            ? { ok: false, duplicate: true }
            : { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: row.version } };
    }
    return results;
  }
}

/** An append's timers to remove and outbox rows to insert, as the JSON that `commit_batch` reads. */
function extrasOf(append: StreamAppend): object | null {
  if (!append.outbox?.length && !append.cancelTimers?.length) return null;
  const timers = (append.cancelTimers ?? []).map(({ targetId, key }) => ({ target_id: targetId, key }));
  const outbox = (append.outbox ?? []).map((w) => ({
    kind: w.kind,
    name: w.name,
    target_id: w.targetId ?? null,
    payload: w.payload,
    idempotency_key: w.idempotencyKey,
    // Times are whole milliseconds in PostgreSQL.
    due_at: Math.ceil(w.dueAt),
    timer: w.timer,
    timer_key: w.timerKey ?? null,
    order_key: w.orderKey,
    source_version: w.sourceVersion,
  }));
  return { timers, outbox };
}

type OutboxRow = Omit<OutboxRecord, 'targetId' | 'timerKey'> & { targetId: string | null; timerKey: string | null };

/** Drops the absent optional fields, so every store returns the same shape. */
function toRecord({ targetId, timerKey, ...rest }: OutboxRow): OutboxRecord {
  return {
    ...rest,
    ...(targetId === null ? {} : { targetId }),
    ...(timerKey === null ? {} : { timerKey }),
  };
}

function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  // An idle connection that the server drops must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

function compareIds(a = '', b = ''): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
