/**
 * `checkReplay`: before new definitions ship, fold the stored logs through them, writing nothing,
 * and say which entities they cannot replay (an `upcast` or `update` that throws, an event stored
 * under a newer `eventVersion`), and which replay to another state than the snapshot recorded.
 * Run it in CI against a copy of production data (or `pachyderm replay-check`).
 *
 * @example
 * const report = await checkReplay({ store: sqliteStore({ filename: 'copy.db' }), entities: [Account], sample: 1000 });
 * if (!report.ok) console.table(report.failures);
 */
import type { EntityDefinition } from '../define/entity.js';
import { ConfigurationError } from '../errors.js';
import { GuardedStore } from '../runtime/guarded-store.js';
import type { Store } from '../store/port/index.js';
import { type Chosen, type ReplayFailure, replayLogs, type Tally } from './replay-logs.js';

export type { ReplayFailure } from './replay-logs.js';

export interface CheckReplayOptions {
  /** The store to read, as the app makes it (`sqliteStore(...)`): retained, opened and released; never written. */
  readonly store: Store;
  /** The current definitions: every stored entity of their types is replayed through its own. */
  readonly entities: readonly EntityDefinition[];
  /** Replay this many entities, chosen uniformly at random; without it, every one. A whole number >= 1. */
  readonly sample?: number;
}

export interface ReplayReport {
  /** True when no entity failed. */
  readonly ok: boolean;
  /** Entities replayed. */
  readonly entities: number;
  /** Events folded. */
  readonly events: number;
  /** The entities whose replay threw (one failure, where it stopped), or whose state differs from their snapshot. */
  readonly failures: readonly ReplayFailure[];
}

/** Feed events read per round trip while looking for entities. */
const FEED_PAGE = 1000;
/** Entities whose logs are read together. */
const ENTITIES_PER_READ = 100;

/**
 * Replays the whole log of every entity of the given types (or of a sample of them) from version 1,
 * through `upcast` and `update` as an activation does (snapshots are not used to start from: the
 * state recorded in the latest snapshot under the definition's `snapshotVersion` is compared with
 * the state replayed to its version). A replay that throws stops that entity only. Memory stays
 * bounded by the sample (or a batch), not by the logs. Driver failures reject with `STORE_UNAVAILABLE`.
 *
 * @throws ConfigurationError (`INVALID_CONFIGURATION`) for options that cannot work.
 */
export async function checkReplay(options: CheckReplayOptions): Promise<ReplayReport> {
  const { store, definitions, sample } = replayOptions(options);
  const guarded = new GuardedStore(store);
  const tally: Tally = { entities: 0, events: 0, failures: [] };
  guarded.retain();
  try {
    const found = entitiesOf(guarded, definitions);
    if (sample === undefined) {
      let batch: Chosen[] = [];
      for await (const entity of found) {
        batch.push(entity);
        if (batch.length === ENTITIES_PER_READ) {
          await replayLogs(guarded, batch, tally);
          batch = [];
        }
      }
      if (batch.length > 0) await replayLogs(guarded, batch, tally);
    } else {
      const chosen = await sampled(found, sample);
      for (let i = 0; i < chosen.length; i += ENTITIES_PER_READ) {
        await replayLogs(guarded, chosen.slice(i, i + ENTITIES_PER_READ), tally);
      }
    }
  } finally {
    await guarded.release();
  }
  const { entities, events, failures } = tally;
  return { ok: failures.length === 0, entities, events, failures };
}

/**
 * The stored entities of the given types, in feed order, each once: a log's event at version 1 is
 * where its entity shows in the feed (the type that wrote it names the entity; a log that several
 * types share, by using one id, is replayed as the type that began it).
 */
async function* entitiesOf(
  store: GuardedStore,
  definitions: ReadonlyMap<string, EntityDefinition>,
): AsyncGenerator<Chosen> {
  const entityTypes = [...definitions.keys()];
  for (let after = ''; ; ) {
    const page = await store.readFeed({ after, entityTypes, limit: FEED_PAGE });
    if (page.length === 0) return;
    for (const event of page) {
      const definition = definitions.get(event.entityType);
      if (event.version === 1 && definition) yield { definition, id: event.streamId };
    }
    after = (page[page.length - 1] as (typeof page)[number]).position;
  }
}

/** `size` of the entities, each as likely as any other (reservoir sampling), kept in feed order. */
async function sampled(found: AsyncIterable<Chosen>, size: number): Promise<Chosen[]> {
  const kept: { readonly index: number; readonly entity: Chosen }[] = [];
  let seen = 0;
  for await (const entity of found) {
    if (kept.length < size) {
      kept.push({ index: seen, entity });
    } else {
      const slot = Math.floor(Math.random() * (seen + 1));
      if (slot < size) kept[slot] = { index: seen, entity };
    }
    seen++;
  }
  return kept.sort((a, b) => a.index - b.index).map(({ entity }) => entity);
}

/** The options checked: the store, the definitions by type, the sample. */
export function replayOptions(options: CheckReplayOptions): {
  readonly store: Store;
  readonly definitions: ReadonlyMap<string, EntityDefinition>;
  readonly sample: number | undefined;
} {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('checkReplay expects an object: { store, entities, sample? }');
  }
  const { store, entities, sample } = options;
  if (!isStore(store)) {
    throw new ConfigurationError(
      'checkReplay: store must be a store (sqliteStore(...), postgresStore(...) or memoryStore())',
    );
  }
  if (!Array.isArray(entities) || entities.length === 0) {
    throw new ConfigurationError('checkReplay: entities must be a non-empty array of defineEntity(...) definitions');
  }
  const definitions = new Map<string, EntityDefinition>();
  for (const definition of entities as readonly unknown[]) {
    if (!isDefinition(definition)) {
      throw new ConfigurationError('checkReplay: every entity must be a definition made by defineEntity(...)');
    }
    if (definitions.has(definition.type)) {
      throw new ConfigurationError(`checkReplay: two entity definitions are named ${JSON.stringify(definition.type)}`);
    }
    definitions.set(definition.type, definition);
  }
  if (sample !== undefined && (!Number.isSafeInteger(sample) || sample < 1)) {
    throw new ConfigurationError(`checkReplay: sample must be a whole number >= 1, got ${String(sample)}`);
  }
  return { store, definitions, sample };
}

function isStore(value: unknown): value is Store {
  if (value === null || typeof value !== 'object') return false;
  const store = value as Record<string, unknown>;
  return ['open', 'retain', 'release', 'readFeed', 'readStreams', 'readLogs'].every(
    (method) => typeof store[method] === 'function',
  );
}

function isDefinition(value: unknown): value is EntityDefinition {
  if (value === null || typeof value !== 'object') return false;
  const definition = value as Record<string, unknown>;
  return (
    definition.kind === 'entity' &&
    typeof definition.type === 'string' &&
    typeof definition.snapshotVersion === 'string' &&
    Number.isSafeInteger(definition.eventVersion) &&
    ['init', 'update', 'upcast'].every((method) => typeof definition[method] === 'function')
  );
}
