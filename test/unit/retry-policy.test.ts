/**
 * Retry delays: exponential with equal jitter, between half and all of `initialDelayMs × 2^(n-1)`,
 * never above `maxDelayMs` (a property); and a failing at-least-once effect is tried again at that
 * time on the test clock, not before.
 */
import fc from 'fast-check';
import { createSystem, defineEffect, defineEntity, memoryStore, ok, silentLogger } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { retryDelay, retryPolicy } from '../../src/outbox/retry-policy.js';

describe('retry delays', () => {
  it('lie between half and all of the exponential delay, never above maxDelayMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialDelayMs, extra, attempt, random) => {
          const policy = retryPolicy({ initialDelayMs, maxDelayMs: initialDelayMs + extra }, 'test');
          const exponential = Math.min(policy.maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
          const delay = retryDelay(policy, attempt, () => random);
          expect(delay).toBeGreaterThanOrEqual(exponential / 2);
          expect(delay).toBeLessThanOrEqual(exponential);
          expect(delay).toBeLessThanOrEqual(policy.maxDelayMs);
        },
      ),
    );
  });

  it('refuses policies that cannot work', () => {
    for (const bad of [
      { maxAttempts: 0 },
      { maxAttempts: 1.5 },
      { initialDelayMs: -1 },
      { maxDelayMs: 10, initialDelayMs: 20 },
    ]) {
      expect(() => retryPolicy(bad, 'test')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIGURATION' }));
    }
  });

  it('tries a failing at-least-once effect again at the delay on the test clock, not before', async () => {
    const clock = createTestClock(0);
    const attempts: number[] = [];
    const Flaky = defineEffect(
      'Flaky',
      (_payload: null, ctx) => {
        attempts.push(clock.now());
        if (ctx.attempt === 1) throw new Error('not yet');
      },
      { delivery: 'at-least-once', retry: { initialDelayMs: 1_000, maxDelayMs: 1_000 } },
    );
    const Job = defineEntity({
      type: 'Job',
      handle: (_m: null, _s) => ok([1], [Flaky.with(null)]),
      update: () => undefined,
    });
    const system = createSystem({
      store: memoryStore(),
      entities: [Job],
      effects: [Flaky],
      clock,
      logger: silentLogger,
    });
    try {
      await system.call(Job.ref('j'), null);
      await system.settled();
      expect(attempts).toEqual([0]);
      clock.advance(499); // the delay is between 500 and 1000 ms
      await system.settled();
      expect(attempts).toEqual([0]);
      clock.advance(501);
      await system.settled();
      expect(attempts).toHaveLength(2);
      expect(attempts[1]).toBeGreaterThanOrEqual(500);
    } finally {
      await system.close();
    }
  });
});
