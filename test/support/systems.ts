/**
 * Systems for one test file: `start(options)` creates a system that is closed after the test,
 * whatever the test did; `place(kind)` makes a fresh store place (see stores.ts).
 */
import { createSystem, type System, type SystemOptions } from 'pachyderm';
import { afterEach } from 'vitest';
import { type StoreKind, type StorePlace, useStorePlaces } from './stores.js';

export { type StoreKind, storeKinds } from './stores.js';

export function useSystems(): {
  place(kind: StoreKind): Promise<StorePlace>;
  start(options: SystemOptions): System;
} {
  const places = useStorePlaces();
  const started: System[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((system) => system.close()));
  });
  return {
    place: (kind) => places.place(kind),
    start(options) {
      const system = createSystem(options);
      started.push(system);
      return system;
    },
  };
}
