/**
 * `simulate` (pachyderm/testing): seeded schedules of calls, store calls, deliveries, time and
 * faults on the real runtime, with the invariant checked after every step. A buggy bank is caught
 * and shrunk to a few steps; a correct one holds for 1,000 runs with every fault on; the same seed
 * gives the same result, byte for byte, and a failing run's schedule replays word for word; a
 * mailer that is not idempotent is caught; idempotent calls hold; and each fault does what it says
 * (hand-written schedules).
 */

import fc from 'fast-check';
import { defineEffect, defineEntity, error, ok, send, sendAfter } from 'pachyderm';
import { type Rng, type SimulateResult, type SimulationView, type StepAction, simulate } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import {
  Account,
  BuggyAccount,
  buggyMoneyKept,
  buggySetup,
  buggyWorkload,
  moneyKept,
  Notice,
  setup,
  workload,
} from './support/simulated-bank.js';

/** An at-least-once mailer that is not idempotent: each delivery mails again. */
const Mailer = defineEffect(
  'Mailer',
  (payload: { to: string }, ctx) => {
    (ctx.context as string[]).push(payload.to);
  },
  { delivery: 'at-least-once' },
);
const Signup = defineEntity({
  type: 'Signup',
  init: () => ({ registered: false }),
  handle: (_message: { type: 'Register' }, state, entity) =>
    state.registered ? ok([]) : ok([{ type: 'Registered' }], [Mailer.with({ to: entity.self.id })]),
  update: () => ({ registered: true }),
});
/** Nobody gets two mails. */
const signups = {
  entities: [Signup],
  effects: [Mailer],
  context: () => [] as string[],
  workload: (rng: Rng) => ({ ref: Signup.ref(`u${rng.int(0, 3)}`), message: { type: 'Register' } as const }),
  invariant: (view: SimulationView<string[]>) => new Set(view.context).size === view.context.length,
};

const bank = { entities: [Account], effects: [Notice], context: () => [] as string[], setup, invariant: moneyKept };
const buggy = { entities: [BuggyAccount], setup: buggySetup, workload: buggyWorkload, invariant: buggyMoneyKept };

/** A result as bytes: the error as its message (an Error has no JSON of its own). */
const bytes = (result: SimulateResult) =>
  JSON.stringify(result, (key, value) => (key === 'error' ? (value as Error).message : value));

