import { SerializationError } from './errors.js';

/**
 * Encodes a value as JSON text, refusing what JSON cannot carry faithfully: functions, symbols,
 * BigInt, cycles, non-finite numbers, Map and Set (JSON would silently drop or rewrite them).
 * Values with `toJSON` (such as Date) are accepted: they are stored in their JSON form, and
 * the runtime folds the decoded form, so live and replayed state agree.
 *
 * @param what names the value in the error, e.g. "event 0 of Counter".
 */
export function encodeJson(value: unknown, what: string): string {
  return encodeWith(value, what, refuseUnfaithful);
}

/**
 * Like {@link encodeJson}, and also refuses values that `toJSON` would rewrite (such as Date):
 * used for snapshots of state, which must decode to exactly the state that was encoded.
 */
export function encodeJsonExact(value: unknown, what: string): string {
  return encodeWith(value, what, refuseRewritten);
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
  encodeJson(value, what);
}

/** Decodes JSON text written by {@link encodeJson}. */
export function decodeJson(text: string): unknown {
  return JSON.parse(text);
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

function refuseRewritten(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original !== value) throw new SerializationError(`${describeKey(key)} is rewritten by its toJSON`);
  return refuseUnfaithful.call(this, key, value);
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
