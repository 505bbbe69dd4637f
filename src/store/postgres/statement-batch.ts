/**
 * The application's statements (projections) in one round trip: each statement is rewritten to
 * read its parameters from one jsonb parameter, cast to the types PostgreSQL infers for them, and a
 * function runs them in order. Values stay parameters (data in the jsonb), never spliced into text.
 * The inferred types are asked once per statement text (PREPARE, then `pg_prepared_statements`).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { SqlStatement, SqlValue } from '../../core/sql.js';
import { renderSql } from '../../core/sql.js';

/** The `run_statements` function: runs texts with their jsonb parameters; answers the first that failed. */
export const runStatementsFunction = (s: string) => `
    CREATE OR REPLACE FUNCTION ${s}.run_statements(p_texts text[], p_params jsonb[])
    RETURNS TABLE (r_failed int, r_state text, r_message text)
    LANGUAGE plpgsql AS $$
    DECLARE
      i int := 0;
    BEGIN
      BEGIN
        FOR i IN 1 .. coalesce(array_length(p_texts, 1), 0) LOOP
          EXECUTE p_texts[i] USING p_params[i];
        END LOOP;
      EXCEPTION WHEN OTHERS THEN
        r_failed := i;
        r_state := SQLSTATE;
        r_message := SQLERRM;
        RETURN NEXT;
      END;
    END
    $$;`;

/** A statement the database refused, with its SQLSTATE as `code` (as the driver reports one). */
export class RefusedStatement extends Error {
  constructor(
    readonly index: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class StatementBatch {
  /**
   * Statement text → the text that reads its parameters from `$1`, cast to their inferred types;
   * null for a statement PREPARE does not take (DDL): it runs on its own, in its place.
   */
  readonly #rewritten = new Map<string, string | null>();

  constructor(private readonly quotedSchema: string) {}

  /** Runs the statements in order, in the client's transaction; rejects with `RefusedStatement` for the first that fails. */
  async run(client: pg.ClientBase, statements: readonly SqlStatement[]): Promise<void> {
    let batch: { index: number; text: string; params: string }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const run = batch;
      batch = [];
      const { rows } = await client.query<{ failed: number; state: string; message: string }>(
        `SELECT r_failed AS failed, r_state AS state, r_message AS message
         FROM ${this.quotedSchema}.run_statements($1::text[], $2::jsonb[])`,
        [run.map((b) => b.text), run.map((b) => b.params)],
      );
      const failure = rows[0];
      if (failure) {
        throw new RefusedStatement(
          (run[failure.failed - 1] as { index: number }).index,
          failure.state,
          failure.message,
        );
      }
    };
    for (const [index, statement] of statements.entries()) {
      const text = await this.#rewrite(client, statement);
      if (text !== null) {
        batch.push({ index, text, params: JSON.stringify(statement.values.map(jsonValue)) });
        continue;
      }
      await flush();
      try {
        await client.query({ text: renderSql(statement, 'numbered'), values: statement.values.map(driverValue) });
      } catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        throw new RefusedStatement(index, code ?? 'XX000', message ?? String(error));
      }
    }
    await flush();
  }

  async #rewrite(client: pg.ClientBase, statement: SqlStatement): Promise<string | null> {
    const text = renderSql(statement, 'numbered');
    const known = this.#rewritten.get(text);
    if (known !== undefined) return known;
    const name = `pachyderm_probe_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    // A savepoint keeps the caller's transaction usable when PREPARE does not take the statement.
    await client.query('SAVEPOINT pachyderm_probe');
    let types: string[] | undefined;
    try {
      await client.query(`PREPARE ${name} AS ${text}`);
      const { rows } = await client.query<{ types: string[] }>(
        'SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = $1',
        [name],
      );
      await client.query(`DEALLOCATE ${name}`);
      await client.query('RELEASE SAVEPOINT pachyderm_probe');
      types = rows[0]?.types ?? [];
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT pachyderm_probe');
      // Not preparable (DDL, a syntax error for PREPARE: remembered), or wrong now (a missing
      // table): it runs as it is, and a wrong one fails there.
      if ((error as { code?: unknown }).code === '42601') this.#remember(text, null);
      return null;
    }
    const { strings } = statement;
    let rewritten = strings[0] as string;
    for (let i = 1; i < strings.length; i++) {
      const type = types[i - 1] && types[i - 1] !== 'unknown' ? types[i - 1] : 'text';
      rewritten += `(($1->>${i - 1})::${type})${strings[i]}`;
    }
    this.#remember(text, rewritten);
    return rewritten;
  }

  #remember(text: string, rewritten: string | null): void {
    if (this.#rewritten.size >= 256) this.#rewritten.clear();
    this.#rewritten.set(text, rewritten);
  }
}

/** A parameter as `pg` sends it: bigints as text, bytes as a Buffer. */
export function driverValue(value: SqlValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
}

/** A parameter as JSON text that casts back to it: bigints as decimal text, bytes as bytea hex. */
function jsonValue(value: SqlValue): string | number | boolean | null {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array)
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return value;
}
