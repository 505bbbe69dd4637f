/**
 * The contract suite's other ways in: a function that makes a store (not a place), and no runner
 * passed (Vitest's globals are on in this project's config).
 */
import { memoryStore } from 'pachyderm';
import { describeStoreContract } from 'pachyderm/store';

describeStoreContract(() => memoryStore());
