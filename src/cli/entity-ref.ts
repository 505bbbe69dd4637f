/**
 * The entity a command names, checked before the store is asked: a type the app serves and a
 * valid id, each refused with a message that says what to fix.
 */
import { assertValidId } from '../core/id.js';
import type { EntityRef } from '../define/entity.js';
import { messageOf } from '../errors.js';
import { inspection } from '../runtime/inspection.js';
import type { System } from '../runtime/system.js';
import { CliError, ExitCode } from './exit-codes.js';

/** `{ type, id }` for `system`; `UNKNOWN_ENTITY_TYPE` or `INVALID_ID` (exit 4) otherwise. */
export function entityRef(system: System, type: string, id: string): EntityRef<string, never> {
  const types = inspection(system).entityTypes();
  if (!types.includes(type)) {
    throw new CliError(
      ExitCode.Unknown,
      'UNKNOWN_ENTITY_TYPE',
      `unknown entity type ${JSON.stringify(type)}: the app serves ${types.map((t) => JSON.stringify(t)).join(', ') || 'no entity types'}`,
    );
  }
  try {
    assertValidId(id);
  } catch (error) {
    throw new CliError(ExitCode.Unknown, 'INVALID_ID', `invalid id ${JSON.stringify(id)}: ${messageOf(error)}`);
  }
  return { type, id };
}