describe('simulate', () => {
  it('holds for a correct bank for 1,000 runs with every fault on', async () => {
    const result = await simulate({ ...bank, workload, seed: 1, runs: 1000, steps: 40 });
    expect(result).toEqual({ ok: true, runs: 1000, steps: 40 });
  });

  it('catches a bank that credits before the debit is known to commit, in a shortest schedule of a few steps', async () => {
    const result = await simulate(buggy);
    if (result.ok) throw new Error('the buggy bank passed');
    expect(result.shortest.length).toBeLessThanOrEqual(4);
    expect(result.schedule.length).toBeGreaterThanOrEqual(result.shortest.length);
    expect(result.shortest.map((step) => step.kind)).toEqual(['call', 'commit', 'deliver', 'settle']);
    expect(result.error.code).toBe('INVARIANT_BROKEN');
    expect(result.error.step).toBe(4);
    expect(result.error.message).toBe(result.report);
    // Replayable without the seed: the same steps break it again, at the same step.
    const replayed = await simulate.replay(result.shortest, buggy);
    expect(replayed.ok).toBe(false);
    if (!replayed.ok) expect(replayed.schedule).toEqual(result.shortest);
    // The failing run's seed plays that run again.
    const again = await simulate({ ...buggy, seed: result.seed, runs: 1 });
    expect(again.ok === false && again.schedule).toEqual(result.schedule);
  });

  it('runs the example of the issue: ten accounts of 100 that the workload addresses make 1000', async () => {
    const Ledger = defineEntity({
      type: 'Ledger',
      init: () => ({ balance: 100 }),
      handle: (
        message: { type: 'Transfer'; to: string; amount: number } | { type: 'Credit'; amount: number },
        state,
        entity,
      ) => {
        if (message.type === 'Credit') return ok([{ type: 'Credited', amount: message.amount }]);
        if (message.amount > state.balance) return error('insufficient funds');
        return ok(
          [{ type: 'Debited', amount: message.amount }],
          [send(entity.ref(message.to), { type: 'Credit', amount: message.amount })],
        );
      },
      update: (event: { type: 'Credited' | 'Debited'; amount: number }, state) => ({
        balance: state.balance + (event.type === 'Credited' ? event.amount : -event.amount),
      }),
    });
    const totalBalance = (accounts: { balance: number }[]) =>
      accounts.reduce((total, { balance }) => total + balance, 0);
    const inFlight = async (view: SimulationView) =>
      totalBalance((await view.inFlight()).map(({ message }) => ({ balance: (message as { amount: number }).amount })));
    const result = await simulate({
      entities: [Ledger],
      seed: 42,
      runs: 20,
      steps: 100,
      workload: (rng) => ({
        ref: Ledger.ref(`a${rng.int(0, 9)}`),
        message: { type: 'Transfer', to: `a${rng.int(0, 9)}`, amount: rng.int(1, 120) },
      }),
      invariant: async (view) => {
        const accounts = await view.readAll(Ledger);
        return accounts.length === 10 && totalBalance(accounts) + (await inFlight(view)) === 1000;
      },
    });
    expect(result).toEqual({ ok: true, runs: 20, steps: 100 });
  });

  it('replays the schedule of any failing run to the same steps, word for word (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 }), async (seed) => {
        const result = await simulate({ ...buggy, seed, runs: 5 });
        if (result.ok) return;
        const replayed = await simulate.replay(result.schedule, buggy);
        expect(replayed.ok).toBe(false);
        expect(replayed.schedule).toEqual(result.schedule);
      }),
      { numRuns: 20 },
    );
  });

  it('gives the same result for the same seed, byte for byte, and another for another seed', async () => {
    const first = await simulate({ ...buggy, seed: 7 });
    const second = await simulate({ ...buggy, seed: 7 });
    expect(first.ok).toBe(false);
    expect(bytes(second)).toBe(bytes(first));
    const other = await simulate({ ...buggy, seed: 8 });
    expect(bytes(other)).not.toBe(bytes(first));
  });

  it('reports the shortest schedule as numbered steps, with the states before and after the breaking step', async () => {
    const result = await simulate(buggy);
    if (result.ok) throw new Error('the buggy bank passed');
    const lines = result.report.split('\n');
    expect(lines[0]).toMatch(
      /^Seed \d+: The invariant returned false \(after step \d+\)\. Shortest schedule \(4 of \d+ steps\):$/,
    );
    expect(lines[1]).toMatch(
      /^1\. call +p\d gets call 1: \{"type":"Transfer","from":"a\d","amount":\d+\} → Account\/a\d$/,
    );
    expect(lines[2]).toMatch(
      /^ +decide +p\d Account\/a\d at v1: \{"type":"Credited","amount":\d+\}, send \{"type":"Debit",/,
    );
    expect(result.report).toMatch(/\n2\. commit +p\d commits Account\/a\d v1 → v2\n +answer +call 1: ok at v2\n/);
    expect(result.report).toMatch(
      /\n3\. deliver +p\d delivers message \{"type":"Debit","amount":\d+\} from Account\/a\d → Account\/a\d\n/,
    );
    expect(result.report).toMatch(
      /\n4\. settle .*dead letter \(Account rejected the message: "insufficient funds"\)\n/,
    );
    expect(result.report).toMatch(
      /State changed by step 4:\n {2}in flight\n {4}before: \[\{"to":"Account\/a\d","message":\{"type":"Debit","amount":\d+\}\}\]\n {4}after: {2}\[\]\n/,
    );
    expect(lines.at(-1)).toBe('The invariant returned false (after step 4)');
  });

  it('catches an at-least-once effect that is not idempotent, by delivering its row twice', async () => {
    const result = await simulate(signups);
    if (result.ok) throw new Error('the mailer passed');
    expect(result.shortest.length).toBeLessThanOrEqual(5);
    expect(result.shortest.filter((step) => step.kind === 'deliver')).toHaveLength(2);
    // Replayed with the entities and the invariant alone: the effects and context come with the schedule.
    const replayed = await simulate.replay(result.shortest, { entities: [Signup], invariant: signups.invariant });
    expect(replayed.ok === false && replayed.schedule).toEqual(result.shortest);
    expect(
      result.shortest.some(
        (step) =>
          step.kind === 'redeliver' ||
          step.kind === 'crash' ||
          step.kind === 'store-error' ||
          step.kind === 'jump' ||
          step.kind === 'timer',
      ),
    ).toBe(true);
  });

  it('turns a fault off when it is false: without faults, the mailer is never delivered twice', async () => {
    const none = {
      duplicateWorkers: false,
      crashes: false,
      redeliveries: false,
      clockJumps: false,
      storeErrors: false,
    };
    const result = await simulate({ ...signups, faults: none, runs: 50 });
    expect(result).toEqual({ ok: true, runs: 50, steps: 100 });
  });

  it('makes idempotent calls: five keys repeated under every fault count five', async () => {
    const Counter = defineEntity({
      type: 'Counter',
      init: () => ({ count: 0 }),
      handle: (_message: { type: 'Add' }) => ok([{ type: 'Added' }]),
      update: (_event: { type: 'Added' }, state) => ({ count: state.count + 1 }),
    });
    const result = await simulate({
      entities: [Counter],
      workload: (rng) => ({ ref: Counter.ref('c'), message: { type: 'Add' }, idempotencyKey: `k${rng.int(1, 5)}` }),
      invariant: async (view) => (await view.read(Counter.ref('c'))).count <= 5,
      runs: 50,
    });
    expect(result).toEqual({ ok: true, runs: 50, steps: 100 });
  });

  it('refuses options it cannot run with a typed error', async () => {
    const invariant = () => true;
    await expect(simulate({ entities: [], workload, invariant } as never)).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
    await expect(simulate({ entities: [Account], workload, invariant, runs: 0 })).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
    await expect(simulate({ entities: [Account], invariant } as never)).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
    await expect(simulate.replay('steps' as never, { entities: [Account], invariant })).rejects.toMatchObject({
      code: 'INVALID_CONFIGURATION',
    });
  });
});

