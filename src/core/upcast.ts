/**
 * Reading events written by older code: every stored event carries the `eventVersion` of the
 * definition that wrote it, and is brought to the current shape by the definition's `upcast` before
 * `update` or any reader sees it. Pure; used by every read path (activation, catch-up, time travel,
 * `system.events`, follow, subscribe, projections, reactors, `checkReplay`).
 */
import type { EntityDefinition } from '../define/entity.js';
import { ErrorCode, messageOf, UpcastError } from '../errors.js';
import { decodeFrozen, jsonCopy } from './json.js';

/** What an event's reading needs of its stored form. */
export interface StoredForm {
  readonly version: number;
  readonly data: string;
  readonly eventVersion: number;
}

/**
 * The event as `update` and readers see it: decoded and frozen; when it was stored under an older
 * `eventVersion`, upcast, and what `upcast` returns goes through JSON like any event (so the state
 * it leads to is the state a snapshot of it holds).
 *
 * @throws UpcastError (`UPCAST_THREW`, `EVENT_VERSION_AHEAD`)
 */
export function eventOf<E>(
  definition: EntityDefinition<string, unknown, unknown, E>,
  stored: StoredForm,
  id: string,
): E {
  const decoded = decodeFrozen<E>(stored.data);
  const current = definition.eventVersion;
  if (stored.eventVersion === current) return decoded;
  const ref = { type: definition.type, id };
  const where = `event ${stored.version} of ${definition.type} ${JSON.stringify(id)}`;
  if (stored.eventVersion > current) {
    throw new UpcastError(
      ErrorCode.EventVersionAhead,
      ref,
      stored.version,
      stored.eventVersion,
      current,
      `${where} was stored under eventVersion ${stored.eventVersion}, newer than this definition's ${current}: code older than the log cannot read it (run the code that wrote it)`,
    );
  }
  let upcast: unknown;
  try {
    upcast = definition.upcast(decoded, stored.eventVersion);
  } catch (cause) {
    throw new UpcastError(
      ErrorCode.UpcastThrew,
      ref,
      stored.version,
      stored.eventVersion,
      current,
      `${definition.type}.upcast threw on ${where} (stored under eventVersion ${stored.eventVersion}, now ${current}): ${messageOf(cause)}`,
      cause,
    );
  }
  // The common case, an upcast that returns the event as it came, needs no copy.
  if (upcast === decoded) return decoded;
  return jsonCopy<E>(upcast, `What ${definition.type}.upcast returned for ${where}`);
}

/** An event of a feed: which log, and which entity type wrote it. */
export interface StoredFeedForm extends StoredForm {
  readonly streamId: string;
  readonly entityType: string;
}

/**
 * Reads events of several entity types (a subscription's, a projection's) each through its own
 * type's definition, among `definitions`, which names every type read.
 */
export function feedReader(definitions: Iterable<EntityDefinition>): (event: StoredFeedForm) => unknown {
  const byType = new Map<string, EntityDefinition>();
  for (const definition of definitions) byType.set(definition.type, definition);
  return (event) => eventOf(byType.get(event.entityType) as EntityDefinition, event, event.streamId);
}

/**
 * The schema a snapshot is written and read under: the definition's `snapshotVersion`, and its
 * `eventVersion` when past 1. A snapshot folded from events of an older `eventVersion` is not used:
 * the log is folded again through `upcast`.
 */
export function snapshotSchemaOf(definition: EntityDefinition): string {
  return schemaFor(definition.snapshotVersion, definition.eventVersion);
}

/** The snapshot schema of a `snapshotVersion` at an `eventVersion` (see {@link snapshotSchemaOf}). */
export function schemaFor(snapshotVersion: string, eventVersion: number): string {
  return eventVersion === 1 ? snapshotVersion : `${snapshotVersion}/e${eventVersion}`;
}
