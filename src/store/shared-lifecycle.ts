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
  /** Changes whenever the set of users does, or the resource is opened or closed. */
  #epoch = 0;
  #seen = { epoch: -1, external: Number.NaN, token: 0 };
  #opening: Promise<void> | undefined;
  #closing: Promise<void> = Promise.resolve();
  #resource: R | undefined;

  constructor(
    private readonly kind: string,
    private readonly openResource: () => Promise<R>,
    private readonly closeResource: (resource: R) => Promise<void>,
  ) {}

  get isOpen(): boolean {
    return this.#resource !== undefined;
  }

  /** The open resource. */
  get resource(): R {
    if (this.#resource === undefined) throw new StoreUnavailableError(`The ${this.kind} store is not open`);
    return this.#resource;
  }

  /**
   * The port's `changeToken`, for a store that can tell cheaply whether others committed: `external`
   * is a value that changes when another connection or process commits (0 when nothing else can).
   * Undefined unless the resource is open and exactly one system retains the object.
   */
  changeToken(external: number): number | undefined {
    if (this.#users !== 1 || this.#resource === undefined) return undefined;
    const seen = this.#seen;
    if (seen.epoch !== this.#epoch || seen.external !== external) {
      this.#seen = { epoch: this.#epoch, external, token: seen.token + 1 };
    }
    return this.#seen.token;
  }

  /** Opens once; a failed open is tried again by the next caller. */
  open(): Promise<void> {
    if (!this.#opening) {
      const opening = this.#closing.then(async () => {
        this.#resource = await this.openResource();
        this.#epoch++;
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
    this.#epoch++;
  }

  release(): Promise<void> {
    if (this.#users === 0) return this.#closing;
    this.#users--;
    this.#epoch++;
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
    this.#epoch++;
    if (resource !== undefined) await this.closeResource(resource);
  }
}
