/** What a system serves: its entity types and effects, by name, each name once. */
import type { Registrations } from '../core/plan-effect.js';
import type { EffectDefinition } from '../define/effect.js';
import type { EntityDefinition } from '../define/entity.js';
import { ConfigurationError, ErrorCode, NotRegisteredError } from '../errors.js';

export class Registered implements Registrations {
  readonly #entities: ReadonlyMap<string, EntityDefinition>;
  readonly #effects: ReadonlyMap<string, EffectDefinition>;

  constructor(entities: readonly EntityDefinition[], effects: readonly EffectDefinition[]) {
    this.#entities = byName(entities, 'entity', (d) => d.type);
    this.#effects = byName(effects, 'effect', (d) => d.name);
  }

  entity(type: string): EntityDefinition | undefined {
    return this.#entities.get(type);
  }

  /** The definition of a type a caller names; `UNKNOWN_ENTITY_TYPE` when the system does not serve it. */
  requireEntity(type: string): EntityDefinition {
    const definition = this.#entities.get(type);
    if (!definition) {
      throw new NotRegisteredError(
        ErrorCode.UnknownEntityType,
        `Entity type ${JSON.stringify(type)} is not registered with the system: add it to createSystem({ entities })`,
      );
    }
    return definition;
  }

  /** Every entity type served, in the order given. */
  entityTypes(): string[] {
    return [...this.#entities.keys()];
  }

  /** Every entity definition served, in the order given. */
  entities(): EntityDefinition[] {
    return [...this.#entities.values()];
  }

  hasEntity(type: string): boolean {
    return this.#entities.has(type);
  }

  effect(name: string): EffectDefinition | undefined {
    return this.#effects.get(name);
  }
}

function byName<T>(items: readonly T[], what: string, name: (item: T) => string): Map<string, T> {
  if (!Array.isArray(items))
    throw new ConfigurationError(`createSystem: ${what === 'entity' ? 'entities' : 'effects'} must be an array`);
  const map = new Map<string, T>();
  for (const item of items) {
    if (!item || typeof item !== 'object') {
      throw new ConfigurationError(`createSystem: every ${what} must be a definition`);
    }
    const key = name(item);
    if (map.has(key)) {
      throw new ConfigurationError(`createSystem: two ${what} definitions are named ${JSON.stringify(key)}`);
    }
    map.set(key, item);
  }
  return map;
}
