/**
 * The membership part of the storage port: which nodes of a cluster are alive, and which one owns
 * each partition of entity ids. Heartbeats are stamped by the store's clock where it has one
 * (PostgreSQL's; SQLite and memory take `now`, one machine's clock). Ownership moves only by
 * compare-and-set: a partition is claimed when it has no live owner, or handed over by its owner.
 * None of this keeps data right (the log's expected version does); it makes routing agree.
 */

export interface MemberRecord {
  /** Unique per start of a node: a node declared dead comes back as a new incarnation. */
  readonly incarnation: string;
  /** The node's configured name, stable across restarts (partitions are assigned by name). */
  readonly name: string;
  /** Where peers reach it. */
  readonly address: string;
  readonly status: 'active' | 'draining';
}

export interface MemberBeat {
  readonly incarnation: string;
  /** A member whose last heartbeat is older than this is dead. */
  readonly ttlMs: number;
  /** The caller's clock; stores with a clock of their own ignore it. */
  readonly now: number;
}

export interface MemberJoin extends MemberBeat, Omit<MemberRecord, 'incarnation' | 'status'> {}

export interface HeartbeatRequest extends MemberBeat {
  readonly status: MemberRecord['status'];
  /** How many partitions there are: the view answers each one's owner. */
  readonly partitions: number;
}

export interface PartitionClaim extends MemberBeat {
  readonly partitions: readonly number[];
}

/** A partition handed to another member (an incarnation), or to nobody (null). */
export interface PartitionHandOver {
  readonly partition: number;
  readonly to: string | null;
}

export interface MembershipView {
  /** False when this incarnation's heartbeat had expired (or it left): it must join again, as a new one. */
  readonly alive: boolean;
  /** The live members, this one included while alive, by name. */
  readonly members: readonly MemberRecord[];
  /** The owner (incarnation) of each partition `0 .. partitions - 1`, null when it has none. */
  readonly owners: readonly (string | null)[];
}

export interface Membership {
  /** Adds a live, active member. */
  joinCluster(join: MemberJoin): Promise<void>;
  /**
   * Renews this member's heartbeat and sets its status, unless it had expired (then nothing is
   * renewed: `alive` is false). Answers the live members and the owners of `partitions` partitions.
   */
  heartbeat(beat: HeartbeatRequest): Promise<MembershipView>;
  /**
   * Claims partitions for a live member: each one whose owner is this member, nobody, or a member
   * that is not alive. Answers the partitions claimed (those still owned by a live other are not).
   */
  claimPartitions(claim: PartitionClaim): Promise<number[]>;
  /** Hands partitions this member owns to others; one it does not own is left as it is. */
  handOverPartitions(incarnation: string, partitions: readonly PartitionHandOver[]): Promise<void>;
  /** Removes the member and lets go of every partition it owns. */
  leaveCluster(incarnation: string): Promise<void>;
}
