import pg from 'pg';
import { StoreLifecycle } from '../lifecycle.js';
import type {
  AppendResult,
  CommitRequest,
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
      const { appends } = request;
      if (appends.length === 1) {
        // One statement is its own transaction: one round trip.
        return [await appendOne(open(), appends[0] as StreamAppend, request.recordedAt)];
      }
      const client = await open().connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        // Rows are locked in id order, so two batches touching the same streams cannot deadlock.
        const order = appends.map((_, i) => i).sort((a, b) => compareIds(appends[a]?.streamId, appends[b]?.streamId));
        const results: AppendResult[] = new Array(appends.length);
        for (const i of order) results[i] = await appendOne(client, appends[i] as StreamAppend, request.recordedAt);
        await client.query('COMMIT');
        return results;
      } catch (error) {
        broken = error as Error;
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release(broken);
      }
    },

    async readStream(streamId, fromVersion, limit) {
      const { rows } = await open().query<StoredEvent>({ ...sql.readStream, values: [streamId, fromVersion, limit] });
      return rows;
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

    async nextDueAt() {
      const { rows } = await open().query<{ at: number | null }>(sql.nextDueAt);
      return rows[0]?.at ?? undefined;
    },

    async outboxStats(now) {
      const { rows } = await open().query<OutboxStats>({ ...sql.outboxStats, values: [Math.floor(now)] });
      return rows[0] as OutboxStats;
    },
  };

  async function appendOne(db: pg.Pool | pg.PoolClient, append: StreamAppend, recordedAt: number) {
    const isNew = append.expectedVersion === 0;
    const plain = !append.outbox?.length && !append.cancelTimers?.length && append.messageId === undefined;
    const values: unknown[] = [append.streamId, append.expectedVersion, append.events, recordedAt];
    if (!plain) {
      const removedTimers = [
        ...(append.cancelTimers ?? []),
        ...(append.outbox ?? []).flatMap((w) =>
          w.timerKey === undefined ? [] : [{ targetId: w.targetId ?? null, key: w.timerKey }],
        ),
      ].map(({ targetId, key }) => ({ target_id: targetId, key }));
      const outboxRows = (append.outbox ?? []).map((w) => ({
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
      values.push(
        append.messageId ?? null,
        JSON.stringify(removedTimers),
        append.entityType ?? '',
        JSON.stringify(outboxRows),
      );
    }
    const statement = plain
      ? isNew
        ? sql.appendNewPlain
        : sql.appendExistingPlain
      : isNew
        ? sql.appendNew
        : sql.appendExisting;
    const { rows } = await db.query<{ appended: number }>({ ...statement, values });
    if (rows[0]?.appended === append.events.length) {
      return { ok: true, version: append.expectedVersion + append.events.length } as const;
    }
    const refusal = await db.query<{ version: number; duplicate: boolean }>({
      ...sql.refusal,
      values: [append.streamId, append.messageId ?? null],
    });
    const { version = 0, duplicate = false } = refusal.rows[0] ?? {};
    if (duplicate) return { ok: false, duplicate: true } as const;
    return { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: version } } as const;
  }
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
