/** The SQLite outbox: the statements that write, lease and settle outbox rows. */
import type Database from 'better-sqlite3';
import type { OutboxOutcome, OutboxRecord, OutboxStats, StreamAppend } from '../port.js';

interface Row {
  id: number;
  kind: 'effect' | 'message';
  name: string;
  target_id: string | null;
  payload: string | null;
  idempotency_key: string;
  due_at: number;
  timer: number;
  timer_key: string | null;
  order_key: string | null;
  source_type: string;
  source_id: string;
  source_version: number;
  attempts: number;
  last_error: string | null;
  status: 'pending' | 'dead';
}

export function toRecord(row: Row): OutboxRecord {
  return {
    id: String(row.id),
    kind: row.kind,
    name: row.name,
    ...(row.target_id === null ? {} : { targetId: row.target_id }),
    payload: row.payload,
    idempotencyKey: row.idempotency_key,
    dueAt: row.due_at,
    timer: row.timer === 1,
    ...(row.timer_key === null ? {} : { timerKey: row.timer_key }),
    orderKey: row.order_key,
    sourceType: row.source_type,
    sourceId: row.source_id,
    sourceVersion: row.source_version,
    attempts: row.attempts,
    lastError: row.last_error,
    status: row.status,
  };
}

export function prepareOutbox(db: Database.Database) {
  const isProcessed = db.prepare('SELECT 1 FROM pachyderm_processed WHERE stream_id = ? AND message_id = ?').pluck();
  const markProcessed = db.prepare('INSERT INTO pachyderm_processed (stream_id, message_id) VALUES (?, ?)');
  const removeTimer = db.prepare(
    "DELETE FROM pachyderm_outbox WHERE target_id = ? AND timer_key = ? AND status = 'pending'",
  );
  const insert = db.prepare(
    `INSERT INTO pachyderm_outbox (kind, name, target_id, payload, idempotency_key, due_at, timer, timer_key,
       order_key, source_type, source_id, source_version)
     VALUES (@kind, @name, @targetId, @payload, @idempotencyKey, @dueAt, @timer, @timerKey, @orderKey,
       @sourceType, @sourceId, @sourceVersion)`,
  );
  const eligible = db.prepare(
    `SELECT * FROM pachyderm_outbox o
     WHERE o.status = 'pending' AND o.due_at <= @now AND o.lease_until <= @now
       AND (o.order_key IS NULL OR NOT EXISTS (
         SELECT 1 FROM pachyderm_outbox p
         WHERE p.order_key = o.order_key AND p.id < o.id AND p.status = 'pending'
           AND (o.kind = 'message' OR p.attempts = 0)))
     ORDER BY o.id LIMIT @limit`,
  );
  const lease = db.prepare(
    'UPDATE pachyderm_outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?',
  );
  const done = db.prepare("DELETE FROM pachyderm_outbox WHERE id = ? AND lease_owner = ? AND status = 'pending'");
  const retry = db.prepare(
    `UPDATE pachyderm_outbox SET due_at = ?, last_error = ?, lease_owner = NULL, lease_until = 0
     WHERE id = ? AND lease_owner = ? AND status = 'pending'`,
  );
  const dead = db.prepare(
    `UPDATE pachyderm_outbox SET status = 'dead', last_error = ?, lease_owner = NULL, lease_until = 0
     WHERE id = ? AND lease_owner = ? AND status = 'pending'`,
  );
  const deadLetters = db.prepare("SELECT * FROM pachyderm_outbox WHERE status = 'dead' ORDER BY id LIMIT ?");
  const revive = db.prepare(
    `UPDATE pachyderm_outbox SET status = 'pending', attempts = 0, due_at = ?, lease_owner = NULL, lease_until = 0
     WHERE id = ? AND status = 'dead'`,
  );
  const nextDueAt = db
    .prepare(
      "SELECT min(max(due_at, lease_until)) FROM pachyderm_outbox WHERE status = 'pending' AND max(due_at, lease_until) > ?",
    )
    .pluck();
  const stats = db.prepare(
    `SELECT
       coalesce(sum(status = 'pending' AND NOT (timer = 1 AND attempts = 0 AND due_at > @now)), 0) AS depth,
       coalesce(sum(status = 'pending' AND lease_until > @now), 0) AS inFlight,
       coalesce(sum(status = 'pending' AND lease_until <= @now AND attempts > 0), 0) AS retrying,
       coalesce(sum(status = 'dead'), 0) AS deadLetters,
       coalesce(sum(status = 'pending' AND timer = 1 AND attempts = 0 AND due_at > @now), 0) AS pendingTimers
     FROM pachyderm_outbox`,
  );

  const claim = db.transaction((owner: string, now: number, leaseMs: number, limit: number) => {
    const rows = eligible.all({ now, limit }) as Row[];
    for (const row of rows) lease.run(owner, now + leaseMs, row.id);
    return rows.map((row) => toRecord({ ...row, attempts: row.attempts + 1 }));
  });

  return {
    /** Inside the commit's transaction: true when the log already handled this message. */
    isDuplicate(append: StreamAppend): boolean {
      return append.messageId !== undefined && isProcessed.get(append.streamId, append.messageId) !== undefined;
    },
    /** Inside the commit's transaction, after the events: the append's other rows. */
    write(append: StreamAppend): void {
      if (append.messageId !== undefined) markProcessed.run(append.streamId, append.messageId);
      for (const { targetId, key } of append.cancelTimers ?? []) removeTimer.run(targetId, key);
      for (const write of append.outbox ?? []) {
        insert.run({
          kind: write.kind,
          name: write.name,
          targetId: write.targetId ?? null,
          payload: write.payload,
          idempotencyKey: write.idempotencyKey,
          dueAt: write.dueAt,
          timer: write.timer ? 1 : 0,
          timerKey: write.timerKey ?? null,
          orderKey: write.orderKey,
          sourceType: append.entityType ?? '',
          sourceId: append.streamId,
          sourceVersion: write.sourceVersion,
        });
      }
    },
    claim: (request: { owner: string; now: number; leaseMs: number; limit: number }) =>
      claim.immediate(request.owner, request.now, request.leaseMs, request.limit),
    settle(id: string, owner: string, outcome: OutboxOutcome): void {
      if ('done' in outcome) done.run(Number(id), owner);
      else if ('dead' in outcome) dead.run(outcome.error, Number(id), owner);
      else retry.run(outcome.retryAt, outcome.error, Number(id), owner);
    },
    deadLetters: (limit: number) => (deadLetters.all(limit) as Row[]).map(toRecord),
    retryDeadLetter: (id: string, now: number) => revive.run(now, Number(id)).changes > 0,
    nextDueAt: (after: number) => (nextDueAt.get(after) as number | null) ?? undefined,
    stats: (now: number) => stats.get({ now }) as OutboxStats,
  };
}
