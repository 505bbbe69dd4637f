import type { CancelTimer, Clock } from './clock.js';
import type { EntityDefinition } from './definition.js';
import type { EntityWorker } from './worker.js';

/**
 * The loaded workers of one system, least recently used first. It unloads workers idle for
 * `idleTimeoutMs` and, past `maxActive`, the least recently used idle ones. A worker is a cache of
 * state: unloading it loses nothing, the next call loads it again from the store.
 */
export class WorkerRegistry {
  readonly #workers = new Map<string, EntityWorker>();
  #cancelSweep: CancelTimer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly maxActive: number,
    private readonly create: (definition: EntityDefinition, id: string) => EntityWorker,
  ) {}

  get size(): number {
    return this.#workers.size;
  }

  /** The worker for this entity, loaded if needed, marked as most recently used. */
  get(definition: EntityDefinition, id: string): EntityWorker {
    const key = workerKey(definition.type, id);
    let worker = this.#workers.get(key);
    if (worker) {
      this.#workers.delete(key);
    } else {
      worker = this.create(definition, id);
    }
    this.#workers.set(key, worker);
    if (this.#workers.size > this.maxActive) this.#evict(this.#workers.size - this.maxActive);
    this.#scheduleSweep();
    return worker;
  }

  /** The worker for this entity if it is loaded, without touching its recency. */
  peek(type: string, id: string): EntityWorker | undefined {
    return this.#workers.get(workerKey(type, id));
  }

  all(): EntityWorker[] {
    return [...this.#workers.values()];
  }

  stop(): void {
    this.#cancelSweep?.();
    this.#cancelSweep = undefined;
  }

  #evict(count: number): void {
    for (const [key, worker] of this.#workers) {
      if (count === 0) return;
      if (worker.busy) continue;
      this.#workers.delete(key);
      count--;
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
    for (const [key, worker] of this.#workers) {
      if (!worker.busy && worker.lastUsed <= deadline) this.#workers.delete(key);
    }
    if (this.#workers.size > 0) this.#scheduleSweep();
  }
}

function workerKey(type: string, id: string): string {
  return `${type.length}:${type}${id}`;
}
