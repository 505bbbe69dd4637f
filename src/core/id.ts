import { ConfigurationError, InvalidIdError } from '../errors.js';

/** The longest id, in UTF-8 bytes. Ids are stored verbatim as text in every store. */
export const MAX_ID_BYTES = 255;

/**
 * Checks an entity id: a string of 1 to 255 UTF-8 bytes, without NUL (PostgreSQL text cannot hold
 * it) and without lone surrogates (UTF-8 cannot hold them, so the stored id would differ).
 */
export function assertValidId(id: unknown): asserts id is string {
  const problem = idProblem(id, 'id');
  if (problem) throw new InvalidIdError(problem);
}

/** Checks an idempotency key with the same rules as ids (`INVALID_ID`, naming the key). */
export function assertValidKey(key: unknown): asserts key is string {
  const problem = idProblem(key, 'idempotency key');
  if (problem) throw new InvalidIdError(problem);
}

/** Checks an entity type or effect name with the same rules as ids. */
export function assertValidName(name: unknown, what: string): asserts name is string {
  const problem = idProblem(name, what);
  if (problem) throw new ConfigurationError(problem);
}

function idProblem(value: unknown, what: string): string | undefined {
  if (typeof value !== 'string') return `The ${what} must be a string, got ${value === null ? 'null' : typeof value}`;
  if (value.length === 0) return `The ${what} must not be empty`;
  if (value.length > MAX_ID_BYTES * 3 || Buffer.byteLength(value, 'utf8') > MAX_ID_BYTES) {
    return `The ${what} must be at most ${MAX_ID_BYTES} bytes in UTF-8, got ${Buffer.byteLength(value, 'utf8')}`;
  }
  if (value.includes('\u0000')) return `The ${what} must not contain NUL characters`;
  if (!value.isWellFormed()) return `The ${what} must not contain lone surrogates`;
  return undefined;
}
