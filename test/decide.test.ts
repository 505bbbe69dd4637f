/** The pure step on its own: no store, no system. */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { defineEffect, defineEntity, ok } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { decide, entitySelf, initialState, type Registrations } from '../src/core/decide.js';
import { encodeAndDecode, encodeJson, encodeJsonExact } from '../src/core/json.js';

const Ping = defineEffect('Ping', (_payload: { at: string }) => {});
const Log = defineEntity({
  type: 'Log',
  init: () => ({ lines: [] as string[] }),
  handle: (message: { line: string; at: Date; note?: string }, _state) =>
    ok([{ line: message.line, at: message.at, note: message.note }], [Ping.with({ at: message.line })]),
  update: (event, state) => ({ lines: [...state.lines, `${event.line}@${event.at}${'note' in event ? '+note' : ''}`] }),
});

const registry: Registrations = { effect: (name) => (name === 'Ping' ? Ping : undefined), hasEntity: () => false };

describe('decide', () => {
  it('returns the decoded events, their stored form and the next state without running anything', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const outcome = decide(
      Log,
      initialState(Log),
      { line: 'hi', at, note: undefined },
      registry,
      entitySelf('Log', 'l'),
    );
    expect(outcome).toEqual({
      kind: 'accepted',
      events: [{ line: 'hi', at: '2026-01-01T00:00:00.000Z' }],
      encodedEvents: ['{"line":"hi","at":"2026-01-01T00:00:00.000Z"}'],
      effects: [{ kind: 'run', index: 0, effect: 'Ping', payload: { at: 'hi' } }],
      requested: [{ effect: 'Ping', payload: { at: 'hi' } }],
      state: { lines: ['hi@2026-01-01T00:00:00.000Z'] },
    });
  });

  it('does not touch the state it was given', () => {
    const state = initialState(Log);
    decide(Log, state, { line: 'x', at: new Date(0) }, registry, entitySelf('Log', 'l'));
    expect(state).toEqual({ lines: [] });
    expect(Object.isFrozen(state)).toBe(true);
  });
});

describe('JSON encoding', () => {
  it('accepts what JSON carries and refuses what it would lose', () => {
    expect(encodeJson({ a: [1, 'two', null, { b: true }], d: new Date(0) }, 'x')).toBe(
      '{"a":[1,"two",null,{"b":true}],"d":"1970-01-01T00:00:00.000Z"}',
    );
    for (const bad of [() => 1, Symbol('s'), 1n, Number.POSITIVE_INFINITY, new Set([1])]) {
      expect(() => encodeJson({ nested: [bad] }, 'x')).toThrow(expect.objectContaining({ code: 'NOT_SERIALIZABLE' }));
    }
    expect(() => encodeJson(undefined, 'x')).toThrow(expect.objectContaining({ code: 'NOT_SERIALIZABLE' }));
    // Like a Date becoming a string, undefined drops from objects and becomes null in arrays, on
    // the live path and on replay alike.
    expect(encodeJson({ a: undefined, b: [undefined] }, 'x')).toBe('{"b":[null]}');
  });

  it('gives, with the text, exactly the frozen value decoding it gives (a property)', () => {
    const deeplyFrozen = (value: unknown): boolean =>
      value === null ||
      typeof value !== 'object' ||
      (Object.isFrozen(value) && Object.values(value).every(deeplyFrozen));
    const values = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a', '1', 'b'), fc.jsonValue()),
      fc.record({ at: fc.date({ noInvalidDate: true }), gone: fc.constant(undefined), n: fc.constantFrom(-0, 1.5) }),
    );
    fc.assert(
      fc.property(values, (value) => {
        const { text, decoded } = encodeAndDecode(value, 'value');
        expect(text).toBe(encodeJson(value, 'value'));
        expect(isDeepStrictEqual(decoded, JSON.parse(text))).toBe(true);
        expect(JSON.stringify(decoded)).toBe(text); // the same keys, in the same order
        expect(deeplyFrozen(decoded)).toBe(true);
        if (decoded !== null && typeof decoded === 'object' && !Array.isArray(decoded)) {
          expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
        }
      }),
    );
  });

  it('refuses, for snapshots, values that toJSON rewrites', () => {
    expect(() => encodeJsonExact({ at: new Date(0) }, 'state')).toThrow(/instance of Date/);
    for (const bad of [[undefined], -0, new Array(2).fill(1, 1), new Uint8Array([1]), { [Symbol('k')]: 1 }]) {
      expect(() => encodeJsonExact({ bad }, 'state')).toThrow(expect.objectContaining({ code: 'NOT_SERIALIZABLE' }));
    }
    class Money {
      cents = 1;
    }
    expect(() => encodeJsonExact(new Money(), 'state')).toThrow(/instance of Money/);
    expect(encodeJsonExact({ at: '1970', gone: undefined }, 'state')).toBe('{"at":"1970"}');
  });
});
