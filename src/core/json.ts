import { SerializationError } from '../errors.js';

/**
 * Encodes a value as JSON text, refusing what JSON cannot carry faithfully: functions, symbols,
 * BigInt, cycles, non-finite numbers, Map and Set (JSON would silently drop or rewrite them).
 * Values with `toJSON` (such as Date) are accepted: they are stored in their JSON form, and
 * the runtime folds the decoded form, so live and replayed state agree.
 *
 * @param what names the value in the error, e.g. "event 0 of Counter".
 */
export function encodeJson(value: unknown, what: string): string {
  // Plain data (the usual case) is checked by a quick walk and encoded by the native fast path;
  // anything else goes through the checking replacer, which names the problem.
  if (plain(value, 0, false) !== NOT_PLAIN) return JSON.stringify(value);
  return encodeWith(value, what, refuseUnfaithful);
}

/**
 * Encodes a value and gives the frozen value that decoding the text would give, in one go: what
 * the live path needs for every event (`update` sees exactly what replay will see). Plain data is
 * copied and frozen by the same walk that checks it, instead of being decoded again; anything else
 * takes the JSON round trip.
 */
export function encodeAndDecode<T>(value: unknown, what: string): { readonly text: string; readonly decoded: T } {
  const copy = plain(value, 0, true);
  if (copy !== NOT_PLAIN) return { text: JSON.stringify(copy), decoded: copy as T };
  const text = encodeJson(value, what);
  return { text, decoded: decodeFrozen<T>(text) };
}

/**
 * The frozen value that encoding a value and decoding the text would give, without keeping the
 * text: plain data is copied and frozen in one walk; anything else takes the JSON round trip.
 *
 * @throws SerializationError when JSON cannot carry the value faithfully
 */
export function jsonCopy<T>(value: unknown, what: string): T {
  const copy = plain(value, 0, true);
  return (copy !== NOT_PLAIN ? copy : decodeFrozen(encodeJson(value, what))) as T;
}

const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

/** Deeper than this, a value is treated as possibly cyclic and checked the slow way. */
const MAX_PLAIN_DEPTH = 64;

/**
 * Checks that JSON carries a value exactly as it is: strings, finite numbers other than -0,
 * booleans, null, arrays without holes or undefined, and plain objects without undefined fields
 * or symbol keys. Answers NOT_PLAIN for everything else, which may still be encodable (a Date) or
 * not (a function): the slow path decides. Otherwise answers the value itself, or with `copy` a
 * deeply frozen copy equal to what `JSON.parse(JSON.stringify(value))` gives.
 */
function plain(value: unknown, depth: number, copy: boolean): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'object': {
      if (value === null) return null;
      if (depth >= MAX_PLAIN_DEPTH) return NOT_PLAIN;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
        const items: unknown[] | undefined = copy ? new Array(value.length) : undefined;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return NOT_PLAIN;
          const item = plain(value[i], depth + 1, copy);
          if (item === NOT_PLAIN) return NOT_PLAIN;
          if (items) items[i] = item;
        }
        return items ? Object.freeze(items) : value;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
      if (Object.getOwnPropertySymbols(value).length > 0) return NOT_PLAIN;
      const fields: Record<string, unknown> | undefined = copy ? {} : undefined;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) return NOT_PLAIN;
        const field = plain((value as Record<string, unknown>)[key], depth + 1, copy);
        if (field === NOT_PLAIN) return NOT_PLAIN;
        if (!fields) continue;
        // A key named __proto__ is an own field of decoded JSON, not the prototype.
        if (key === '__proto__') {
          Object.defineProperty(fields, key, { value: field, enumerable: true, writable: true, configurable: true });
        } else {
          fields[key] = field;
        }
      }
      return fields ? Object.freeze(fields) : value;
    }
    default:
      return NOT_PLAIN;
  }
}

/**
 * Encodes a value that must decode to itself: used for snapshots of state, which replace
 * replaying the events. Only plain data passes: plain objects without symbol keys, arrays without
 * holes or undefined, strings, finite numbers other than -0, booleans, null. Anything JSON would
 * rewrite (a Date, a class instance, a typed array) is refused. Object fields holding `undefined`
 * are allowed and drop, as they do from events: the decoded state deep-equals the live one.
 */
