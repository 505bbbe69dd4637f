import { appendsChannel } from './append-hints.js';
import { laneLocks } from './outbox-functions.js';
import { positionSql } from './positions.js';

/**
 * The `commit_batch` function: a whole group commit in one round trip. Each append checks its
 * expected version (and message ids) on its stream's row, then, holding that row's lock, that its log
 * holds no live answer under its idempotency keys; then writes its events (with the entity type, the
 * `eventVersion` and the transaction's id, for the feed), its processed message ids and keyed
 * answers, deletes the timers it cancels and inserts its outbox rows, or writes nothing. An append
 * without events (keyed answers alone) takes the same lock and check. It answers the position of the
 * last event an append wrote (of every event, for inline projections). Callers pass appends sorted
 * by stream id, so concurrent batches lock rows in one order.
 * It also notifies the schema's appends channel of each append written, `[id, version]` pairs as
 * JSON in payloads under 8,000 bytes, delivered only if the transaction commits (see append-hints.ts).
 * Before anything else it takes the lanes' locks of the outbox rows it writes (shared: see
 * outbox-functions.ts), so whether a row starts held is read after any settle of its lane.
 *
 * A change to this function is a new migration in schema.ts that runs it again (it is `CREATE OR
 * REPLACE`), so databases made before the change get it too; a change of its arguments drops the
 * old one first (`commitBatchSignature`).
 */
