/**
 * Open and close bookkeeping that every store shares: a store object may serve several systems in
 * one process; it opens its resource (a connection, a pool) once, and closes it when the last
 * system releases it (and may be opened again). A store used while closed reports
 * `STORE_UNAVAILABLE`, like any store that cannot be reached.
 */
import { StoreUnavailableError } from '../errors.js';
import type { Lifecycle } from './port/index.js';

export class SharedLifecycle<R> implements Lifecycle {
  #users = 0;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> = Promise.resolve();
  #resource: R | undefined;

  constructor(
    private readonly kind: string,
    private readonly openResource: () => Promise<R>,
    private readonly closeResource: (resource: R) => Promise<void>,
  ) {}

  /** The open resource. */
  get resource(): R {
    if (this.#resource === undefined) throw new StoreUnavailableError(`The ${this.kind} store is not open`);
    return this.#resource;
  }

  /** Opens once; a failed open is tried again by the next caller. */
  open(): Promise<void> {
    if (!this.#opening) {
      const opening = this.#closing.then(async () => {
        this.#resource = await this.openResource();
      });
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
          () => this.#close(),
          () => undefined,
        )
      : Promise.resolve();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const resource = this.#resource;
    this.#resource = undefined;
    if (resource !== undefined) await this.closeResource(resource);
  }
}
