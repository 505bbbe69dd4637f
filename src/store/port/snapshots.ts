/** The snapshot part of the storage port. Snapshots are read with the start of a log (`readLogs`). */

/** The state of one entity type at one version of a log, as JSON text. */
export interface StoredSnapshot {
  /** The definition's `snapshotVersion` when the snapshot was written. */
  readonly schemaVersion: string;
  readonly version: number;
  readonly state: string;
}

export interface Snapshots {
  /**
   * Stores the snapshot of a log for one entity type, unless one at a later version under the
   * same schema is already there; a snapshot under another schema is replaced.
   */
  writeSnapshot(streamId: string, entityType: string, snapshot: StoredSnapshot): Promise<void>;
}
