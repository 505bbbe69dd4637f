/**
 * The outbox's claim and settle, as functions in the schema: each runs in one round trip, and
 * follows the lane rules of store/outbox-rules.ts (the contract suite checks that they agree).
 *
 * Whether a row starts held (`commit_batch`) and whether a settle frees one (`settle_outbox`) both
 * read a lane's rows; so that neither misses the other's change, they take the lane's advisory lock
 * first: writers shared (appends to one lane are already serialised by their source's log), settles
 * exclusive. Every transaction takes its lanes' locks before any row lock, in the order of the lock
 * keys, and locks rows it changes in id order, so none waits on another in a cycle. A claim waits on
 * nothing: it skips locked rows.
 *
 * A change to a function here is a new migration in schema.ts that runs it again.
 */

/**
 * A plpgsql block that takes the advisory lock of every lane whose order key `orderKeys` (a query
 * with an `order_key` column) answers, in key order. Keys are hashes of schema and order key: two
 * lanes that share one only wait for each other.
 */
export function laneLocks(s: string, mode: 'shared' | 'exclusive', orderKeys: string): string {
  const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  return `DECLARE
        lane_lock bigint;
      BEGIN
        FOR lane_lock IN
          SELECT DISTINCT hashtextextended('${s.replaceAll("'", "''")}:' || q.order_key, 0) AS k
          FROM (${orderKeys}) AS q WHERE q.order_key IS NOT NULL ORDER BY k
        LOOP
          PERFORM ${lock}(lane_lock);
        END LOOP;
      END;`;
}

/**
 * `claim_outbox(now, limit)`: locks and answers the ids of the rows a claim takes (see
 * `claimedRows`): rows not held, due and not leased, by due time then id (the ready index); after
 * each with an order key, the held messages of its lane that follow it while they are due and not
 * leased (the lane index). Rows another claim has locked are skipped, and a lane's run stops at one.
 */
export const claimOutboxFunction = (s: string) => `
    CREATE OR REPLACE FUNCTION ${s}.claim_outbox(p_now bigint, p_limit int) RETURNS bigint[]
    LANGUAGE plpgsql AS $$
    DECLARE
      head record;
      next_row record;
      taken bigint[] := '{}';
    BEGIN
      FOR head IN
        SELECT o.id, o.order_key FROM ${s}.outbox o
        WHERE o.status = 'pending' AND NOT o.held AND o.due_at <= p_now AND o.lease_until <= p_now
        ORDER BY o.due_at, o.id LIMIT p_limit
        FOR UPDATE SKIP LOCKED
      LOOP
        EXIT WHEN cardinality(taken) >= p_limit;
        taken := taken || head.id;
        CONTINUE WHEN head.order_key IS NULL;
        FOR next_row IN
          SELECT c.id, c.kind, c.held, c.due_at, c.lease_until FROM ${s}.outbox c
          WHERE c.order_key = head.order_key AND c.status = 'pending' AND c.id > head.id
          ORDER BY c.id LIMIT p_limit - cardinality(taken)
        LOOP
          EXIT WHEN NOT next_row.held OR next_row.kind <> 'message' OR next_row.due_at > p_now
            OR next_row.lease_until > p_now;
          PERFORM 1 FROM ${s}.outbox l
          WHERE l.id = next_row.id AND l.status = 'pending' AND l.held AND l.lease_until <= p_now
          FOR UPDATE SKIP LOCKED;
          EXIT WHEN NOT FOUND;
          taken := taken || next_row.id;
        END LOOP;
      END LOOP;
      RETURN taken;
    END
    $$;`;

/**
 * `settle_outbox(owner, ids, outcomes, times, errors)`: records the outcomes (`done`, `retry` at a
 * time, `dead`, `released`) of the rows `owner` still holds, in one transaction; then frees the
 * first held row of each lane it touched unless a pending row before it that is not held holds it
 * back (see `freedInLane`).
 */
export const settleOutboxFunction = (s: string) => `
    CREATE OR REPLACE FUNCTION ${s}.settle_outbox(
      p_owner text, p_ids bigint[], p_outcomes text[], p_times bigint[], p_errors text[]
    ) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
      lanes text[];
    BEGIN
      -- By id only (the primary key), not by the lane index, however the planner counts the rows.
      SELECT array_agg(DISTINCT o.order_key) FILTER (WHERE o.order_key IS NOT NULL) INTO lanes FROM ${s}.outbox o
      WHERE o.id = ANY (p_ids) AND o.lease_owner = p_owner AND o.status = 'pending';
      ${laneLocks(s, 'exclusive', 'SELECT unnest(lanes) AS order_key')}
      PERFORM 1 FROM ${s}.outbox o WHERE o.id = ANY (p_ids) ORDER BY o.id FOR UPDATE;
      WITH settled AS (
        SELECT * FROM unnest(p_ids, p_outcomes, p_times, p_errors) AS x(id, outcome, at, error)
      ), done AS (
        DELETE FROM ${s}.outbox o USING settled
        WHERE o.id = ANY (p_ids) AND o.id = settled.id AND settled.outcome = 'done' AND o.lease_owner = p_owner
          AND o.status = 'pending'
      )
      UPDATE ${s}.outbox o SET
        status = CASE WHEN settled.outcome = 'dead' THEN 'dead' ELSE o.status END,
        due_at = CASE WHEN settled.outcome = 'retry' THEN settled.at ELSE o.due_at END,
        last_error = CASE WHEN settled.outcome = 'released' THEN o.last_error ELSE settled.error END,
        attempts = CASE WHEN settled.outcome = 'released' THEN o.attempts - 1 ELSE o.attempts END,
        lease_owner = NULL,
        lease_until = 0
      FROM settled
      WHERE o.id = ANY (p_ids) AND o.id = settled.id AND settled.outcome <> 'done' AND o.lease_owner = p_owner
        AND o.status = 'pending';
      IF lanes IS NOT NULL THEN
        UPDATE ${s}.outbox o SET held = false
        FROM (
          SELECT (SELECT f.id FROM ${s}.outbox f WHERE f.order_key = l AND f.status = 'pending' AND f.held
            ORDER BY f.id LIMIT 1) AS id
          FROM unnest(lanes) AS l
        ) AS candidate
        WHERE o.id = candidate.id AND NOT EXISTS (
          SELECT 1 FROM ${s}.outbox b
          WHERE b.order_key = o.order_key AND b.status = 'pending' AND NOT b.held AND b.id < o.id
            AND (o.kind = 'message' OR b.attempts = 0));
      END IF;
    END
    $$;`;
