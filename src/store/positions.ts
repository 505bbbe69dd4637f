/**
 * Feed positions as text: each part a non-negative integer, zero-padded to one width and joined
 * with `.`, so that plain string comparison sorts positions as the feed orders them. The empty
 * string is the start, before every event. Each store chooses its parts: the memory and SQLite
 * stores a global sequence, PostgreSQL the writing transaction's id and a sequence.
 */
import { ConfigurationError } from '../errors.js';

const WIDTH = 19;
const DIGITS = /^\d{19}$/;

/** A position from its integer parts (numbers, bigints or their decimal text). */
export function positionOf(...parts: readonly (number | bigint | string)[]): string {
  if (parts.length === 1) return String(parts[0]).padStart(WIDTH, '0');
  return parts.map((part) => String(part).padStart(WIDTH, '0')).join('.');
}

/**
 * The parts of a position this store wrote, as decimal text; `undefined` for the start (`''`).
 * Anything else is refused with a `CONFIGURATION` error.
 */
export function partsOf(position: string, count: number, store: string): string[] | undefined {
  if (position === '') return undefined;
  const parts = typeof position === 'string' ? position.split('.') : [];
  if (parts.length !== count || !parts.every((part) => DIGITS.test(part))) {
    throw new ConfigurationError(`${JSON.stringify(position)} is not a position of the ${store} store`);
  }
  return parts.map((part) => part.replace(/^0+(?=\d)/, ''));
}
