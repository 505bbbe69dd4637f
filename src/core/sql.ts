/**
 * SQL as data: the `sql` tagged template. Values become parameters, never text spliced into the
 * statement; a statement nested in another is inlined with its own parameters. A store renders it
 * with its own placeholders (`$1` for PostgreSQL, `?` for SQLite).
 */
import { ConfigurationError } from '../errors.js';

/** A value a statement can carry as a parameter. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;

const SQL = Symbol.for('pachyderm.sql');

/** A statement: its text around the parameters, and the parameters. Plain, frozen data. */
export interface SqlStatement {
  readonly [SQL]: true;
  /** The text between parameters: one more than `values`. */
  readonly strings: readonly string[];
  readonly values: readonly SqlValue[];
}

/**
 * A SQL statement with parameters.
 *
 * @example
 * sql`UPDATE balances SET balance = balance + ${amount} WHERE id = ${id}`
 */
export function sql(strings: TemplateStringsArray, ...values: readonly (SqlValue | SqlStatement)[]): SqlStatement {
  const checked = new Array<SqlValue>(values.length);
  let i = 0;
  for (; i < values.length && !isSqlStatement(values[i]); i++) checked[i] = checkedValue(values[i], i);
  if (i === values.length) {
    // The template's own strings: one frozen array per call site, so its rendering is kept.
    return Object.freeze({ [SQL]: true as const, strings, values: Object.freeze(checked) });
  }
  // `texts` holds the finished pieces between parameters; `tail` is the piece being built.
  const texts: string[] = [];
  const params: SqlValue[] = [];
  let tail = strings[0] as string;
  values.forEach((value, i) => {
    if (isSqlStatement(value)) {
      tail += value.strings[0];
      value.values.forEach((inner, j) => {
        texts.push(tail);
        params.push(inner);
        tail = value.strings[j + 1] as string;
      });
    } else {
      texts.push(tail);
      params.push(checkedValue(value, i));
      tail = '';
    }
    tail += strings[i + 1] as string;
  });
  texts.push(tail);
  return Object.freeze({ [SQL]: true as const, strings: Object.freeze(texts), values: Object.freeze(params) });
}

/** True for a statement made by `sql` (also by another copy of the package). */
export function isSqlStatement(value: unknown): value is SqlStatement {
  return typeof value === 'object' && value !== null && (value as { [SQL]?: unknown })[SQL] === true;
}

/** Renderings already made, per array of strings (a template's call site, mostly). */
const rendered = new WeakMap<readonly string[], { numbered?: string; question?: string }>();

/** The statement's text with `$1, $2, ...` (PostgreSQL) or `?` (SQLite) for its parameters. */
export function renderSql(statement: SqlStatement, placeholders: 'numbered' | 'question'): string {
  const { strings } = statement;
  let known = rendered.get(strings);
  const found = known?.[placeholders];
  if (found !== undefined) return found;
  let text = strings[0] as string;
  for (let i = 1; i < strings.length; i++) text += (placeholders === 'numbered' ? `$${i}` : '?') + strings[i];
  if (!known) {
    known = {};
    rendered.set(strings, known);
  }
  known[placeholders] = text;
  return text;
}

/** Checks what a projection or query gives: a list of statements made by `sql`. */
export function assertStatements(value: unknown, what: string): asserts value is readonly SqlStatement[] {
  if (!Array.isArray(value) || !value.every(isSqlStatement)) {
    throw new ConfigurationError(`${what} must be an array of sql\`...\` statements`);
  }
}

function checkedValue(value: unknown, index: number): SqlValue {
  const kind = typeof value;
  if (value === null || kind === 'string' || kind === 'bigint' || kind === 'boolean' || value instanceof Uint8Array) {
    return value as SqlValue;
  }
  if (kind === 'number' && Number.isFinite(value)) return value as number;
  throw new ConfigurationError(
    `sql: parameter ${index + 1} must be a string, finite number, bigint, boolean, null or bytes, got ${
      kind === 'number' ? String(value) : kind
    }`,
  );
}
