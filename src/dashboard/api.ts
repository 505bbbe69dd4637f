/**
 * The JSON behind each page: what the dashboard reads of a system through its public API and the
 * package's internal inspection. Nothing here changes anything (see actions.ts).
 */
import { ConfigurationError } from '../errors.js';
import type { Inspection } from '../runtime/inspection.js';
import type { System } from '../runtime/system.js';
import { integerParam, refOf } from './query.js';

/** Events of a history page, by default and at most. */
const HISTORY_PAGE = 100;
const HISTORY_MAX = 1000;

export class DashboardApi {
  constructor(
    private readonly system: System,
    private readonly look: Inspection,
    private readonly actions: boolean,
  ) {}

  /** What every page needs: the types to pick from, whether actions are on, the backlog, the cluster. */
  async overview() {
    return {
      storeKind: this.look.storeKind,
      entityTypes: this.look.entityTypes(),
      actions: this.actions,
      stats: await this.system.stats(),
      members: this.system.cluster.members(),
      now: this.look.now(),
    };
  }

  /** One entity now: its state and version, its pending timers and outbox rows, its owner in a cluster. */
  async entity(params: URLSearchParams) {
    const ref = refOf(params);
    const { state, version } = await this.system.read(ref);
    const outbox = await this.look.outboxOf(ref);
    return {
      type: ref.type,
      id: ref.id,
      version,
      state,
      owner: this.system.cluster.ownerOf(ref) ?? null,
      outbox,
      now: this.look.now(),
    };
  }

  /** One entity as of `version` (time travel); past the end of its log, `version` says where it ends. */
  async stateAt(params: URLSearchParams) {
    const ref = refOf(params);
    const at = integerParam(params, 'version', Number.NaN);
    const { state, version } = await this.system.read(ref, { at });
    return { type: ref.type, id: ref.id, at, version, state };
  }

  /** A page of the entity's log from `from`, each event with the state right after it. */
  async history(params: URLSearchParams, signal: AbortSignal) {
    const ref = refOf(params);
    const from = integerParam(params, 'from', 1);
    const limit = integerParam(params, 'limit', HISTORY_PAGE);
    if (!(limit >= 1 && limit <= HISTORY_MAX)) {
      throw new ConfigurationError(`history: limit must be an integer from 1 to ${HISTORY_MAX}`);
    }
    const { version: latest } = await this.system.read(ref);
    // follow checks `from` and gives the state after each event; it goes on live, so stop at the
    // version the log had when asked.
    const feed = this.system.follow(ref, { from, signal });
    const events = [];
    if (from <= latest) {
      for await (const item of feed) {
        events.push(item);
        if (item.version >= latest || events.length >= limit) break;
      }
    }
    const last = events.at(-1)?.version ?? from - 1;
    return { type: ref.type, id: ref.id, from, latestVersion: latest, events, next: last < latest ? last + 1 : null };
  }

  /** Outbox rows given up on, oldest first, with why. */
  async deadLetters(params: URLSearchParams) {
    const limit = integerParam(params, 'limit', 200);
    if (!(limit >= 1 && limit <= 10_000)) throw new ConfigurationError('deadLetters: limit must be from 1 to 10000');
    return { deadLetters: await this.system.deadLetters({ limit }) };
  }

  /**
   * Every projection and reactor: its mode, state, position, head, last error and lag, from its
   * checkpoint as stored (right also when this process runs no read side, as the CLI's).
   */
  async projections() {
    const projections = await Promise.all(
      this.look.projectionNames().map(async (name) => {
        const { mode, kind, state, position, head, failed, lag } = await this.look.stored(name);
        return { name, mode, kind, state, position, head, lastError: failed, lag };
      }),
    );
    return { projections };
  }
}
