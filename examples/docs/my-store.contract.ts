// A store author runs the contract suite in any test runner: here Node's own (`node --test`).
import { afterEach, describe, it } from 'node:test';
import { memoryStore } from 'pachyderm';
import { describeStoreContract, type Store } from 'pachyderm/store';

function myStore(): Store {
  return memoryStore(); // your store here
}

describeStoreContract(
  'my store',
  () => {
    const store = myStore(); // a fresh place per case: an empty database, a new schema
    return { newStore: () => store };
  },
  { describe, it, afterEach },
);
