/**
 * What `defineEntity` checks of a `messageSchema`: that it looks like a Standard Schema (version 1),
 * so that a mistake (a schema's `parse` function, a plain object) fails where the definition is
 * written, not at the first message.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ConfigurationError } from '../errors.js';

/** @throws ConfigurationError when `value` has no `'~standard'` of version 1 with a `validate` function. */
export function assertStandardSchema(value: unknown, what: string): asserts value is StandardSchemaV1 {
  const props = standardOf(value);
  if (props?.version !== 1 || typeof props.validate !== 'function') {
    throw new ConfigurationError(
      `${what} must implement Standard Schema v1 ('~standard' with version 1 and a validate function), as zod, valibot and arktype schemas do`,
    );
  }
}

function standardOf(value: unknown): Record<string, unknown> | undefined {
  // Schemas are objects (zod, valibot) or functions (arktype).
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const standard = (value as { '~standard'?: unknown })['~standard'];
  return standard !== null && typeof standard === 'object' ? (standard as Record<string, unknown>) : undefined;
}
