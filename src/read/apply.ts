/**
 * How an async projection and a reactor apply a batch of feed events: in order, stopping at the
 * first that fails. A projection's handler is pure, so the batch becomes statements that commit
 * with the checkpoint; a reactor's handler acts on the outside world, one event after the other.
 */
import { assertStatements, type SqlStatement } from '../core/sql.js';
import { feedReader } from '../core/upcast.js';
import type { AppContext } from '../define/effect.js';
import type { EventMeta, ProjectionDefinition, ReactorDefinition } from '../define/projection.js';
import { ConfigurationError } from '../errors.js';
import type { FeedEvent } from '../store/port/index.js';
import type { BatchOutcome } from './checkpoint-runner.js';

/** Where a feed event is, as handlers see it. */
export function metaOf(event: FeedEvent): EventMeta {
  return {
    ref: { type: event.entityType, id: event.streamId },
    version: event.version,
    position: event.position,
    recordedAt: new Date(event.recordedAt),
  };
}

/** Runs a projection's handler on one event and checks what it gives. */
export function project(definition: ProjectionDefinition, event: unknown, meta: EventMeta): readonly SqlStatement[] {
  const statements = definition.handle(event, meta);
  if (statements && typeof (statements as unknown as PromiseLike<unknown>).then === 'function') {
    throw new ConfigurationError(`Projection ${definition.name}: handle must be synchronous and return statements`);
  }
  assertStatements(statements, `Projection ${definition.name}: handle`);
  return statements;
}

export function applyProjection(definition: ProjectionDefinition) {
  const read = feedReader(definition.entities);
  return async (events: readonly FeedEvent[]): Promise<BatchOutcome> => {
    const statements: SqlStatement[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as FeedEvent;
      try {
        for (const statement of project(definition, read(event), metaOf(event))) statements.push(statement);
      } catch (failure) {
        return { statements, done: i, failure };
      }
    }
    return { statements, done: events.length };
  };
}

export function applyReactor(definition: ReactorDefinition, context: AppContext) {
  const read = feedReader(definition.entities);
  return async (events: readonly FeedEvent[], attempt: number): Promise<BatchOutcome> => {
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as FeedEvent;
      try {
        await definition.handle(read(event), metaOf(event), {
          context,
          idempotencyKey: `${event.streamId}:${event.version}`,
          attempt: i === 0 ? attempt : 1,
        });
      } catch (failure) {
        return { statements: [], done: i, failure };
      }
    }
    return { statements: [], done: events.length };
  };
}
