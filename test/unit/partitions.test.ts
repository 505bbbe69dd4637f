/**
 * Laws of partition assignment: every id has one partition in range; rendezvous hashing moves a
 * partition only to a member that joined or away from one that left, and shares partitions out
 * about evenly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions, partitionOf, rendezvousOwner } from '../../src/core/partitions.js';

const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 });

describe('partitions', () => {
  it('puts every id in one partition in range, the same one every time', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 4096 }), (id, count) => {
        const partition = partitionOf(id, count);
        expect(Number.isInteger(partition) && partition >= 0 && partition < count).toBe(true);
        expect(partitionOf(id, count)).toBe(partition);
      }),
    );
  });

  it('gives a joining member only partitions it wins; the others keep theirs', () => {
    fc.assert(
      fc.property(names, fc.string({ minLength: 1, maxLength: 12 }), (members, joining) => {
        fc.pre(!members.includes(joining));
        const before = assignPartitions(256, members);
        const after = assignPartitions(256, [...members, joining]);
        after.forEach((owner, partition) => {
          expect([before[partition], joining]).toContain(owner);
        });
      }),
    );
  });

  it('moves only the partitions of a member that leaves', () => {
    fc.assert(
      fc.property(names, fc.nat(), (members, pick) => {
        const leaving = members[pick % members.length] as string;
        const before = assignPartitions(256, members);
        const after = assignPartitions(
          256,
          members.filter((m) => m !== leaving),
        );
        before.forEach((owner, partition) => {
          if (owner !== leaving) expect(after[partition]).toBe(owner);
          else expect(after[partition]).not.toBe(leaving);
        });
      }),
    );
  });

  it('does not depend on the order members are listed in', () => {
    fc.assert(
      fc.property(names, fc.nat(1023), (members, partition) => {
        expect(rendezvousOwner(partition, [...members].reverse())).toBe(rendezvousOwner(partition, members));
      }),
    );
  });

  it('shares 1,024 partitions about evenly among three members, and a fourth takes about a quarter', () => {
    const three = assignPartitions(1024, ['node-a', 'node-b', 'node-c']);
    for (const member of ['node-a', 'node-b', 'node-c']) {
      const share = three.filter((owner) => owner === member).length / 1024;
      expect(share).toBeGreaterThan(0.28);
      expect(share).toBeLessThan(0.39);
    }
    const four = assignPartitions(1024, ['node-a', 'node-b', 'node-c', 'node-d']);
    const moved = four.filter((owner, p) => owner !== three[p]).length / 1024;
    expect(moved).toBeGreaterThan(0.2);
    expect(moved).toBeLessThan(0.3);
    expect(rendezvousOwner(0, [])).toBeUndefined();
  });
});
