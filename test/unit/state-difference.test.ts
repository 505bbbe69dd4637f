/**
 * How `checkReplay` says where a replayed state differs from its snapshot: nothing for JSON values
 * that are equal (whatever their key order), else the first differing path, with both values there.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stateDifference } from '../../src/testing/state-difference.js';

/** JSON values as decoding JSON gives them. */
const json = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);

/** The same value with every object's keys in reverse order. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, inner]) => [key, reordered(inner)]),
  );
}

describe('stateDifference', () => {
  it('finds none between equal JSON values, whatever the order of their keys', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(stateDifference(value, reordered(value))).toBeUndefined();
      }),
    );
  });

  it('finds one between values that differ', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        fc.pre(!isDeepStrictEqual(a, b));
        expect(stateDifference(a, b)).toMatch(/^at .+: recorded .+, replayed .+$/);
      }),
    );
  });

  it('names the first differing path, in key order, with both values', () => {
    expect(stateDifference({ b: 1, a: { items: [1, { price: 2 }] } }, { b: 2, a: { items: [1, { price: 3 }] } })).toBe(
      'at a.items[1].price: recorded 2, replayed 3',
    );
    expect(stateDifference({ 'odd key': [] }, { 'odd key': [true] })).toBe(
      'at ["odd key"][0]: recorded nothing, replayed true',
    );
    expect(stateDifference([1], { 0: 1 })).toBe('at the root: recorded [1], replayed {"0":1}');
    expect(stateDifference({ text: 'x'.repeat(100) }, { text: '' })).toBe(
      `at text: recorded "${'x'.repeat(78)}…, replayed ""`,
    );
  });
});
