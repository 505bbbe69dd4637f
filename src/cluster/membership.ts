/**
 * This node's part in the cluster's membership: it joins as a new incarnation, renews its
 * heartbeat, and moves partitions toward their rendezvous owners among the active members: it
 * claims the ones it should own (taken only from nobody or the dead), and hands the ones it should
 * not straight to their next owner. An incarnation found dead joins again as a new one and forgets
 * what it owned. Routing reads `ownerOf`; nothing here keeps data right.
 */
import { randomUUID } from 'node:crypto';
import type { CancelTimer, Clock } from '../clock.js';
import { partitionOf, rendezvousOwner } from '../core/partitions.js';
import type { Logger } from '../logger.js';
import type { GuardedStore } from '../runtime/guarded-store.js';
import type { MemberRecord, MembershipView } from '../store/port/index.js';
import type { ClusterConfig } from './options.js';

/** A member as `system.cluster.members()` shows it. */
export interface ClusterMember {
  readonly name: string;
  readonly address: string;
  readonly status: 'active' | 'draining';
  /** True for this node. */
  readonly self: boolean;
}

export class ClusterMembership {
  #incarnation = '';
  #address = '';
  #status: MemberRecord['status'] = 'active';
  #view: MembershipView | undefined;
  #byIncarnation = new Map<string, MemberRecord>();
  #owned = new Set<number>();
  #cancel: CancelTimer | undefined;
  #beating: Promise<void> | undefined;
  #stopped = false;
  #incarnations = 0;

  constructor(
    private readonly config: ClusterConfig,
    private readonly store: GuardedStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Called with the partitions this node just gained: what it has loaded of them may be stale. */
    private readonly gained: (partitions: ReadonlySet<number>) => void,
  ) {}

  get incarnation(): string {
    return this.#incarnation;
  }

  /** How many times this node joined: more than once after it was declared dead. */
  get incarnations(): number {
    return this.#incarnations;
  }

  get partitionsOwned(): number {
    return this.#owned.size;
  }

  /**
   * Joins, takes its first share of partitions, and keeps beating every `heartbeatMs`. Rejects when
   * the first round fails (the store is down): the node keeps trying at every heartbeat.
   */
  async start(address: string): Promise<void> {
    this.#address = address;
    try {
      await this.beat();
    } finally {
      this.#schedule();
    }
  }

  members(): ClusterMember[] {
    return (this.#view?.members ?? []).map((member) => this.shown(member));
  }

  /** A member as the public API shows it. */
  shown(member: MemberRecord): ClusterMember {
    const { name, address, status } = member;
    return { name, address, status, self: member.incarnation === this.#incarnation };
  }

  /** The live, active member that owns this entity id now, if any. */
  ownerOf(id: string): MemberRecord | undefined {
    const owner = this.#view?.owners[partitionOf(id, this.config.partitions)];
    const member = owner === null || owner === undefined ? undefined : this.#byIncarnation.get(owner);
    return member?.status === 'active' ? member : undefined;
  }

  isSelf(member: MemberRecord): boolean {
    return member.incarnation === this.#incarnation;
  }

  /** One round: renew, then claim and hand over. Rounds never overlap. */
  beat(): Promise<void> {
    this.#beating ??= this.#round().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  /**
   * Leaving: marked draining (peers stop forwarding here), every partition handed to its next
   * owner among the others, then the member row removed.
   */
  async drain(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#beating?.catch(() => {});
    if (!this.#incarnation) return;
    this.#status = 'draining';
    try {
      await this.#round();
      await this.store.leaveCluster(this.#incarnation);
    } catch (error) {
      this.logger.warn('cluster: leaving failed; peers take over once this member expires', { error });
    }
    this.#owned.clear();
  }

  async #join(): Promise<void> {
    this.#incarnation = `${this.config.name}#${randomUUID()}`;
    this.#owned.clear();
    this.#incarnations++;
    await this.store.joinCluster({
      incarnation: this.#incarnation,
      name: this.config.name,
      address: this.#address,
      ttlMs: this.config.memberTtlMs,
      now: this.clock.now(),
    });
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#cancel = this.clock.setTimeout(() => {
      this.beat()
        .catch((error) => this.logger.warn('cluster: heartbeat failed; routing stays as it was', { error }))
        .finally(() => this.#schedule());
    }, this.config.heartbeatMs);
  }

  async #round(): Promise<void> {
    const { partitions, memberTtlMs: ttlMs } = this.config;
    const beat = { ttlMs, now: this.clock.now(), partitions };
    if (!this.#incarnation) await this.#join();
    let view = await this.store.heartbeat({ ...beat, incarnation: this.#incarnation, status: this.#status });
    if (!view.alive) {
      if (this.#status === 'draining') return;
      this.logger.warn('cluster: this member was declared dead; joining again as a new incarnation', {
        incarnation: this.#incarnation,
      });
      await this.#join();
      view = await this.store.heartbeat({ ...beat, incarnation: this.#incarnation, status: this.#status });
    }
    this.#see(view);
    const me = this.#incarnation;
    const active = view.members.filter((m) => m.status === 'active');
    // A draining node is no candidate: it hands everything to the others.
    const candidates = active.map((m) => m.name).filter((n) => this.#status === 'active' || n !== this.config.name);
    const toClaim: number[] = [];
    const toHand: { partition: number; to: string | null }[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      const owner = view.owners[partition] ?? null;
      const should = rendezvousOwner(partition, candidates);
      if (should === this.config.name) {
        if (owner !== me) toClaim.push(partition);
      } else if (owner === me) {
        toHand.push({
          partition,
          to: active.find((m) => m.name === should && m.incarnation !== me)?.incarnation ?? null,
        });
      }
    }
    if (toHand.length > 0) await this.store.handOverPartitions(me, toHand);
    const claimed =
      toClaim.length > 0 ? await this.store.claimPartitions({ ...beat, incarnation: me, partitions: toClaim }) : [];
    const owners = [...view.owners];
    for (const { partition, to } of toHand) owners[partition] = to;
    for (const partition of claimed) owners[partition] = me;
    this.#see({ ...view, owners });
    const before = this.#owned;
    this.#owned = new Set(owners.flatMap((owner, partition) => (owner === me ? [partition] : [])));
    const gained = new Set([...this.#owned].filter((partition) => !before.has(partition)));
    if (gained.size > 0) this.gained(gained);
  }

  #see(view: MembershipView): void {
    this.#view = view;
    this.#byIncarnation = new Map(view.members.map((member) => [member.incarnation, member]));
  }
}
