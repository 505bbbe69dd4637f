/** Retries of at-least-once effects and of messages: the policy, its defaults and the delays it gives. */
import { ConfigurationError } from '../errors.js';

/** Exponential backoff with jitter between attempts of an at-least-once effect. */
export interface RetryPolicy {
  /** Attempts before the effect goes to the dead-letter list. Default 10. */
  readonly maxAttempts: number;
  /** The delay after the first failure. Default 100 ms. */
  readonly initialDelayMs: number;
  /** No delay is longer than this. Default 60 000 ms. */
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 60_000 };

/** Fills in and checks a retry policy. */
export function retryPolicy(given: Partial<RetryPolicy> | undefined, owner: string): RetryPolicy {
  const policy = { ...defaultRetryPolicy, ...given };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new ConfigurationError(`${owner}: retry.maxAttempts must be an integer >= 1`);
  }
  for (const key of ['initialDelayMs', 'maxDelayMs'] as const) {
    if (typeof policy[key] !== 'number' || !(policy[key] >= 0) || !Number.isFinite(policy[key])) {
      throw new ConfigurationError(`${owner}: retry.${key} must be a finite number >= 0`);
    }
  }
  if (policy.maxDelayMs < policy.initialDelayMs) {
    throw new ConfigurationError(`${owner}: retry.maxDelayMs must be >= retry.initialDelayMs`);
  }
  return Object.freeze(policy);
}

/**
 * The delay before attempt `attempt + 1` after `attempt` failures: exponential, with "equal
 * jitter" (between half and all of the exponential delay), never above `maxDelayMs`.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.min(policy.maxDelayMs, exponential / 2 + random() * (exponential / 2));
}
