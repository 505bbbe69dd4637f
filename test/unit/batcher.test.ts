/**
 * The batcher behind group commit and grouped reads: requests made in one turn of the event loop,
 * and those that arrive while a call is in flight, are served by one call at a time; each request
 * gets its own answer; requests with the same key never share a call.
 */
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../src/runtime/batcher.js';

function recording(
  maxBatch: number,
  keyOf?: (input: string) => string,
  maxCalls = 1,
  groupOf?: (input: string) => string | undefined,
) {
  const calls: string[][] = [];
  let inFlight = 0;
  let overlapped = false;
  let most = 0;
  /** Inputs of the calls in flight, at every call's start. */
  const together: string[][] = [];
  const current = new Set<string>();
  const batcher = new Batcher<string, string>(
    async (inputs) => {
      if (inFlight++ > 0) overlapped = true;
      most = Math.max(most, inFlight);
      calls.push(inputs);
      for (const input of inputs) current.add(input);
      together.push([...current]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      for (const input of inputs) current.delete(input);
      inFlight--;
      if (inputs.includes('fail')) throw new Error('the batch failed');
      return inputs.map((input) => input.toUpperCase());
    },
    maxBatch,
    keyOf,
    maxCalls,
    groupOf,
  );
  return { batcher, calls, together, overlapped: () => overlapped, most: () => most };
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

  it('with more calls allowed, serves the requests of a later turn while a call is in flight', async () => {
    const { batcher, calls, most } = recording(100, undefined, 2);
    const first = ['a', 'b'].map((x) => batcher.submit(x));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const second = ['c'].map((x) => batcher.submit(x));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const third = ['d'].map((x) => batcher.submit(x));
    expect(await Promise.all([...first, ...second, ...third])).toEqual(['A', 'B', 'C', 'D']);
    // Two calls at most: the third turn's request waits for one of them.
    expect(calls).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(most()).toBe(2);
  });

  it('never has two requests with the same key in flight at once, however many calls it may make', async () => {
    const { batcher, calls, together } = recording(10, (x) => x[0] as string, 4);
    const first = ['a1', 'b1'].map((x) => batcher.submit(x));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const second = ['a2', 'c1'].map((x) => batcher.submit(x));
    expect(await Promise.all([...first, ...second])).toEqual(['A1', 'B1', 'A2', 'C1']);
    // c1 goes at once; a2 waits until a1's call is over.
    expect(calls).toEqual([['a1', 'b1'], ['c1'], ['a2']]);
    for (const inFlight of together) {
      const keys = inFlight.map((x) => x[0]);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('keeps the waiting requests of one group in the call that takes the first, past maxBatch', async () => {
    const { batcher, calls } = recording(2, undefined, 1, (x) => (x.startsWith('a') ? 'a' : undefined));
    await Promise.all(['b1', 'a1', 'c1', 'a2', 'a3', 'd1'].map((x) => batcher.submit(x)));
    expect(calls).toEqual([
      ['b1', 'a1', 'a2', 'a3'],
      ['c1', 'd1'],
    ]);
  });
});
