/**
 * A cluster node: routes each call to its entity's owner (forwarded over HTTP), or runs it here
 * when this node owns the entity, the owner is unknown, or the owner took nothing from the request
 * (refused the connection, draining, does not serve the type). Serves what peers forward to it.
 * Correctness never depends on this: every node may run any call, and the log's expected-version
 * check keeps the data right; routing keeps one worker per entity in the common case.
 */
import { SpanKind } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import type { EntityRef } from '../define/entity.js';
import { type ErrorCode, PachydermError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FreshCopies } from '../runtime/fresh-copies.js';
import type { GuardedStore } from '../runtime/guarded-store.js';
import type { MessageAnswer } from '../runtime/worker.js';
import type { AppendWatch } from '../store/port/index.js';
import { Attribute, SpanName, type Telemetry } from '../telemetry/telemetry.js';
import { ForwardClient } from './forward-client.js';
import { ForwardServer } from './forward-server.js';
import { type ClusterMember, ClusterMembership } from './membership.js';
import type { ClusterConfig } from './options.js';
import { type ForwardedAnswer, type ForwardedCall, faultOf } from './protocol.js';

export type { ClusterMember } from './membership.js';

/** `system.cluster`: who is in the cluster, and who owns what. */
export interface ClusterView {
  /** The live members, by name. Empty until this node has joined. */
  members(): ClusterMember[];
  /** The member that owns this entity now, or undefined (none yet, or it is draining). */
  ownerOf(ref: EntityRef): ClusterMember | undefined;
}

/** `stats().cluster`: this node's routing since it started. */
export interface ClusterStats {
  /** Partitions this node owns now. */
  readonly partitionsOwned: number;
  /** Calls this node sent to their owner and got an answer for. */
  readonly forwarded: number;
  /** Calls peers forwarded to this node. */
  readonly servedForPeers: number;
  /** Calls this node ran itself although another node owned the entity (nothing was taken there). */
  readonly fallbacks: number;
  /** Forwarded calls that got no answer (`OWNER_UNREACHABLE`). */
  readonly unreachable: number;
  /** Appends of this node refused by the version check (another worker appended first). */
  readonly conflicts: number;
  /**
   * Loaded copies that a hint of another process's append showed behind; each read the newer
   * events before its next decision (PostgreSQL: LISTEN/NOTIFY; 0 on stores without hints).
   */
  readonly staleCopies: number;
  /** Live members, this one included. */
  readonly members: number;
  /** Times this node joined: more than 1 after it was declared dead and came back. */
  readonly incarnations: number;
}

export interface ClusterParts {
  readonly store: GuardedStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** Runs a call on this node's worker; `fromPeer` when a peer forwarded it. */
  local(call: ForwardedCall, fromPeer?: boolean): Promise<MessageAnswer>;
  /** True when this node serves the entity type. */
  serves(type: string): boolean;
  /** Unloads idle workers of these partitions: this node just gained them, and another may have appended. */
  unload(partitions: ReadonlySet<number>): void;
  /** Appends refused by the version check so far. */
  conflicts(): number;
  /** At most this many calls in one forwarded batch. */
  readonly maxBatch: number;
  /** What hears the store's hints of appends, when the store gives them. */
  readonly freshCopies: FreshCopies | undefined;
}

export class Cluster implements ClusterView {
  readonly #membership: ClusterMembership;
  readonly #server: ForwardServer;
  readonly #client: ForwardClient;
  #started: Promise<void> | undefined;
  #watch: AppendWatch | undefined;
  #listening = false;
  #draining = false;
  readonly #counts = { forwarded: 0, servedForPeers: 0, fallbacks: 0, unreachable: 0 };

