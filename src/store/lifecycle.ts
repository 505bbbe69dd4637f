/**
 * Shared open/close bookkeeping for stores: a store object may be used by several systems in one
 * process; it opens once, and closes when the last system releases it (and may be opened again).
 */
export class StoreLifecycle {
  #users = 0;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> = Promise.resolve();

  constructor(
    private readonly openResources: () => Promise<void>,
    private readonly closeResources: () => Promise<void>,
  ) {}

  /** Opens once; a failed open is tried again by the next caller. */
  open(): Promise<void> {
    if (!this.#opening) {
      const opening = this.#closing.then(() => this.openResources());
      this.#opening = opening;
      opening.catch(() => {
        if (this.#opening === opening) this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  retain(): void {
    this.#users++;
  }

  release(): Promise<void> {
    if (this.#users === 0) return this.#closing;
    this.#users--;
    if (this.#users > 0) return Promise.resolve();
    const opening = this.#opening;
    this.#opening = undefined;
    this.#closing = opening
      ? opening.then(
          () => this.closeResources(),
          () => undefined,
        )
      : Promise.resolve();
    return this.#closing;
  }
}
