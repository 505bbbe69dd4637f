/**
 * The CLI's table formatter: a value is shown as data. A cell is the string itself or JSON that
 * parses back to it, and never holds a character a terminal acts on or hides (properties over
 * every code point); cells are cut by code points with `…`; columns line up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cell, fields, json, table, truncate } from '../../src/cli/table.js';

/** What a terminal acts on or hides. */
const HIDDEN = /[\p{C}\u2028\u2029]/u;

describe('cell', () => {
  it('is the string itself or JSON that parses back to it, and never holds a hidden character', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string()), (text) => {
        const shown = cell(text);
        expect(shown).not.toMatch(HIDDEN);
        if (shown !== text) expect(JSON.parse(shown)).toBe(text);
      }),
    );
  });

  it('shows plain strings, numbers, booleans and dates as themselves, anything else as JSON', () => {
    expect(cell('a1')).toBe('a1');
    expect(cell('Account a1 v3')).toBe('Account a1 v3');
    expect(cell('é 日本')).toBe('é 日本');
    expect(cell(42)).toBe('42');
    expect(cell(false)).toBe('false');
    expect(cell(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(cell(undefined)).toBe('');
    expect(cell(null)).toBe('null');
    expect(cell({ balance: 50 })).toBe('{"balance":50}');
  });

  it('quotes a string that could pass for another value or hides something: empty, spaced, quoted, controls', () => {
    expect(cell('')).toBe('""');
    expect(cell(' a')).toBe('" a"');
    expect(cell('a ')).toBe('"a "');
    expect(cell('"a"')).toBe('"\\"a\\""');
    expect(cell('a\nb')).toBe('"a\\nb"');
    expect(cell('\u001b[31mred')).toBe('"\\u001b[31mred"');
    expect(cell('x\u202ey')).toBe('"x\\u202ey"');
    expect(cell('a\u0085b')).toBe('"a\\u0085b"');
    expect(cell('a\ud800')).toBe('"a\\ud800"');
  });
});

describe('json', () => {
  it('parses back to the value and holds no hidden character', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), fc.constantFrom(undefined, 2), (value, indent) => {
        const shown = json(value, indent);
        expect(shown.replaceAll('\n', '')).not.toMatch(HIDDEN);
        expect(JSON.parse(shown)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('truncate', () => {
  it('cuts to the width in code points, the last one …, never inside a character', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdefg', 6)).toBe('abcde…');
    expect(truncate('😀'.repeat(10), 4)).toBe('😀😀😀…');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 80 }), (text, max) => {
        const cut = truncate(text, max);
        expect(Array.from(cut).length).toBeLessThanOrEqual(max);
        expect(cut.isWellFormed()).toBe(true);
        if (cut !== text) expect(text.startsWith(cut.slice(0, -1))).toBe(true);
      }),
    );
  });
});

describe('table and fields', () => {
  it('lines columns up two spaces apart under the header, without trailing spaces', () => {
    const shown = table(
      ['version', 'event', 'note'],
      [
        [1, { type: 'Deposited' }, undefined],
        [10, 'x'.repeat(80), 'a'],
      ],
      { maxWidth: 20 },
    );
    expect(shown.split('\n')).toEqual([
      'version  event                 note',
      '1        {"type":"Deposited"}',
      `10       ${'x'.repeat(19)}…  a`,
    ]);
    expect(table(['a', 'b'], [])).toBe('a  b');
  });

  it('pads labels to one width and never cuts a value', () => {
    expect(
      fields([
        ['version', 12],
        ['state', 'y'.repeat(100)],
      ]),
    ).toBe(`version  12\nstate    ${'y'.repeat(100)}`);
  });
});