  constructor(
    private readonly config: ClusterConfig,
    private readonly parts: ClusterParts,
  ) {
    this.#membership = new ClusterMembership(config, parts.store, parts.clock, parts.logger, parts.unload);
    this.#server = new ForwardServer(
      config.secret,
      config.maxRequestBytes,
      { serve: (call) => this.#serve(call), draining: () => this.#draining },
      parts.logger,
    );
    this.#client = new ForwardClient(config.secret, config.forwardTimeoutMs, parts.maxBatch);
  }

  /**
   * Listens, joins and takes a first share of partitions; until then every call runs here. A store
   * that is down at the start delays the join to a later heartbeat; a port that cannot be listened
   * on leaves this node out of the cluster (logged by the caller).
   */
  start(): Promise<void> {
    this.#started ??= (async () => {
      const { freshCopies } = this.parts;
      if (freshCopies) this.#watch = this.parts.store.watchAppends(freshCopies);
      const { host, port } = await this.#server.listen(this.config.listen.host, this.config.listen.port);
      const shown = host.includes(':') ? `[${host}]` : host;
      this.#listening = true;
      await this.#membership.start(this.config.advertise ?? `http://${shown}:${port}`);
    })();
    return this.#started;
  }

  members(): ClusterMember[] {
    return this.#membership.members();
  }

  ownerOf(ref: EntityRef): ClusterMember | undefined {
    const owner = this.#membership.ownerOf(ref.id);
    return owner && this.#membership.shown(owner);
  }

  stats(): ClusterStats {
    return {
      ...this.#counts,
      partitionsOwned: this.#membership.partitionsOwned,
      conflicts: this.parts.conflicts(),
      staleCopies: this.parts.freshCopies?.staleCopies ?? 0,
      members: this.members().length,
      incarnations: this.#membership.incarnations,
    };
  }

  async route(call: ForwardedCall): Promise<MessageAnswer> {
    const owner = this.#listening && !this.#draining ? this.#membership.ownerOf(call.id) : undefined;
    if (!owner || this.#membership.isSelf(owner)) return this.parts.local(call);
    let outcome: Awaited<ReturnType<ForwardClient['send']>>;
    try {
      const attributes = () => ({
        [Attribute.entityType]: call.type,
        [Attribute.entityId]: call.id,
        [Attribute.member]: owner.name,
      });
      outcome = await this.parts.telemetry.inSpan(SpanName.forward, call.trace, SpanKind.CLIENT, attributes, (trace) =>
        this.#client.send(owner.address, trace === undefined ? call : { ...call, trace }),
      );
    } catch (error) {
      this.#counts.unreachable++;
      throw error;
    }
    if ('answer' in outcome) {
      this.#counts.forwarded++;
      return outcome.answer;
    }
    if ('fault' in outcome) {
      this.#counts.forwarded++;
      const { code, message, retryable } = outcome.fault;
      throw new PachydermError(code as ErrorCode, message, { retryable });
    }
    this.#counts.fallbacks++;
    return this.parts.local(call);
  }

  /**
   * Leaving: this node stops forwarding and turns forwarded batches away (503: the sender runs
   * them); its partitions go straight to their next owners, and it leaves the members table. It
   * keeps its endpoint open two heartbeats more, so that every peer has seen it go before its
   * connections close (a connection that breaks under a request is `OWNER_UNREACHABLE`).
   */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#started?.catch(() => {});
    if (!this.#listening) return;
    await this.#membership.drain();
    await new Promise<void>((resolve) => this.parts.clock.setTimeout(resolve, 2 * this.config.heartbeatMs));
  }

  /** After `drain` and once this node's own work is done: stops serving peers. */
  async close(): Promise<void> {
    await this.#server.close();
    this.#client.close();
    await this.#watch?.close();
  }

  async #serve(call: ForwardedCall): Promise<ForwardedAnswer> {
    this.#counts.servedForPeers++;
    if (!this.parts.serves(call.type)) return { notServed: true };
    try {
      return { answer: await this.parts.local(call, true) };
    } catch (error) {
      return faultOf(error);
    }
  }
}
