import { appendsChannel } from './append-hints.js';
import { positionSql } from './positions.js';

/**
 * The `commit_batch` function: a whole group commit in one round trip. Each append checks its
 * expected version (and message id) on its stream's row, then writes its events (with the entity
 * type and the transaction's id, for the feed), its processed message id, deletes the timers it
 * cancels and inserts its outbox rows, or writes nothing. It answers the position of the last event
 * an append wrote (of every event, for inline projections). Callers pass appends sorted by stream id, so concurrent batches lock rows in one order.
 * It also notifies the schema's appends channel of each append written, `[id, version]` pairs as
 * JSON in payloads under 8,000 bytes, delivered only if the transaction commits (see append-hints.ts).
 *
 * A change to this function is a new migration in schema.ts that runs it again (it is `CREATE OR
 * REPLACE`), so databases made before the change get it too.
 */
export const commitBatchFunction = (s: string) => `
    CREATE OR REPLACE FUNCTION ${s}.commit_batch(
      p_ids text[], p_expected int[], p_counts int[], p_events text[], p_recorded_at float8,
      p_message_ids text[], p_types text[], p_extras jsonb, p_all_positions boolean
    ) RETURNS TABLE (r_index int, r_outcome text, r_version int, r_positions text[])
    LANGUAGE plpgsql AS $$
    DECLARE
      tx bigint;
      sequence regclass;
      i int;
      first int := 0;
      n int;
      expected int;
      message text;
      written boolean;
      extra jsonb;
      hints text := '';
    BEGIN
      FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        n := p_counts[i];
        expected := p_expected[i];
        message := p_message_ids[i];
        IF expected = 0 THEN
          INSERT INTO ${s}.streams AS st (id, version) VALUES (p_ids[i], n) ON CONFLICT (id) DO NOTHING;
        ELSE
          UPDATE ${s}.streams AS st SET version = expected + n
          WHERE st.id = p_ids[i] AND st.version = expected
            AND (message IS NULL OR NOT EXISTS (
              SELECT 1 FROM ${s}.processed pr WHERE pr.stream_id = p_ids[i] AND pr.message_id = message));
        END IF;
        written := FOUND;
        r_index := i;
        r_positions := NULL;
        IF written THEN
          tx := coalesce(tx, pg_current_xact_id()::text::bigint);
          IF p_all_positions AND n > 1 THEN
            -- Inline projections need every event's position (of one event: the last, below).
            WITH inserted AS (
              INSERT INTO ${s}.events (stream_id, version, data, recorded_at, entity_type, tx)
              SELECT p_ids[i], expected + g, p_events[first + g], to_timestamp(p_recorded_at / 1000), p_types[i], tx
              FROM generate_series(1, n) AS g
              RETURNING version, seq
            )
            SELECT array_agg(${positionSql('tx', 'inserted.seq')} ORDER BY inserted.version) INTO r_positions
            FROM inserted;
          ELSE
            -- The last event's position is enough: this session's last value of the sequence.
            INSERT INTO ${s}.events (stream_id, version, data, recorded_at, entity_type, tx)
            SELECT p_ids[i], expected + g, p_events[first + g], to_timestamp(p_recorded_at / 1000), p_types[i], tx
            FROM generate_series(1, n) AS g;
            sequence := coalesce(sequence, pg_get_serial_sequence('${s.replaceAll("'", "''")}.events', 'seq')::regclass);
            r_positions := ARRAY[${positionSql('tx', 'currval(sequence)')}];
          END IF;
          IF message IS NOT NULL THEN
            INSERT INTO ${s}.processed (stream_id, message_id) VALUES (p_ids[i], message);
          END IF;
          extra := p_extras -> (i - 1);
          IF extra IS NOT NULL AND jsonb_typeof(extra) = 'object' THEN
            DELETE FROM ${s}.outbox o
            USING jsonb_to_recordset(extra -> 'timers') AS k(target_id text, key text)
            WHERE o.status = 'pending' AND o.target_id = k.target_id AND o.timer_key = k.key;
            INSERT INTO ${s}.outbox (kind, name, target_id, payload, idempotency_key, due_at, timer, timer_key,
              order_key, source_type, source_id, source_version)
            SELECT r.kind, r.name, r.target_id, r.payload, r.idempotency_key, r.due_at, r.timer, r.timer_key,
              r.order_key, p_types[i], p_ids[i], r.source_version
            FROM jsonb_to_recordset(extra -> 'outbox') AS r(kind text, name text, target_id text, payload text,
              idempotency_key text, due_at bigint, timer boolean, timer_key text, order_key text, source_version int);
          END IF;
          r_outcome := 'ok';
          r_version := expected + n;
          hints := hints || CASE WHEN hints = '' THEN '' ELSE ',' END
            || '[' || to_json(p_ids[i])::text || ',' || r_version || ']';
          IF length(hints) > 6000 THEN
            PERFORM pg_notify('${appendsChannel(s)}', '[' || hints || ']');
            hints := '';
          END IF;
        ELSE
          SELECT coalesce((SELECT st.version FROM ${s}.streams st WHERE st.id = p_ids[i]), 0) INTO r_version;
          r_outcome := CASE
            WHEN message IS NOT NULL AND EXISTS (
              SELECT 1 FROM ${s}.processed pr WHERE pr.stream_id = p_ids[i] AND pr.message_id = message)
            THEN 'duplicate' ELSE 'conflict' END;
        END IF;
        RETURN NEXT;
        first := first + n;
      END LOOP;
      IF hints <> '' THEN
        PERFORM pg_notify('${appendsChannel(s)}', '[' || hints || ']');
      END IF;
    END
    $$;`;
