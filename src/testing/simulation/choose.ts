/**
 * The random scheduler: what can happen next in the world (a call, a held store call run, a row
 * delivered, time passing, a fault), weighed and drawn from the run's seed.
 */
import { rowKeyOf } from './describe.js';
import type { Rng } from './rng.js';
import type { SimulatedCall } from './run.js';
import { keysOf, type StepAction } from './steps.js';
import { type Held, LEASE_MS, type World } from './world.js';

/** The faults a simulation injects; each on unless set to false. */
export interface Faults {
  /** Two processes on one store: workers for the same entity in both, deciding on the same version. */
  readonly duplicateWorkers: boolean;
  /** A process dies where it stands, or right after an append reached the store (before its effects). */
  readonly crashes: boolean;
  /** A settlement is lost: its outbox rows are delivered again. */
  readonly redeliveries: boolean;
  /** The clock jumps forward, past timers and leases. */
  readonly clockJumps: boolean;
  /** An append, claim or settlement fails in the store. */
  readonly storeErrors: boolean;
}

interface Option {
  readonly weight: number;
  make(): StepAction;
}

/** Draws the next step. */
export async function chooseStep(
  world: World,
  rng: Rng,
  workload: () => SimulatedCall,
  faults: Faults,
): Promise<StepAction> {
  const options: Option[] = [];
  const add = <T>(weight: number, items: readonly T[], make: (item: T) => StepAction) => {
    if (items.length > 0) options.push({ weight, make: () => make(rng.pick(items)) });
  };
  const processes = world.processes();
  add(6, processes, (process) => {
    const { ref, message, idempotencyKey } = workload();
    const call = { kind: 'call', process: process.name, ref: { type: ref?.type, id: ref?.id }, message } as const;
    return idempotencyKey === undefined ? call : { ...call, idempotencyKey };
  });
  const held = world.held();
  const of = (kind: Held['call']['kind']) => held.filter(({ call }) => call.kind === kind);
  const [commits, settles, claims] = [of('commit'), of('settle'), of('claim')];
  const named = (h: Held) => ({ process: h.process.name, keys: keysOf(world, h) });
  add(6, commits, (h) => ({ kind: 'commit', ...named(h) }));
  add(4, settles, (h) => ({ kind: 'settle', ...named(h) }));
  const rows = claims.length > 0 ? world.claimable() : [];
  const deliveries = claims.flatMap((claim) => rows.map((row) => ({ process: claim.process.name, row })));
  add(6, deliveries, ({ process, row }) => ({ kind: 'deliver', process, row: rowKeyOf(row) }));
  if ((await world.nextDue()) !== undefined) add(1, [0], () => ({ kind: 'timer' }));
  if (faults.clockJumps) add(1, [0], () => ({ kind: 'jump', ms: rng.int(1, 2 * LEASE_MS) }));
  if (faults.crashes) {
    add(0.5, processes, (process) => ({ kind: 'crash', process: process.name }));
    add(0.5, commits, (h) => ({ kind: 'crash', process: h.process.name, afterCommit: keysOf(world, h) }));
  }
  if (faults.storeErrors) add(1, held, (h) => ({ kind: 'store-error', call: h.call.kind, ...named(h) }));
  if (faults.redeliveries) add(1, settles, (h) => ({ kind: 'redeliver', ...named(h) }));
  const total = options.reduce((sum, option) => sum + option.weight, 0);
  let draw = rng.next() * total;
  for (const option of options) {
    draw -= option.weight;
    if (draw < 0) return option.make();
  }
  return (options[options.length - 1] as Option).make();
}
