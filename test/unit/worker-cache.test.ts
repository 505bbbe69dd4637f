/**
 * The worker cache: loaded entities, least recently used first. Past `maxActive` the least recently
 * used idle worker goes; after `idleTimeoutMs` idle ones go; a busy worker is never unloaded.
 * Time is a test clock.
 */
import { defineEntity, ok } from 'pachyderm';
import { createTestClock } from 'pachyderm/testing';
import { describe, expect, it } from 'vitest';
import { EntityWorker, type WorkerRuntime } from '../../src/runtime/worker.js';
import { WorkerCache } from '../../src/runtime/worker-cache.js';

const Note = defineEntity({
  type: 'Note',
  handle: (_m: { type: 'Go' }, _s) => ok([1]),
  update: (_e, s: undefined) => s,
});

function cache(options: { maxActive?: number; idleTimeoutMs?: number } = {}) {
  const clock = createTestClock(0);
  // The cache only reads a worker's ref, recency and busy flag: the worker is never called here.
  const runtime = { now: () => clock.now() } as WorkerRuntime;
  const workers = new WorkerCache(
    clock,
    options.idleTimeoutMs ?? 1_000,
    options.maxActive ?? 100,
    (definition, id) => new EntityWorker(definition, id, runtime),
  );
  const ids = () => workers.all().map((w) => w.ref.id);
  return { clock, workers, ids, get: (id: string) => workers.get(Note, id) };
}

describe('WorkerCache', () => {
  it('keeps one worker per entity, least recently used first', () => {
    const { workers, ids, get } = cache();
    const a = get('a');
    get('b');
    get('c');
    expect(get('a')).toBe(a);
    expect(ids()).toEqual(['b', 'c', 'a']);
    expect(workers.peek('Note', 'b')?.ref).toEqual({ type: 'Note', id: 'b' });
    expect(ids()).toEqual(['b', 'c', 'a']); // peek does not touch recency
    expect(workers.size).toBe(3);
  });

  it('past maxActive unloads the least recently used idle worker, never a busy one', () => {
    const { ids, get } = cache({ maxActive: 3 });
    const release = get('a').hold();
    get('b');
    get('c');
    get('d');
    expect(ids()).toEqual(['a', 'c', 'd']);
    release();
    get('e');
    expect(ids()).toEqual(['c', 'd', 'e']);
  });

  it('unloads workers idle for idleTimeoutMs, and keeps busy and recently used ones', () => {
    const { clock, ids, get } = cache({ idleTimeoutMs: 1_000 });
    get('idle');
    const release = get('busy').hold();
    clock.advance(500);
    get('recent'); // created at 500
    clock.advance(500); // the first sweep, at 1000
    expect(ids()).toEqual(['busy', 'recent']);
    clock.advance(1_000); // at 2000
    expect(ids()).toEqual(['busy']);
    release();
    clock.advance(1_000);
    expect(ids()).toEqual([]);
  });
});
