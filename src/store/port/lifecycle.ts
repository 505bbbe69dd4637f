/** The lifecycle part of the storage port: one store object may serve several systems in a process. */
export interface Lifecycle {
  /** Opens connections and applies migrations. Idempotent; called before any other method. */
  open(): Promise<void>;
  /** A system starts using the store. */
  retain(): void;
  /** A system stops using the store; the last release closes it (and it may be opened again). */
  release(): Promise<void>;
}