export function encodeJsonExact(value: unknown, what: string): string {
  const problem = inexact(value, new Set());
  if (problem) throw new SerializationError(`${what} cannot be stored exactly as JSON: ${problem}`);
  return encodeJson(value, what);
}

function inexact(value: unknown, path: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? undefined : `the number ${String(value)}`;
    case 'object': {
      if (value === null) return undefined;
      if (path.has(value)) return 'a cycle';
      path.add(value);
      const problem = Array.isArray(value) ? inexactArray(value, path) : inexactObject(value, path);
      path.delete(value);
      return problem;
    }
    default:
      return `a value of type ${typeof value}`;
  }
}

function inexactArray(array: unknown[], path: Set<object>): string | undefined {
  if (Object.getPrototypeOf(array) !== Array.prototype) return 'an array subclass';
  for (let i = 0; i < array.length; i++) {
    if (!(i in array)) return 'an array with holes';
    const problem = array[i] === undefined ? 'undefined in an array' : inexact(array[i], path);
    if (problem) return problem;
  }
  return undefined;
}

function inexactObject(object: object, path: Set<object>): string | undefined {
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    return `an instance of ${(object.constructor as { name?: string } | undefined)?.name ?? 'a class'}`;
  }
  if (Object.getOwnPropertySymbols(object).length > 0) return 'a symbol key';
  for (const field of Object.values(object)) {
    const problem = field === undefined ? undefined : inexact(field, path);
    if (problem) return problem;
  }
  return undefined;
}

function encodeWith(value: unknown, what: string, replacer: (this: unknown, key: string, value: unknown) => unknown) {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, replacer);
  } catch (cause) {
    if (cause instanceof SerializationError) {
      throw new SerializationError(`${what} cannot be stored as JSON: ${cause.message}`);
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SerializationError(`${what} cannot be stored as JSON: ${reason}`, cause);
  }
  if (text === undefined) throw new SerializationError(`${what} cannot be stored as JSON: it is ${typeof value}`);
  return text;
}

/** Checks that a value survives JSON faithfully, without keeping the text. */
export function assertJsonSafe(value: unknown, what: string): void {
  if (plain(value, 0, false) === NOT_PLAIN) encodeWith(value, what, refuseUnfaithful);
}

/** Decodes JSON text written by {@link encodeJson}. */
export function decodeJson(text: string): unknown {
  return JSON.parse(text);
}

/** Decodes JSON text into a deeply frozen value, as `update` and replay see events and snapshots. */
export function decodeFrozen<T>(text: string): T {
  return freezeDecoded(JSON.parse(text)) as T;
}

/**
 * Freezes what `JSON.parse` returned: only plain objects and arrays, none frozen yet, so it needs
 * none of {@link deepFreeze}'s checks (a hot path: every event of every call goes through it).
 */
function freezeDecoded(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) freezeDecoded(value[i]);
  } else {
    for (const key in value) freezeDecoded((value as Record<string, unknown>)[key]);
  }
  return Object.freeze(value);
}

function refuseUnfaithful(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      throw new SerializationError(`${describeKey(key)} is a ${typeof value}`);
    case 'number':
      if (!Number.isFinite(value)) throw new SerializationError(`${describeKey(key)} is ${value}`);
      return value;
    case 'object':
      if (value instanceof Map || value instanceof Set) {
        throw new SerializationError(`${describeKey(key)} is a ${value.constructor.name}`);
      }
      return value;
    default:
      return value;
  }
}

function describeKey(key: string): string {
  return key === '' ? 'the value' : `the field ${JSON.stringify(key)}`;
}

/**
 * Freezes a value and everything reachable from it, stopping at objects already frozen, so
 * freezing a new state that shares unchanged parts with the old one costs only the new parts.
 * State and events are frozen so that a `handle` or `update` that mutates instead of returning
 * a new value fails loudly instead of corrupting the state of a decision that is not committed.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || ArrayBuffer.isView(value)) {
    return value;
  }
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
