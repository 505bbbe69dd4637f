/**
 * The replay part of `checkReplay`: the whole logs of a batch of entities, read a page at a time
 * (several logs per read), folded from version 1 through the current definition (`eventOf`, then
 * `applyEvent`), each entity's state compared with its recorded snapshot on the way. Reads only.
 */
import { applyEvent, initialState } from '../core/decide.js';
import { eventOf, schemaFor } from '../core/upcast.js';
import type { EntityDefinition } from '../define/entity.js';
import { isPachydermError, messageOf } from '../errors.js';
import type { GuardedStore } from '../runtime/guarded-store.js';
import type { StoredEvent, StoredSnapshot } from '../store/port/index.js';
import { stateDifference } from './state-difference.js';

/** Events read per log and round trip. */
const EVENTS_PER_READ = 500;

/** One entity whose replay failed: it threw, or its state differs from its snapshot. */
export interface ReplayFailure {
  readonly ref: { readonly type: string; readonly id: string };
  readonly kind: 'threw' | 'state-differs';
  /** The version of the event that threw (0 when `init` threw), or of the snapshot compared. */
  readonly version: number;
  /** The error's code when it threw (UPCAST_THREW, UPDATE_THREW, EVENT_VERSION_AHEAD, INIT_THREW, ...). */
  readonly code?: string;
  readonly message: string;
  /** The eventVersion the event that threw was stored under. */
  readonly storedEventVersion?: number;
  /** state-differs: the snapshot's state and the replayed one. */
  readonly recorded?: unknown;
  readonly replayed?: unknown;
}

/** An entity to replay: its definition and id (the id names its log). */
export interface Chosen {
  readonly definition: EntityDefinition;
  readonly id: string;
}

/** What replays add up to. */
export interface Tally {
  entities: number;
  events: number;
  readonly failures: ReplayFailure[];
}

/** An entity's replay under way. */
interface Replay extends Chosen {
  state: unknown;
  version: number;
  /** The recorded state to compare with, until compared. */
  snapshot: StoredSnapshot | undefined;
  done: boolean;
}

/** Replays the whole log of each chosen entity, adding to `tally`. */
export async function replayLogs(store: GuardedStore, chosen: readonly Chosen[], tally: Tally): Promise<void> {
  const snapshots = await recordedSnapshots(store, chosen);
  const replays = chosen.map((entity, i) => {
    const replay: Replay = { ...entity, state: undefined, version: 0, snapshot: snapshots[i], done: false };
    try {
      replay.state = initialState(entity.definition);
    } catch (error) {
      threw(tally, replay, error);
    }
    return replay;
  });
  tally.entities += chosen.length;
  for (let open = replays.filter((r) => !r.done); open.length > 0; open = open.filter((r) => !r.done)) {
    const pages = await store.readStreams(
      open.map((r) => ({ streamId: r.id, fromVersion: r.version + 1 })),
      EVENTS_PER_READ,
    );
    open.forEach((replay, i) => {
      const page = pages[i] ?? [];
      for (const stored of page) {
        if (!fold(replay, stored, tally)) return;
      }
      if (page.length < EVENTS_PER_READ) {
        replay.done = true;
        // A snapshot past the end of the log records a state the log cannot give.
        if (replay.snapshot) compare(replay, tally);
      }
    });
  }
}

/**
 * Per entity, its recorded state: the snapshot written under the definition's `snapshotVersion` at
 * any eventVersion up to the current one, the one at the highest version when there are several.
 */
async function recordedSnapshots(
  store: GuardedStore,
  chosen: readonly Chosen[],
): Promise<(StoredSnapshot | undefined)[]> {
  const requests = chosen.flatMap(({ definition, id }) =>
    Array.from({ length: definition.eventVersion }, (_, i) => ({
      streamId: id,
      entityType: definition.type,
      schemaVersion: schemaFor(definition.snapshotVersion, i + 1),
    })),
  );
  const starts = await store.readLogs(requests, 0);
  let next = 0;
  return chosen.map(({ definition }) => {
    let latest: StoredSnapshot | undefined;
    for (let i = 0; i < definition.eventVersion; i++) {
      const snapshot = starts[next++]?.snapshot;
      if (snapshot && (!latest || snapshot.version > latest.version)) latest = snapshot;
    }
    return latest;
  });
}

/** Folds one stored event; false (the entity's replay over) when it threw. */
function fold(replay: Replay, stored: StoredEvent, tally: Tally): boolean {
  try {
    replay.state = applyEvent(replay.definition, replay.state, eventOf(replay.definition, stored, replay.id));
  } catch (error) {
    threw(tally, replay, error, stored);
    return false;
  }
  replay.version = stored.version;
  tally.events++;
  if (replay.snapshot?.version === replay.version) compare(replay, tally);
  return true;
}

function threw(tally: Tally, replay: Replay, error: unknown, stored?: StoredEvent): void {
  replay.done = true;
  tally.failures.push({
    ref: { type: replay.definition.type, id: replay.id },
    kind: 'threw',
    version: stored?.version ?? 0,
    ...(isPachydermError(error) ? { code: error.code } : {}),
    message: messageOf(error),
    ...(stored ? { storedEventVersion: stored.eventVersion } : {}),
  });
}

/** Compares the replayed state with the snapshot's, both as JSON gives them (key order aside). */
function compare(replay: Replay, tally: Tally): void {
  const snapshot = replay.snapshot as StoredSnapshot;
  replay.snapshot = undefined;
  const recorded = JSON.parse(snapshot.state) as unknown;
  const replayed = asJson(replay.state);
  const reached = replay.version === snapshot.version;
  const difference = reached ? stateDifference(recorded, replayed) : 'past the end of the log';
  if (difference === undefined) return;
  const schema = JSON.stringify(snapshot.schemaVersion);
  tally.failures.push({
    ref: { type: replay.definition.type, id: replay.id },
    kind: 'state-differs',
    version: snapshot.version,
    message: reached
      ? `the replayed state differs from the snapshot (schema ${schema}) ${difference}`
      : `the snapshot (schema ${schema}) is at version ${snapshot.version}, past the end of the log (version ${replay.version})`,
    recorded,
    replayed,
  });
}

/** The value as decoding its JSON gives it; as it is when JSON cannot carry it (so it differs). */
function asJson(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? value : JSON.parse(text);
  } catch {
    return value;
  }
}
