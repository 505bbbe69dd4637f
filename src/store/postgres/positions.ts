/**
 * PostgreSQL feed positions: the writing transaction's id, then the event's sequence (see
 * store/positions.ts for the text form). Transaction ids are handed out when a transaction first
 * writes, so one that started earlier can commit later with a smaller id: the feed reads only below
 * the oldest transaction still running (`pg_snapshot_xmin`), where nothing can appear any more.
 */

/** The SQL expression for a position, as `positionOf(tx, seq)` writes it. */
export const positionSql = (tx: string, seq: string) =>
  `(lpad(${tx}::text, 19, '0') || '.' || lpad(${seq}::text, 19, '0'))`;
