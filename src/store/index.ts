/**
 * `pachyderm/store`: what a store author needs. The port (`Store` and its four parts), every type
 * in its signatures, and the contract suite a new store must pass.
 *
 * @example
 * import { afterEach, describe, it } from 'vitest';
 * import { describeStoreContract, type Store } from 'pachyderm/store';
 * describeStoreContract('my store', () => ({ newStore: (): Store => myStore() }), { describe, it, afterEach });
 */
export { describeStoreContract, type MakeStore, type StorePlace, type TestRunner } from './contract.js';
export type {
  AppendResult,
  ClaimRequest,
  CommitRequest,
  EventLog,
  Lifecycle,
  LogRequest,
  LogStart,
  Outbox,
  OutboxOutcome,
  OutboxRecord,
  OutboxStats,
  OutboxWrite,
  Snapshots,
  Store,
  StoredEvent,
  StoredSnapshot,
  StreamAppend,
  StreamRead,
  TimerKey,
} from './port/index.js';
