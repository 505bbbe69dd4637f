/**
 * What an invariant sees: the committed state of the simulated world, read from the store itself
 * (not through any process), folded by the same pure replay as an activation. The world's entities
 * are those the scenario addresses and those with events; each is folded once per event, as the
 * feed shows its log grow.
 */
import { fold, type Loaded, startOf } from '../../core/fold.js';
import { decodeJson } from '../../core/json.js';
import type { EntityDefinition, EntityRef } from '../../define/entity.js';
import { ConfigurationError } from '../../errors.js';
import type { Store } from '../../store/port/index.js';

/** A message written by a committed decision and not handled yet (a timer's time may not have come). */
export interface InFlightMessage {
  readonly from: { readonly type: string; readonly id: string };
  readonly to: { readonly type: string; readonly id: string };
  readonly message: unknown;
  readonly timer: boolean;
  /** When it may be delivered, on the simulation's clock. */
  readonly dueAt: number;
}

/** The world as an invariant reads it, after every step. */
export interface SimulationView<C = unknown> {
  /**
   * The state of every entity of this type in the world, in id order: those the workload and the
   * setup address (from their first state), and any other with events.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any definition's message, event and reason types
  readAll<S>(definition: EntityDefinition<string, S, any, any, any>): Promise<S[]>;
  /** The state of one entity (its first state when it has no events). */
  // biome-ignore lint/suspicious/noExplicitAny: any ref's message, event and reason types
  read<S>(ref: EntityRef<string, any, S, any, any>): Promise<S>;
  /** Messages between entities and timers committed but not handled yet. */
  inFlight(): Promise<InFlightMessage[]>;
  /** The value of the `context` option of this run, as effects got it. */
  readonly context: C;
  /** The simulation's clock, in milliseconds (it starts at 0). */
  readonly now: number;
}

/** An entity's state as of the version folded, and how far its log goes. */
interface Known {
  loaded: Loaded<unknown>;
  head: number;
}

/** Every state the world holds, to show what a step changed. */
export type StateMap = ReadonlyMap<string, string>;

export class WorldView {
  readonly #definitions = new Map<string, EntityDefinition>();
  /** Per type, the world's entities by id. */
  readonly #entities = new Map<string, Map<string, Known>>();
  #feedAfter = '';
  /** The messages in flight as of an outbox version of the world. */
  #inFlightAt: { readonly version: number; readonly messages: readonly InFlightMessage[] } | undefined;

  constructor(
    private readonly store: Store,
    definitions: readonly EntityDefinition[],
    addressed: readonly { readonly type: string; readonly id: string }[],
    private readonly world: { readonly handled: ReadonlySet<string>; readonly outboxVersion: number },
  ) {
    for (const definition of definitions) {
      this.#definitions.set(definition.type, definition);
      this.#entities.set(definition.type, new Map());
    }
    for (const { type, id } of addressed) this.#known(type, id);
  }

  /** The view an invariant gets now. */
  as<C>(context: C, now: number): SimulationView<C> {
    return {
      readAll: async <S>(definition: EntityDefinition<string, S>) =>
        [...(await this.#loadAll(this.#definition(definition?.type).type)).values()] as S[],
      read: async <S>(ref: EntityRef<string, unknown, S>) => {
        const definition = this.#definition(ref?.type);
        await this.#catchUp();
        const known = this.#entities.get(definition.type)?.get(ref.id);
        return (known ? await this.#fold(definition, ref.id, known) : startOf(definition, undefined).state) as S;
      },
      inFlight: async () => [...(await this.#inFlight())],
      context,
      now,
    };
  }

  /** Every entity's state as JSON, by `Type/id`, and the messages in flight. */
  async states(): Promise<StateMap> {
    const all = new Map<string, string>();
    for (const type of this.#definitions.keys()) {
      for (const [id, state] of await this.#loadAll(type)) all.set(`${type}/${id}`, JSON.stringify(state));
    }
    const messages = await this.#inFlight();
    all.set('in flight', JSON.stringify(messages.map(({ to, message }) => ({ to: `${to.type}/${to.id}`, message }))));
    return all;
  }

  #definition(type: string | undefined): EntityDefinition {
    const definition = type === undefined ? undefined : this.#definitions.get(type);
    if (!definition) throw new ConfigurationError(`simulation view: ${String(type)} is not among the entities`);
    return definition;
  }

  #known(type: string, id: string): Known | undefined {
    const entities = this.#entities.get(type);
    const definition = this.#definitions.get(type);
    if (!entities || !definition) return undefined;
    let known = entities.get(id);
    if (!known) {
      known = { loaded: startOf(definition, undefined), head: 0 };
      entities.set(id, known);
    }
    return known;
  }

  /** The states of a type's entities, by id in order. */
  async #loadAll(type: string): Promise<Map<string, unknown>> {
    await this.#catchUp();
    const definition = this.#definition(type);
    const entities = [...(this.#entities.get(type) as Map<string, Known>)].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    const states = new Map<string, unknown>();
    for (const [id, known] of entities) states.set(id, await this.#fold(definition, id, known));
    return states;
  }

  /** Learns from the feed which logs grew since the last look. */
  async #catchUp(): Promise<void> {
    const types = [...this.#definitions.keys()];
    for (;;) {
      const events = await this.store.readFeed({ after: this.#feedAfter, entityTypes: types, limit: 1000 });
      for (const event of events) {
        const known = this.#known(event.entityType, event.streamId);
        if (known) known.head = Math.max(known.head, event.version);
        this.#feedAfter = event.position;
      }
      if (events.length < 1000) return;
    }
  }

  /** The entity's state, folding the events it has not folded yet. */
  async #fold(definition: EntityDefinition, id: string, known: Known): Promise<unknown> {
    while (known.loaded.version < known.head) {
      const [events = []] = await this.store.readStreams(
        [{ streamId: id, fromVersion: known.loaded.version + 1 }],
        1000,
      );
      if (events.length === 0) break;
      known.loaded = fold(definition, known.loaded, events, id);
    }
    return known.loaded.state;
  }

  /** The messages in flight: read again only after a commit or a settlement. */
  async #inFlight(): Promise<readonly InFlightMessage[]> {
    const version = this.world.outboxVersion;
    if (this.#inFlightAt?.version !== version) this.#inFlightAt = { version, messages: await this.#readInFlight() };
    return this.#inFlightAt.messages;
  }

  async #readInFlight(): Promise<InFlightMessage[]> {
    await this.#catchUp();
    const messages: InFlightMessage[] = [];
    for (const [type, entities] of this.#entities) {
      for (const [id, { head }] of entities) {
        if (head === 0) continue;
        for (const row of await this.store.outboxOf({ type, id }, 100_000)) {
          if (row.kind !== 'message' || row.status !== 'pending' || row.sourceType !== type || row.sourceId !== id)
            continue;
          if (this.world.handled.has(row.idempotencyKey)) continue;
          messages.push({
            from: { type, id },
            to: { type: row.name, id: row.targetId ?? '' },
            message: decodeJson(row.payload ?? 'null'),
            timer: row.timer,
            dueAt: row.dueAt,
          });
        }
      }
    }
    return messages;
  }
}
