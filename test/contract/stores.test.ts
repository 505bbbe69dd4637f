/** The storage contract (pachyderm/store) on the three stores, run by Vitest. */
import { describeStoreContract } from 'pachyderm/store';
import { afterEach, describe, it } from 'vitest';
import { storeKinds, useStorePlaces } from '../support/stores.js';

const places = useStorePlaces();
for (const kind of storeKinds) describeStoreContract(kind, () => places.place(kind), { describe, it, afterEach });
