import type { Loaded } from '../core/fold.js';
import { encodeJsonExact } from '../core/json.js';
import { snapshotSchemaOf } from '../core/upcast.js';
import type { EntityDefinition, EntityRef } from '../define/entity.js';
import type { Logger } from '../logger.js';
import type { GuardedStore } from './guarded-store.js';

/**
 * Writes a snapshot when a commit crosses a multiple of `snapshotEvery`, off the entity's path.
 * A state that JSON cannot hold exactly is never snapshotted: its type replays its whole log.
 */
export class SnapshotWriter {
  readonly #unsnapshottable = new Set<string>();
  readonly #writing = new Set<Promise<void>>();

  constructor(
    private readonly store: GuardedStore,
    private readonly snapshotEvery: number,
    private readonly logger: Logger,
  ) {}

  committed(ref: EntityRef, definition: EntityDefinition, previousVersion: number, committed: Loaded<unknown>): void {
    const every = this.snapshotEvery;
    if (every === 0 || Math.floor(committed.version / every) === Math.floor(previousVersion / every)) return;
    if (this.#unsnapshottable.has(definition.type)) return;
    let state: string;
    try {
      state = encodeJsonExact(committed.state, `The state of ${definition.type}`);
    } catch (error) {
      this.#unsnapshottable.add(definition.type);
      this.logger.warn('state cannot be snapshotted; entities of this type replay their whole log', {
        entityType: definition.type,
        error,
      });
      return;
    }
    const snapshot = { schemaVersion: snapshotSchemaOf(definition), version: committed.version, state };
    const writing = this.store
      .writeSnapshot(ref.id, definition.type, snapshot)
      .catch((error) => this.logger.warn('snapshot not written', { entityType: ref.type, entityId: ref.id, error }))
      .finally(() => this.#writing.delete(writing));
    this.#writing.add(writing);
  }

  /** Resolves when every snapshot started so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing);
  }
}
