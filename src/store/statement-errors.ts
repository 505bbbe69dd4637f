/**
 * Telling a statement the database refused (the application's SQL is wrong, or breaks a
 * constraint) from a database that cannot be reached: the first is the application's to fix, the
 * second is worth retrying.
 */

/** SQLSTATE classes of PostgreSQL that mean the connection or the server, not the statement. */
const POSTGRES_UNAVAILABLE = ['08', '53', '57', '58', 'XX'];
/** SQLite result codes that mean the statement itself. */
const SQLITE_STATEMENT = /^SQLITE_(ERROR|CONSTRAINT|MISMATCH|RANGE|TOOBIG)/;

export function isStatementError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  if (error.name === 'SqliteError') return SQLITE_STATEMENT.test(code);
  return /^[0-9A-Z]{5}$/.test(code) && !POSTGRES_UNAVAILABLE.includes(code.slice(0, 2));
}
