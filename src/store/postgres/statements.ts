/**
 * Every SQL statement the PostgreSQL store runs, built once per schema. Named statements are
 * prepared once per connection by `pg`.
 */
export function statements(schema: string, quotedSchema: string) {
  const s = quotedSchema;
  const prefix = `pachyderm_${fnv1a(schema)}`;
  const insertEvents = `
    INSERT INTO ${s}.events (stream_id, version, data, recorded_at)
    SELECT w.id, $2::int + e.ord, e.data, to_timestamp($4::float8 / 1000)
    FROM w, unnest($3::text[]) WITH ORDINALITY AS e(data, ord)`;
  return {
    /** Appends to a log that has no events yet; inserts nothing when another writer created it. */
    appendNew: {
      name: `${prefix}_append_new`,
      text: `
        WITH w AS (
          INSERT INTO ${s}.streams (id, version) VALUES ($1, $2::int + cardinality($3::text[]))
          ON CONFLICT (id) DO NOTHING
          RETURNING id
        ) ${insertEvents}`,
    },
    /**
     * Appends to a log at the expected version. The UPDATE locks the stream's row; a concurrent
     * writer waits, then sees the new version and matches no row: a conflict, not an error.
     */
    appendExisting: {
      name: `${prefix}_append_existing`,
      text: `
        WITH w AS (
          UPDATE ${s}.streams SET version = $2::int + cardinality($3::text[])
          WHERE id = $1 AND version = $2::int
          RETURNING id
        ) ${insertEvents}`,
    },
    streamVersion: {
      name: `${prefix}_stream_version`,
      text: `SELECT version FROM ${s}.streams WHERE id = $1`,
    },
    readStream: {
      name: `${prefix}_read_stream`,
      text: `
        SELECT version, data, round(extract(epoch FROM recorded_at) * 1000)::float8 AS "recordedAt"
        FROM ${s}.events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`,
    },
    readSnapshot: {
      name: `${prefix}_read_snapshot`,
      text: `
        SELECT schema_version AS "schemaVersion", version, state
        FROM ${s}.snapshots WHERE stream_id = $1 AND entity_type = $2`,
    },
    writeSnapshot: {
      name: `${prefix}_write_snapshot`,
      text: `
        INSERT INTO ${s}.snapshots AS old (stream_id, entity_type, schema_version, version, state)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (stream_id, entity_type) DO UPDATE
          SET schema_version = excluded.schema_version, version = excluded.version, state = excluded.state
          WHERE excluded.version > old.version OR excluded.schema_version <> old.schema_version`,
    },
  };
}

/** A short stable hash, to keep prepared statement names unique per schema and under 63 bytes. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
