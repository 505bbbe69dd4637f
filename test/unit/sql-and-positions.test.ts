/**
 * Laws of the `sql` tag (values are parameters, never text; nesting is the same as writing it out)
 * and of positions (string order is numeric order, part by part).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSqlStatement, renderSql, sql } from '../../src/core/sql.js';
import { partsOf, positionOf } from '../../src/store/positions.js';

const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.bigInt());

describe('the sql tag', () => {
  it('keeps every value out of the text, one placeholder each, in order', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 6 }), (values) => {
        const strings = Object.assign(values.map(() => ' x ').concat(' end'), {
          raw: [],
        }) as unknown as TemplateStringsArray;
        const statement = sql(strings, ...values);
        expect(statement.values).toEqual(values);
        expect(renderSql(statement, 'question')).toBe(strings.join('?'));
        expect(renderSql(statement, 'numbered')).toBe(
          strings.reduce((text, piece, i) => (i === 0 ? piece : `${text}$${i}${piece}`), ''),
        );
      }),
    );
  });

  it('inlines a nested statement with its values, as if written out', () => {
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        const inner = sql`b = ${b} AND c = ${c}`;
        const nested = sql`SELECT * FROM t WHERE a = ${a} AND ${inner} LIMIT 1`;
        const flat = sql`SELECT * FROM t WHERE a = ${a} AND b = ${b} AND c = ${c} LIMIT 1`;
        expect(nested.values).toEqual(flat.values);
        expect(renderSql(nested, 'numbered')).toBe(renderSql(flat, 'numbered'));
      }),
    );
  });

  it('refuses values a driver would turn into something else, and is frozen data', () => {
    for (const bad of [undefined, Number.NaN, Number.POSITIVE_INFINITY, {}, [], () => 1, Symbol('s')]) {
      expect(() => sql`SELECT ${bad as never}`).toThrow(expect.objectContaining({ code: 'INVALID_CONFIGURATION' }));
    }
    const statement = sql`SELECT ${"'; DROP TABLE x; --"}`;
    expect(renderSql(statement, 'question')).toBe('SELECT ?');
    expect(Object.isFrozen(statement) && Object.isFrozen(statement.values)).toBe(true);
    expect(isSqlStatement(statement) && !isSqlStatement({ strings: [], values: [] })).toBe(true);
  });
});

describe('positions', () => {
  const part = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n });

  it('sort as strings the way their parts sort as numbers, and read back', () => {
    fc.assert(
      fc.property(part, part, part, part, (a, b, c, d) => {
        const [x, y] = [positionOf(a, b), positionOf(c, d)];
        const numeric = a !== c ? a < c : b < d;
        if (a !== c || b !== d) expect(x < y).toBe(numeric);
        expect(partsOf(x, 2, 'test')).toEqual([a.toString(), b.toString()]);
      }),
    );
    expect(partsOf('', 1, 'test')).toBeUndefined();
    expect(() => partsOf('12', 1, 'test')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIGURATION' }));
  });
});
