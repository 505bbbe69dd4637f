/**
 * The membership part of the memory store: members and partition owners in maps, on the caller's
 * clock. Several systems in one process share it through one store object.
 */
import type { MemberRecord, Membership } from './port/index.js';

interface MemberRow extends MemberRecord {
  heartbeatAt: number;
}

export function memoryMembership(): Membership {
  const members = new Map<string, MemberRow>();
  const owners = new Map<number, string>();
  const isAlive = (incarnation: string | undefined, now: number, ttlMs: number) => {
    const row = incarnation === undefined ? undefined : members.get(incarnation);
    return row !== undefined && row.heartbeatAt > now - ttlMs;
  };

  return {
    async joinCluster({ incarnation, name, address, now }) {
      members.set(incarnation, { incarnation, name, address, status: 'active', heartbeatAt: now });
    },
    async heartbeat({ incarnation, ttlMs, now, status, partitions }) {
      const alive = isAlive(incarnation, now, ttlMs);
      if (alive) {
        const row = members.get(incarnation) as MemberRow;
        members.set(incarnation, { ...row, status, heartbeatAt: now });
      }
      const live = [...members.values()]
        .filter((row) => row.heartbeatAt > now - ttlMs)
        .map(({ incarnation, name, address, status }) => ({ incarnation, name, address, status }))
        .sort((a, b) => compare(a.name, b.name) || compare(a.incarnation, b.incarnation));
      return {
        alive,
        members: live,
        owners: Array.from({ length: partitions }, (_, partition) => owners.get(partition) ?? null),
      };
    },
    async claimPartitions({ incarnation, ttlMs, now, partitions }) {
      if (!isAlive(incarnation, now, ttlMs)) return [];
      const claimed: number[] = [];
      for (const partition of partitions) {
        const owner = owners.get(partition);
        if (owner === undefined || owner === incarnation || !isAlive(owner, now, ttlMs)) {
          owners.set(partition, incarnation);
          claimed.push(partition);
        }
      }
      return claimed;
    },
    async handOverPartitions(incarnation, partitions) {
      for (const { partition, to } of partitions) {
        if (owners.get(partition) !== incarnation) continue;
        if (to === null) owners.delete(partition);
        else owners.set(partition, to);
      }
    },
    async leaveCluster(incarnation) {
      members.delete(incarnation);
      for (const [partition, owner] of owners) if (owner === incarnation) owners.delete(partition);
    },
  };
}

/** Code-unit order, as the SQL stores sort (COLLATE "C", SQLite's BINARY). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
