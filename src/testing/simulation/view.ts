/**
 * What an invariant sees: the committed state of the simulated world, read from the store itself
 * (not through any process), folded by the same pure replay as an activation. States are folded
 * once per event and kept between steps.
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
  /** The state of every entity of this type that has events, in id order. */
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

/** Every state the world holds, to show what a step changed. */
export type StateMap = ReadonlyMap<string, string>;

export class WorldView {
  readonly #definitions = new Map<string, EntityDefinition>();
  /** Per type, the ids with events; each with its folded state. */
  readonly #states = new Map<string, Map<string, Loaded<unknown>>>();
  #feedAfter = '';

  constructor(
    private readonly store: Store,
    definitions: readonly EntityDefinition[],
    private readonly handled: ReadonlySet<string>,
  ) {
    for (const definition of definitions) {
      this.#definitions.set(definition.type, definition);
      this.#states.set(definition.type, new Map());
    }
  }

  /** The view an invariant gets now. */
  as<C>(context: C, now: number): SimulationView<C> {
    return {
      readAll: async <S>(definition: EntityDefinition<string, S>) => {
        const loaded = await this.#loadAll(this.#known(definition?.type).type);
        return [...loaded.values()].map(({ state }) => state as S);
      },
      read: async <S>(ref: EntityRef<string, unknown, S>) => {
        const definition = this.#known(ref?.type);
        await this.#catchUp();
        const states = this.#states.get(definition.type) as Map<string, Loaded<unknown>>;
        const loaded = states.get(ref.id) ?? startOf(definition, undefined);
        return (await this.#fold(definition, ref.id, loaded)).state as S;
      },
      inFlight: () => this.#inFlight(),
      context,
      now,
    };
  }

  /** Every entity's state as JSON, by `Type/id`, and the messages in flight. */
  async states(): Promise<StateMap> {
    const all = new Map<string, string>();
    for (const type of this.#definitions.keys()) {
      for (const [id, { state }] of await this.#loadAll(type)) all.set(`${type}/${id}`, JSON.stringify(state));
    }
    const messages = await this.#inFlight();
    all.set('in flight', JSON.stringify(messages.map(({ to, message }) => ({ to: `${to.type}/${to.id}`, message }))));
    return all;
  }

  #known(type: string | undefined): EntityDefinition {
    const definition = type === undefined ? undefined : this.#definitions.get(type);
    if (!definition) throw new ConfigurationError(`simulation view: ${String(type)} is not among the entities`);
    return definition;
  }

  async #loadAll(type: string): Promise<Map<string, Loaded<unknown>>> {
    await this.#catchUp();
    const definition = this.#known(type);
    const states = this.#states.get(type) as Map<string, Loaded<unknown>>;
    for (const [id, loaded] of states) states.set(id, await this.#fold(definition, id, loaded));
    return new Map([...states].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Learns the entities that have events since the last look. */
  async #catchUp(): Promise<void> {
    const types = [...this.#definitions.keys()];
    for (;;) {
      const events = await this.store.readFeed({ after: this.#feedAfter, entityTypes: types, limit: 1000 });
      for (const event of events) {
        const states = this.#states.get(event.entityType);
        const definition = this.#definitions.get(event.entityType);
        if (states && definition && !states.has(event.streamId)) {
          states.set(event.streamId, startOf(definition, undefined));
        }
        this.#feedAfter = event.position;
      }
      if (events.length < 1000) return;
    }
  }

  async #fold(definition: EntityDefinition, id: string, loaded: Loaded<unknown>): Promise<Loaded<unknown>> {
    let current = loaded;
    for (;;) {
      const [events = []] = await this.store.readStreams([{ streamId: id, fromVersion: current.version + 1 }], 1000);
      current = fold(definition, current, events, id);
      if (events.length < 1000) return current;
    }
  }

  async #inFlight(): Promise<InFlightMessage[]> {
    await this.#catchUp();
    const messages: InFlightMessage[] = [];
    for (const [type, states] of this.#states) {
      for (const id of states.keys()) {
        for (const row of await this.store.outboxOf({ type, id }, 100_000)) {
          if (row.kind !== 'message' || row.status !== 'pending' || row.sourceType !== type || row.sourceId !== id)
            continue;
          if (this.handled.has(row.idempotencyKey)) continue;
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
