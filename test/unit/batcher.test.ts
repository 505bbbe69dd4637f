/**
 * The batcher behind group commit and grouped reads: requests made in one turn of the event loop,
 * and those that arrive while a call is in flight, are served by one call at a time; each request
 * gets its own answer; requests with the same key never share a call.
 */
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../src/runtime/batcher.js';

function recording(maxBatch: number, keyOf?: (input: string) => string) {
  const calls: string[][] = [];
  let inFlight = 0;
  let overlapped = false;
  const batcher = new Batcher<string, string>(
    async (inputs) => {
      if (inFlight++ > 0) overlapped = true;
      calls.push(inputs);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      if (inputs.includes('fail')) throw new Error('the batch failed');
      return inputs.map((input) => input.toUpperCase());
    },
    maxBatch,
    keyOf,
  );
  return { batcher, calls, overlapped: () => overlapped };
}

describe('Batcher', () => {
  it('serves the requests of one turn with one call, and those arriving meanwhile with the next', async () => {
    const { batcher, calls, overlapped } = recording(100);
    const first = ['a', 'b', 'c'].map((x) => batcher.submit(x));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const second = ['d', 'e'].map((x) => batcher.submit(x));
    expect(await Promise.all([...first, ...second])).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(calls).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    expect(overlapped()).toBe(false);
  });

  it('puts at most maxBatch requests in a call', async () => {
    const { batcher, calls } = recording(2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => batcher.submit(x)));
    expect(calls).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('never puts two requests with the same key in one call', async () => {
    const { batcher, calls } = recording(10, (x) => x[0] as string);
    await Promise.all(['a1', 'b1', 'a2', 'a3', 'b2'].map((x) => batcher.submit(x)));
    expect(calls).toEqual([['a1', 'b1'], ['a2', 'b2'], ['a3']]);
  });

  it('fails the requests of a failed call and serves the next call normally', async () => {
    const { batcher } = recording(10);
    const failed = Promise.allSettled(['x', 'fail'].map((x) => batcher.submit(x)));
    expect((await failed).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(await batcher.submit('y')).toBe('Y');
  });
});
