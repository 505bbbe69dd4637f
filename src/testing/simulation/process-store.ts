/**
 * A simulated process's view of the shared store. Reads go through at once; appends, outbox claims
 * and settlements wait until the schedule runs them (or fails them, or crashes the process
 * first). Once the process has crashed, none of its store calls ever answers: whatever it was doing
 * stops where the crash cut it.
 */
import type { ClaimRequest, CommitRequest, OutboxSettlement, Store } from '../../store/port/index.js';

/** A store call the schedule decides when to run. */
export type HeldCall =
  | { readonly kind: 'commit'; readonly request: CommitRequest }
  | { readonly kind: 'claim'; readonly request: ClaimRequest }
  | { readonly kind: 'settle'; readonly owner: string; readonly settlements: readonly OutboxSettlement[] };

/** What a process's store view asks of the simulation. */
export interface StoreHooks {
  alive(): boolean;
  /** Holds a call until the schedule answers it. */
  hold(call: HeldCall): Promise<unknown>;
  /** Counts a store call that went through at once. */
  touched(): void;
  /** The port's `changeToken`, while one process alone uses the store. */
  changeToken(): number | undefined;
}

const never = new Promise<never>(() => {});

export function processStore(shared: Store, hooks: StoreHooks): Store {
  const view: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(shared)) {
    if (typeof value !== 'function') {
      view[name] = value;
      continue;
    }
    view[name] = (...args: unknown[]) => {
      if (!hooks.alive()) return never;
      hooks.touched();
      return (value as (...args: unknown[]) => unknown)(...args);
    };
  }
  const held = (call: HeldCall) => (hooks.alive() ? hooks.hold(call) : never);
  return {
    ...(view as unknown as Store),
    // The simulation holds the shared store open; a process opening or releasing its view changes nothing.
    open: async () => {},
    retain() {},
    release: async () => {},
    changeToken: () => hooks.changeToken(),
    commit: (request) => held({ kind: 'commit', request }) as ReturnType<Store['commit']>,
    claimOutbox: (request) => held({ kind: 'claim', request }) as ReturnType<Store['claimOutbox']>,
    settleOutbox: (owner, settlements) =>
      held({ kind: 'settle', owner, settlements }) as ReturnType<Store['settleOutbox']>,
  };
}
