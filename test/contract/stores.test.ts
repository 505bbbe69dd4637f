import { storeKinds, useStorePlaces } from '../support/stores.js';
import { describeStoreContract } from './store-contract.js';

const places = useStorePlaces();
for (const kind of storeKinds) describeStoreContract(kind, () => places.place(kind));
