/**
 * Where a replayed state first differs from a recorded one, said in a line: states can be large,
 * and the first differing field is what a person needs to see.
 */
import { isDeepStrictEqual } from 'node:util';

/** The longest a value is shown in the line before it is cut. */
const MAX_SHOWN = 80;

/**
 * The first place (in key order) where two JSON values differ, as `at <path>: recorded <a>,
 * replayed <b>`; undefined when they are equal.
 *
 * @example
 * stateDifference({ cents: 3, n: 1 }, { cents: 300, n: 1 }) // 'at cents: recorded 3, replayed 300'
 */
export function stateDifference(recorded: unknown, replayed: unknown): string | undefined {
  const found = firstDifference(recorded, replayed, '');
  if (!found) return undefined;
  return `at ${found.path || 'the root'}: recorded ${shown(found.recorded)}, replayed ${shown(found.replayed)}`;
}

interface Difference {
  readonly path: string;
  readonly recorded: unknown;
  readonly replayed: unknown;
}

function firstDifference(a: unknown, b: unknown, path: string): Difference | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = Array.isArray(a)
      ? Array.from({ length: Math.max(a.length, (b as unknown as unknown[]).length) }, (_, i) => String(i))
      : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const inner = Array.isArray(a)
        ? `${path}[${key}]`
        : /^[A-Za-z_$][\w$]*$/.test(key)
          ? `${path ? `${path}.` : ''}${key}`
          : `${path}[${JSON.stringify(key)}]`;
      const found = firstDifference(field(a, key), field(b, key), inner);
      if (found) return found;
    }
  }
  return { path, recorded: a, replayed: b };
}

function isContainer(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function field(value: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(value, key) ? value[key] : undefined;
}

function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  return text.length <= MAX_SHOWN ? text : `${text.slice(0, MAX_SHOWN - 1)}…`;
}
