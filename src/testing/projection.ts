/**
 * Test a projection without a running system: given these events, then these statements (its
 * `handle` is pure, so no database is needed); or run it against an in-memory SQLite and query the
 * tables it made.
 */
import assert from 'node:assert/strict';
import { decodeFrozen, encodeJson } from '../core/json.js';
import { renderSql, type SqlStatement } from '../core/sql.js';
import type { EntityRef } from '../define/entity.js';
import type { EventMeta, ProjectionDefinition } from '../define/projection.js';
import { project } from '../read/apply.js';
import { positionOf } from '../store/positions.js';

/** An event as a test gives it; the version counts per entity from 1 unless given. */
export interface GivenEvent<E> {
  readonly ref: EntityRef;
  readonly event: E;
  readonly version?: number;
  readonly recordedAt?: Date;
}

/** A statement as a test compares it: its text with `?` placeholders (whitespace runs made one space) and its values. */
export interface RenderedStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export interface ProjectionThen {
  /** The statements `handle` gave for all the events, in order. */
  readonly statements: readonly RenderedStatement[];
  /** Asserts exactly these statements (compared as rendered text and values). */
  thenStatements(expected: readonly SqlStatement[]): void;
}

/**
 * Runs a projection's `handle` on events, as a running system would (each event through JSON,
 * frozen, with its place), and gives the statements.
 *
 * @example
 * givenProjection(Balances, [{ ref: Account.ref('a1'), event: { type: 'Deposited', amount: 5 } }])
 *   .thenStatements([sql`INSERT INTO balances ...`]);
 */
export function givenProjection<E>(
  projection: ProjectionDefinition<E>,
  events: readonly GivenEvent<E>[],
): ProjectionThen {
  const statements = eventsWithMeta(events).flatMap(({ event, meta }) =>
    project(projection as ProjectionDefinition, event, meta),
  );
  const rendered = statements.map(rendering);
  return {
    statements: rendered,
    thenStatements(expected) {
      assert.deepStrictEqual(rendered, expected.map(rendering));
    },
  };
}

/** A projection run against an in-memory SQLite: query its tables, then close it. */
export interface ProjectedDatabase {
  query(statement: SqlStatement): Promise<readonly Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * Runs a projection's `setup`, then its statements for each event (one transaction per event), on
 * a fresh in-memory SQLite (better-sqlite3 must be installed).
 *
 * @example
 * const db = await runProjection(Balances, events);
 * expect(await db.query(sql`SELECT balance FROM balances WHERE id = ${'a1'}`)).toEqual([{ balance: 5 }]);
 */
export async function runProjection<E>(
  projection: ProjectionDefinition<E>,
  events: readonly GivenEvent<E>[],
): Promise<ProjectedDatabase> {
  const { sqliteStore } = await import('../store/sqlite/index.js');
  const store = sqliteStore({ filename: ':memory:' });
  store.retain();
  await store.open();
  const sql = store.sql as NonNullable<typeof store.sql>;
  try {
    await sql.execute(projection.setup);
    for (const { event, meta } of eventsWithMeta(events)) {
      await sql.execute(project(projection as ProjectionDefinition, event, meta));
    }
  } catch (error) {
    await store.release();
    throw error;
  }
  return { query: (statement) => sql.query(statement), close: () => store.release() };
}

function eventsWithMeta<E>(events: readonly GivenEvent<E>[]): { event: unknown; meta: EventMeta }[] {
  const versions = new Map<string, number>();
  return events.map((given, i) => {
    const key = `${given.ref.type}\u0000${given.ref.id}`;
    const version = given.version ?? (versions.get(key) ?? 0) + 1;
    versions.set(key, version);
    const meta = {
      ref: { type: given.ref.type, id: given.ref.id },
      version,
      position: positionOf(i + 1),
      recordedAt: given.recordedAt ?? new Date(0),
    };
    return { event: decodeFrozen(encodeJson(given.event, `Given event ${i}`)), meta };
  });
}

function rendering(statement: SqlStatement): RenderedStatement {
  return { text: renderSql(statement, 'question').replace(/\s+/g, ' ').trim(), values: [...statement.values] };
}
