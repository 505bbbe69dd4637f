import type { CancelTimer, Clock } from './clock.js';
import type { EntityDefinition } from './definition.js';
import type { EntityWorker } from './worker.js';

/**
 * The loaded workers of one system, in a list from least to most recently used (links kept on the
 * workers, so a call moves its worker in O(1)). It unloads workers idle for `idleTimeoutMs` and,
 * past `maxActive`, the least recently used idle ones. A worker is a cache of state: unloading it
 * loses nothing, the next call loads it again from the store.
 */
export class WorkerRegistry {
  readonly #byType = new Map<string, Map<string, EntityWorker>>();
  #size = 0;
  #oldest: EntityWorker | undefined;
  #newest: EntityWorker | undefined;
  #cancelSweep: CancelTimer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly maxActive: number,
    private readonly create: (definition: EntityDefinition, id: string) => EntityWorker,
  ) {}

  get size(): number {
    return this.#size;
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
      if (worker !== this.#newest) {
        this.#unlink(worker);
        this.#link(worker);
      }
      return worker;
    }
    worker = this.create(definition, id);
    ids.set(id, worker);
    this.#size++;
    this.#link(worker);
    if (this.#size > this.maxActive) this.#evict(this.#size - this.maxActive);
    this.#scheduleSweep();
    return worker;
  }

  /** The worker for this entity if it is loaded, without touching its recency. */
  peek(type: string, id: string): EntityWorker | undefined {
    return this.#byType.get(type)?.get(id);
  }

  all(): EntityWorker[] {
    const workers: EntityWorker[] = [];
    for (let w = this.#oldest; w; w = w.newer) workers.push(w);
    return workers;
  }

  stop(): void {
    this.#cancelSweep?.();
    this.#cancelSweep = undefined;
  }

  #remove(worker: EntityWorker): void {
    this.#unlink(worker);
    this.#byType.get(worker.ref.type)?.delete(worker.ref.id);
    this.#size--;
  }

  #link(worker: EntityWorker): void {
    worker.older = this.#newest;
    worker.newer = undefined;
    if (this.#newest) this.#newest.newer = worker;
    else this.#oldest = worker;
    this.#newest = worker;
  }

  #unlink(worker: EntityWorker): void {
    if (worker.older) worker.older.newer = worker.newer;
    else this.#oldest = worker.newer;
    if (worker.newer) worker.newer.older = worker.older;
    else this.#newest = worker.older;
    worker.older = undefined;
    worker.newer = undefined;
  }

  #evict(count: number): void {
    for (let w = this.#oldest; w && count > 0; ) {
      const next = w.newer;
      if (!w.busy) {
        this.#remove(w);
        count--;
      }
      w = next;
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
    for (let w = this.#oldest; w; ) {
      const next = w.newer;
      if (!w.busy && w.lastUsed <= deadline) this.#remove(w);
      w = next;
    }
    if (this.#size > 0) this.#scheduleSweep();
  }
}
