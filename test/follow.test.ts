/**
 * follow: every event of one entity from a version on, with the state after it, then new ones as
 * they commit here or in another system on the same store; it ends on break, signal or close.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { System } from 'pachyderm';
import { describe, expect, it } from 'vitest';
import { Account } from './support/accounts.js';
import { useChildProcesses } from './support/child-process.js';
import { storeKinds, useSystems } from './support/systems.js';

/** Takes `count` items of a feed, then stops it (the iterator's return runs). */
async function take<T>(feed: AsyncIterable<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  if (count === 0) return items;
  for await (const item of feed) {
    items.push(item);
    if (items.length === count) break;
  }
  return items;
}

const children = useChildProcesses();
const followChild = fileURLToPath(new URL('./support/follow-child.ts', import.meta.url));

describe.each(storeKinds)('follow on %s', (kind) => {
  const { place, start } = useSystems();
  const deposit = (system: System, id: string, amount: number) =>
    system.call(Account.ref(id), { type: 'Deposit', amount });

  it('gives each event from `from` with the state after it, then events that commit later', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Account], snapshotEvery: 2 });
    const id = randomUUID();
    for (const amount of [1, 2, 3]) await deposit(system, id, amount);
    const feed = take(system.follow(Account.ref(id), { from: 2 }), 4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = await deposit(system, id, 10);
    await deposit(system, id, 100);
    const items = await feed;
    expect(items.map(({ version, event, state }) => ({ version, event, state }))).toEqual([
      { version: 2, event: { type: 'Deposited', amount: 2 }, state: { balance: 3 } },
      { version: 3, event: { type: 'Deposited', amount: 3 }, state: { balance: 6 } },
      { version: 4, event: { type: 'Deposited', amount: 10 }, state: { balance: 16 } },
      { version: 5, event: { type: 'Deposited', amount: 100 }, state: { balance: 116 } },
    ]);
    expect(items[2]?.position).toBe(later.ok && later.position);
    expect(items.every((item) => item.recordedAt instanceof Date)).toBe(true);
  });

  it('sees what another system on the same store commits, within a poll interval', async () => {
    const where = await place(kind);
    const reader = start({ store: where.newStore(), entities: [Account], pollIntervalMs: 20 });
    const writer = start({ store: where.newStore(), entities: [Account] });
    const id = randomUUID();
    const feed = take(reader.follow(Account.ref(id)), 2);
    await deposit(writer, id, 5);
    await deposit(writer, id, 7);
    expect((await feed).map((item) => item.state)).toEqual([{ balance: 5 }, { balance: 12 }]);
  });

  it('ends cleanly on an aborted signal and on close, and refuses a bad from', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Account] });
    const id = randomUUID();
    await deposit(system, id, 1);
    const controller = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const item of system.follow(Account.ref(id), { signal: controller.signal })) seen.push(item.version);
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await done;
    expect(seen).toEqual([1]);

    const untilClose = (async () => {
      for await (const item of system.follow(Account.ref(id))) seen.push(item.version);
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await system.close();
    await untilClose;
    expect(seen).toEqual([1, 1]);
    expect(() => system.follow(Account.ref(id))).toThrow(expect.objectContaining({ code: 'SYSTEM_CLOSED' }));
  });

  it('refuses a from that is not a version and an id that is not one', async () => {
    const system = start({ store: (await place(kind)).newStore(), entities: [Account] });
    expect(() => system.follow(Account.ref('a'), { from: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
    );
    expect(() => system.follow(Account.ref(''))).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
  });
});

describe('follow in a process that does nothing else', () => {
  const { place, start } = useSystems();

  it('keeps the process alive while it waits, and gets what another process commits', async () => {
    const where = await place('sqlite');
    const writer = start({ store: where.newStore(), entities: [Account] });
    const id = randomUUID();
    const lines: string[] = [];
    const child = children.start(followChild, [JSON.stringify(where.address), id], (line) => {
      lines.push(line);
      if (line === 'following')
        setTimeout(() => void writer.call(Account.ref(id), { type: 'Deposit', amount: 9 }), 300);
      if (line.startsWith('seen')) child.process.kill('SIGKILL');
    });
    await child.killed;
    expect(lines).toEqual(['following', 'seen 1 9']);
  });
});