describe('the faults, each on a schedule written by hand', () => {
  const transfer = (process: string, amount: number): StepAction => ({
    kind: 'call',
    process,
    ref: Account.ref('a0'),
    message: { type: 'Transfer', to: 'a1', amount },
  });
  const commit = (process: string, id: string): StepAction => ({ kind: 'commit', process, keys: [id] });
  const credit = (amount: number) => `message {"type":"Credit","amount":${amount}} from Account/a0 → Account/a1`;
  /** A transfer of 30 from a0, its credit delivered to a1 and committed there: its row not settled yet. */
  const creditHandled: StepAction[] = [
    transfer('p1', 30),
    commit('p1', 'a0'),
    { kind: 'deliver', process: 'p1', row: credit(30) },
    commit('p1', 'a1'),
  ];

  it('two workers for one entity decide on the same version: the second append is refused, and its call decides again', async () => {
    const { schedule, balances } = await play([
      transfer('p1', 200),
      transfer('p2', 100),
      commit('p1', 'a0'),
      commit('p2', 'a0'),
    ]);
    expect(schedule[1]?.then).toEqual([
      'decide  p2 Account/a0 at v1: {"type":"Debited","amount":100}, send {"type":"Credit","amount":100} → Account/a1',
    ]);
    expect(schedule[3]?.text).toBe('p2 commits Account/a0 conflict: expected v1, the log is at v2');
    // It read the log again: 50 left, not enough for 100.
    expect(schedule[3]?.then).toEqual(['answer  call 2: rejected "insufficient funds"']);
    expect(balances.get('a0')).toBe(50);
  });

  it('a copy loaded in one process is not trusted after another process changed the entity: the answer is decided on the latest state', async () => {
    const credit = (amount: number, from: string, to: string) =>
      `message {"type":"Credit","amount":${amount}} from Account/${from} → Account/${to}`;
    const { schedule, balances } = await play([
      // p1 loads a0 and leaves it at 50.
      transfer('p1', 200),
      commit('p1', 'a0'),
      // p2 moves 200 from a1 to a0: a0 is at 250 in the store, still at 50 in p1.
      { kind: 'call', process: 'p2', ref: Account.ref('a1'), message: { type: 'Transfer', to: 'a0', amount: 200 } },
      commit('p2', 'a1'),
      { kind: 'deliver', process: 'p2', row: credit(200, 'a1', 'a0') },
      commit('p2', 'a0'),
      // 100 is more than p1's copy holds: p1 must read the log, not refuse from its copy.
      transfer('p1', 100),
      commit('p1', 'a0'),
    ]);
    expect(schedule[6]?.then).toEqual([
      'decide  p1 Account/a0 at v3: {"type":"Debited","amount":100}, send {"type":"Credit","amount":100} → Account/a1',
    ]);
    expect(schedule[7]?.then).toEqual(['effect  Notice {"amount":100} of Account/a0 v4', 'answer  call 3: ok at v4']);
    expect(balances.get('a0')).toBe(150);
  });

  it('a crash between the commit and its effects: the at-most-once effect is lost, the message is delivered by the next process', async () => {
    const { schedule, balances } = await play([
      transfer('p1', 30),
      { kind: 'crash', process: 'p1', afterCommit: ['a0'] },
      { kind: 'deliver', process: 'p1', row: credit(30) },
      commit('p1', 'a1'),
    ]);
    expect(schedule[1]?.text).toBe('p1 commits Account/a0 v1 → v2, then crashes before it hears back');
    expect(schedule[1]?.then).toEqual([
      'lost    call 1: p1 crashed before answering',
      'restart p1 starts again, with nothing loaded',
    ]);
    expect(schedule.flatMap((step) => step.then).some((line) => line.startsWith('effect'))).toBe(false);
    expect(schedule[3]?.text).toBe('p1 commits Account/a1 v1 → v2');
    expect(balances.get('a1')).toBe(280);
  });

  it('a crash in the middle of a delivery: the row is delivered again once its lease ends, and handled once', async () => {
    const { schedule, balances } = await play([
      ...creditHandled,
      { kind: 'crash', process: 'p1' },
      { kind: 'deliver', process: 'p1', row: credit(30) },
      { kind: 'timer' },
      { kind: 'deliver', process: 'p1', row: credit(30) },
      commit('p1', 'a1'),
      { kind: 'settle', process: 'p1', keys: [credit(30)] },
    ]);
    // Not claimable while the dead process's lease runs: that step was skipped.
    const kinds = ['call', 'commit', 'deliver', 'commit', 'crash', 'timer', 'deliver', 'commit', 'settle'];
    expect(schedule.map((step) => step.kind)).toEqual(kinds);
    expect(schedule[5]?.text).toBe('the clock moves to t=5000');
    expect(schedule[6]?.text).toBe(`p1 delivers ${credit(30)} (attempt 2)`);
    // The message id is recorded with the first delivery's events: the second decision is refused.
    expect(schedule[7]?.text).toBe('p1 commits Account/a1 refused: already handled ["a0:2:0"]');
    expect(schedule[8]?.text).toBe(`p1 settles ${credit(30)}: done`);
    expect(balances.get('a1')).toBe(280);
  });

  it('an outbox row delivered twice is handled once', async () => {
    const { schedule, balances } = await play([
      ...creditHandled,
      { kind: 'redeliver', process: 'p1', keys: [credit(30)] },
      { kind: 'deliver', process: 'p2', row: credit(30) },
      commit('p2', 'a1'),
      { kind: 'settle', process: 'p2', keys: [credit(30)] },
    ]);
    expect(schedule.map((step) => step.kind)).toEqual([
      'call',
      'commit',
      'deliver',
      'commit',
      'redeliver',
      'deliver',
      'commit',
      'settle',
    ]);
    expect(schedule[4]?.text).toBe(`p1 loses its settlement, the rows go back: ${credit(30)}: lost`);
    // The other process decides on the log as it is now, and the store refuses the message id it already holds.
    expect(schedule[5]?.then).toEqual(['decide  p2 Account/a1 at v2: {"type":"Credited","amount":30}']);
    expect(schedule[6]?.text).toBe('p2 commits Account/a1 refused: already handled ["a0:2:0"]');
    expect(schedule[7]?.text).toBe(`p2 settles ${credit(30)}: done`);
    expect(balances.get('a1')).toBe(280);
  });

  it('the clock jumps past a timer: it fires', async () => {
    const Reminder = defineEntity({
      type: 'Reminder',
      init: () => ({ rung: 0 }),
      handle: (message: { type: 'Set' } | { type: 'Ring' }, _state, entity) =>
        message.type === 'Set'
          ? ok([{ type: 'Set' }], [sendAfter(entity.self, { type: 'Ring' }, 60_000)])
          : ok([{ type: 'Rang' }]),
      update: (event: { type: 'Set' | 'Rang' }, state) => ({ rung: state.rung + (event.type === 'Rang' ? 1 : 0) }),
    });
    const steps: StepAction[] = [
      { kind: 'call', process: 'p1', ref: Reminder.ref('r'), message: { type: 'Set' } },
      { kind: 'commit', process: 'p1', keys: ['r'] },
      { kind: 'deliver', process: 'p1', row: 'timer {"type":"Ring"} from Reminder/r → Reminder/r' },
      { kind: 'jump', ms: 90_000 },
      { kind: 'deliver', process: 'p1', row: 'timer {"type":"Ring"} from Reminder/r → Reminder/r' },
      { kind: 'commit', process: 'p1', keys: ['r'] },
    ];
    const replayed = await simulate.replay(steps, {
      entities: [Reminder],
      invariant: async (view) => (await view.read(Reminder.ref('r'))).rung === 0,
    });
    if (replayed.ok) throw new Error('the timer never fired');
    expect(replayed.schedule.map((step) => step.kind)).toEqual(['call', 'commit', 'jump', 'deliver', 'commit']);
    expect(replayed.error.step).toBe(5);
  });

  it('a store call that fails: the call fails with STORE_UNAVAILABLE and nothing of it is committed', async () => {
    const { schedule, balances } = await play([
      transfer('p1', 30),
      { kind: 'store-error', process: 'p1', call: 'commit', keys: ['a0'] },
      transfer('p1', 40),
      commit('p1', 'a0'),
    ]);
    expect(schedule[1]?.then).toEqual([expect.stringMatching(/^answer {2}call 1: failed STORE_UNAVAILABLE: /)]);
    expect(schedule[3]?.text).toBe('p1 commits Account/a0 v1 → v2');
    expect(balances.get('a0')).toBe(210);
  });
});

/** Plays steps on the bank, which must keep its money; answers the schedule and the balances at the end. */
async function play(steps: readonly StepAction[]) {
  const balances = new Map<string, number>();
  const replayed = await simulate.replay(steps, {
    ...bank,
    async invariant(view) {
      for (const id of ['a0', 'a1']) balances.set(id, (await view.read(Account.ref(id))).balance);
      return moneyKept(view);
    },
  });
  if (!replayed.ok) throw new Error(replayed.report);
  return { schedule: replayed.schedule, balances };
}
