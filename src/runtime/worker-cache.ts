import type { CancelTimer, Clock } from '../clock.js';
import type { EntityDefinition } from '../define/entity.js';
import type { EntityWorker } from './worker.js';

/**
 * The loaded workers of one system: a cache of state. It unloads workers idle for `idleTimeoutMs`
 * and, past `maxActive`, the least recently used idle ones; a busy worker is never unloaded.
 * Unloading loses nothing: the next call loads the entity again from the store.
 */
export class WorkerCache {
  readonly #byType = new Map<string, Map<string, EntityWorker>>();
  /** Every worker, least recently used first: a Set keeps insertion order, and re-adding moves to the end. */
  readonly #recency = new Set<EntityWorker>();
  #newest: EntityWorker | undefined;
  #cancelSweep: CancelTimer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly maxActive: number,
    private readonly create: (definition: EntityDefinition, id: string) => EntityWorker,
  ) {}

  get size(): number {
    return this.#recency.size;
  }

  /** The worker for this entity, loaded if needed, marked as most recently used. */
  get(definition: EntityDefinition, id: string): EntityWorker {
    let ids = this.#byType.get(definition.type);
    if (!ids) {
      ids = new Map();
      this.#byType.set(definition.type, ids);
    }
    let worker = ids.get(id);
    if (worker) {
      if (worker !== this.#newest) this.#touch(worker);
      return worker;
    }
    worker = this.create(definition, id);
    ids.set(id, worker);
    this.#touch(worker);
    if (this.#recency.size > this.maxActive) this.#evict(this.#recency.size - this.maxActive);
    this.#scheduleSweep();
    return worker;
  }

  /** The worker for this entity if it is loaded, without touching its recency. */
  peek(type: string, id: string): EntityWorker | undefined {
    return this.#byType.get(type)?.get(id);
  }

  /** The loaded workers of entities with this id (of any type). */
  *withId(id: string): Iterable<EntityWorker> {
    for (const ids of this.#byType.values()) {
      const worker = ids.get(id);
      if (worker) yield worker;
    }
  }

  /** Every loaded worker, least recently used first. */
  all(): EntityWorker[] {
    return [...this.#recency];
  }

  stop(): void {
    this.#cancelSweep?.();
    this.#cancelSweep = undefined;
  }

  /** Unloads the idle workers `test` picks (a busy one stays; it reloads if its copy is stale). */
  unloadIdle(test: (worker: EntityWorker) => boolean): void {
    for (const worker of this.#recency) if (!worker.busy && test(worker)) this.#remove(worker);
  }

  #touch(worker: EntityWorker): void {
    this.#recency.delete(worker);
    this.#recency.add(worker);
    this.#newest = worker;
  }

  #remove(worker: EntityWorker): void {
    this.#recency.delete(worker);
    if (this.#newest === worker) this.#newest = undefined;
    this.#byType.get(worker.ref.type)?.delete(worker.ref.id);
  }

  #evict(count: number): void {
    for (const worker of this.#recency) {
      if (count === 0) return;
      if (!worker.busy) {
        this.#remove(worker);
        count--;
      }
    }
  }

  #scheduleSweep(): void {
    if (this.#cancelSweep || !Number.isFinite(this.idleTimeoutMs)) return;
    this.#cancelSweep = this.clock.setTimeout(() => {
      this.#cancelSweep = undefined;
      this.#sweep();
    }, this.idleTimeoutMs);
  }

  #sweep(): void {
    const deadline = this.clock.now() - this.idleTimeoutMs;
    for (const worker of this.#recency) {
      if (!worker.busy && worker.lastUsed <= deadline) this.#remove(worker);
    }
    if (this.#recency.size > 0) this.#scheduleSweep();
  }
}
