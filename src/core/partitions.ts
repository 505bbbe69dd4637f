/**
 * Which member should own which entity, as pure functions: an entity id hashes to one of a fixed
 * number of partitions, and each partition goes to the live member with the highest rendezvous
 * score. A member joining or leaving moves only the partitions it wins or held.
 */

/** 32-bit FNV-1a over the UTF-16 code units of a string, then a final mix (murmur3's fmix32). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

function mix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The partition of an entity id, in `0 .. count - 1`. */
export function partitionOf(id: string, count: number): number {
  return hash32(id) % count;
}

/** A member's score for a partition: the member with the highest one owns it. */
function score(member: string, partition: number): number {
  return mix32(hash32(member) ^ Math.imul(partition + 1, 0x9e3779b1));
}

/**
 * The member that should own a partition among `members` (names), or `undefined` when there are
 * none. Ties (equal scores) go to the smaller name, so every node computes the same answer.
 */
export function rendezvousOwner(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const member of members) {
    const s = score(member, partition);
    if (s > bestScore || (s === bestScore && best !== undefined && member < best)) {
      best = member;
      bestScore = s;
    }
  }
  return best;
}

/** Every partition's rendezvous owner among `members`: index = partition. */
export function assignPartitions(count: number, members: readonly string[]): (string | undefined)[] {
  return Array.from({ length: count }, (_, partition) => rendezvousOwner(partition, members));
}