export const commitBatchFunction = (s: string) => `
    CREATE OR REPLACE FUNCTION ${s}.commit_batch(
      p_ids text[], p_expected int[], p_counts int[], p_events text[], p_recorded_at float8,
      p_message_ids text[], p_message_counts int[], p_types text[], p_extras jsonb, p_all_positions boolean,
      p_event_versions int[]
    ) RETURNS TABLE (r_index int, r_outcome text, r_version int, r_positions text[], r_duplicates text[], r_keys text[])
    LANGUAGE plpgsql AS $$
    DECLARE
      tx bigint;
      sequence regclass;
      i int;
      first int := 0;
      first_message int := 0;
      n int;
      expected int;
      messages text[];
      written boolean;
      extra jsonb;
      hints text := '';
    BEGIN
      ${laneLocks(
        s,
        'shared',
        `SELECT r.order_key FROM jsonb_array_elements(coalesce(p_extras, '[]')) AS e
        CROSS JOIN LATERAL jsonb_to_recordset(CASE WHEN jsonb_typeof(e -> 'outbox') = 'array' THEN e -> 'outbox' ELSE '[]' END)
          AS r(order_key text)`,
      )}
      FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        n := p_counts[i];
        expected := p_expected[i];
        messages := p_message_ids[first_message + 1 : first_message + p_message_counts[i]];
        extra := p_extras -> (i - 1);
        IF extra IS NOT NULL AND jsonb_typeof(extra) <> 'object' THEN
          extra := NULL;
        END IF;
        -- A log with keyed answers alone has a stream row at version 0: a first append still fits.
        IF expected = 0 THEN
          INSERT INTO ${s}.streams AS st (id, version) VALUES (p_ids[i], n)
          ON CONFLICT (id) DO UPDATE SET version = n WHERE st.version = 0;
        ELSE
          UPDATE ${s}.streams AS st SET version = expected + n
          WHERE st.id = p_ids[i] AND st.version = expected
            AND (p_message_counts[i] = 0 OR NOT EXISTS (
              SELECT 1 FROM ${s}.processed pr WHERE pr.stream_id = p_ids[i] AND pr.message_id = ANY (messages)));
        END IF;
        written := FOUND;
        r_index := i;
        r_positions := NULL;
        r_duplicates := NULL;
        r_keys := NULL;
        IF written AND extra ? 'answers' THEN
          -- Under the stream row's lock, every writer of this log's answers has committed or waits:
          -- a fresh read sees any answer recorded under these keys. One still live refuses the append.
          SELECT array_agg(a.key ORDER BY a.n) INTO r_keys
          FROM ROWS FROM (jsonb_to_recordset(extra -> 'answers') AS (key text)) WITH ORDINALITY AS a(key, n)
          WHERE EXISTS (
            SELECT 1 FROM ${s}.answers k
            WHERE k.stream_id = p_ids[i] AND k.key = a.key AND k.recorded_at >= (extra ->> 'since')::bigint);
          IF r_keys IS NOT NULL THEN
            UPDATE ${s}.streams AS st SET version = expected WHERE st.id = p_ids[i];
            written := false;
          END IF;
        END IF;
        IF written THEN
          IF n = 0 THEN
            -- Keyed answers alone: no event, no position.
            NULL;
          ELSIF p_all_positions AND n > 1 THEN
            tx := coalesce(tx, pg_current_xact_id()::text::bigint);
            -- Inline projections need every event's position (of one event: the last, below).
            WITH inserted AS (
              INSERT INTO ${s}.events (stream_id, version, data, recorded_at, entity_type, tx, event_version)
              SELECT p_ids[i], expected + g, p_events[first + g], to_timestamp(p_recorded_at / 1000), p_types[i], tx,
                p_event_versions[i]
              FROM generate_series(1, n) AS g
              RETURNING version, seq
            )
            SELECT array_agg(${positionSql('tx', 'inserted.seq')} ORDER BY inserted.version) INTO r_positions
            FROM inserted;
          ELSE
            tx := coalesce(tx, pg_current_xact_id()::text::bigint);
            -- The last event's position is enough: this session's last value of the sequence.
            INSERT INTO ${s}.events (stream_id, version, data, recorded_at, entity_type, tx, event_version)
            SELECT p_ids[i], expected + g, p_events[first + g], to_timestamp(p_recorded_at / 1000), p_types[i], tx,
              p_event_versions[i]
            FROM generate_series(1, n) AS g;
            sequence := coalesce(sequence, pg_get_serial_sequence('${s.replaceAll("'", "''")}.events', 'seq')::regclass);
            r_positions := ARRAY[${positionSql('tx', 'currval(sequence)')}];
          END IF;
          IF p_message_counts[i] > 0 THEN
            INSERT INTO ${s}.processed (stream_id, message_id, recorded_at)
            SELECT p_ids[i], unnest(messages), p_recorded_at::bigint;
          END IF;
          IF extra ? 'answers' THEN
            -- With the position the append answers; an expired answer under a key is replaced.
            INSERT INTO ${s}.answers AS k (stream_id, key, recorded_at, version, position, rejection)
            SELECT p_ids[i], a.key, p_recorded_at::bigint, a.version,
              coalesce(r_positions[array_length(r_positions, 1)], ''), a.rejection
            FROM jsonb_to_recordset(extra -> 'answers') AS a(key text, version int, rejection text)
            ON CONFLICT (stream_id, key) DO UPDATE SET recorded_at = excluded.recorded_at, version = excluded.version,
              position = excluded.position, rejection = excluded.rejection;
          END IF;
          IF extra IS NOT NULL THEN
            IF jsonb_array_length(extra -> 'timers') > 0 THEN
              -- Locked in id order, as settle_outbox locks rows, so the two never wait on each other in a cycle.
              DELETE FROM ${s}.outbox o WHERE o.id IN (
                SELECT c.id FROM ${s}.outbox c
                JOIN jsonb_to_recordset(extra -> 'timers') AS k(target_id text, key text)
                  ON c.target_id = k.target_id AND c.timer_key = k.key
                WHERE c.status = 'pending' ORDER BY c.id FOR UPDATE OF c);
            END IF;
            -- A row starts held when its lane's last pending row holds it back (see writtenHeld in
            -- outbox-rules.ts), or when an earlier row of this append in its lane is new.
            INSERT INTO ${s}.outbox (kind, name, target_id, payload, idempotency_key, due_at, timer, timer_key,
              order_key, source_type, source_id, source_version, trace_context, held)
            SELECT r.kind, r.name, r.target_id, r.payload, r.idempotency_key, r.due_at, r.timer, r.timer_key,
              r.order_key, p_types[i], p_ids[i], r.source_version, r.trace_context,
              r.order_key IS NOT NULL AND (r.lane_index > 1 OR coalesce((
                SELECT r.kind = 'message' OR t.held OR t.attempts = 0 FROM ${s}.outbox t
                WHERE t.order_key = r.order_key AND t.status = 'pending' ORDER BY t.id DESC LIMIT 1), false))
            FROM (
              SELECT w.*, row_number() OVER (PARTITION BY w.order_key ORDER BY w.n) AS lane_index
              FROM ROWS FROM (jsonb_to_recordset(extra -> 'outbox') AS (kind text, name text, target_id text,
                payload text, idempotency_key text, due_at bigint, timer boolean, timer_key text, order_key text,
                source_version int, trace_context text)) WITH ORDINALITY AS w(kind, name, target_id, payload,
                idempotency_key, due_at, timer, timer_key, order_key, source_version, trace_context, n)
            ) r
            ORDER BY r.n;
          END IF;
          r_outcome := 'ok';
          r_version := expected + n;
          IF n > 0 THEN
            hints := hints || CASE WHEN hints = '' THEN '' ELSE ',' END
              || '[' || to_json(p_ids[i])::text || ',' || r_version || ']';
          END IF;
          IF length(hints) > 6000 THEN
            PERFORM pg_notify('${appendsChannel(s)}', '[' || hints || ']');
            hints := '';
          END IF;
        ELSE
          SELECT coalesce((SELECT st.version FROM ${s}.streams st WHERE st.id = p_ids[i]), 0) INTO r_version;
          IF p_message_counts[i] > 0 AND r_keys IS NULL THEN
            SELECT array_agg(m.id ORDER BY m.n) INTO r_duplicates FROM unnest(messages) WITH ORDINALITY AS m(id, n)
            WHERE EXISTS (SELECT 1 FROM ${s}.processed pr WHERE pr.stream_id = p_ids[i] AND pr.message_id = m.id);
          END IF;
          r_outcome := CASE WHEN r_duplicates IS NOT NULL OR r_keys IS NOT NULL THEN 'duplicate' ELSE 'conflict' END;
        END IF;
        RETURN NEXT;
        first := first + n;
        first_message := first_message + p_message_counts[i];
      END LOOP;
      IF hints <> '' THEN
        PERFORM pg_notify('${appendsChannel(s)}', '[' || hints || ']');
      END IF;
    END
    $$;`;
