/**
 * `pachyderm inspect <type> <id>`: an entity's state and version, its last events and its rows in
 * the outbox; with `--at N`, the state as of version N and the events up to it.
 */

import { inspection, type OutboxEntry } from '../../runtime/inspection.js';
import type { RecordedEvent } from '../../runtime/system.js';
import { integerFlag } from '../args.js';
import type { Command } from '../command.js';
import { entityRef } from '../entity-ref.js';
import { withSystem } from '../systems.js';
import { cell, fields, json, table } from '../table.js';

/** Events shown with the state. */
const LAST_EVENTS = 10;

export const inspect: Command = {
  summary: 'the state, version, last events and outbox rows of one entity',
  positionals: ['type', 'id'],
  flags: { at: { type: 'string', value: 'version', help: 'the state as of this version, and the events up to it' } },
  async run({ positionals, flags, app }) {
    const [type, id] = positionals as [string, string];
    const at = integerFlag(flags, 'at', 0);
    return withSystem(app.options, async (system) => {
      const ref = entityRef(system, type, id);
      const { state, version } = await system.read(ref, at === undefined ? {} : { at });
      const upTo = at === undefined ? version : Math.min(at, version);
      const events: RecordedEvent<unknown>[] = [];
      if (upTo > 0) {
        for await (const recorded of system.events(ref, { from: Math.max(1, upTo - LAST_EVENTS + 1) })) {
          if (recorded.version > upTo) break;
          events.push(recorded);
        }
      }
      const outbox = await inspection(system).outboxOf(ref);
      const data = {
        ref: { type, id },
        version,
        ...(at === undefined ? {} : { at }),
        state,
        events: events.map(({ version, recordedAt, event }) => ({
          version,
          recordedAt: recordedAt.toISOString(),
          event,
        })),
        outbox: outbox.map(outboxJson),
      };
      return { data, text: text(data, events, outbox, at) };
    });
  },
};

/** An outbox row for scripts: times as ISO text, like the events'. */
function outboxJson(row: OutboxEntry) {
  return { ...row, dueAt: new Date(row.dueAt).toISOString() };
}

function text(
  data: { readonly ref: { type: string; id: string }; readonly version: number; readonly state: unknown },
  events: readonly RecordedEvent<unknown>[],
  outbox: readonly OutboxEntry[],
  at: number | undefined,
): string {
  const { ref, version, state } = data;
  // Past the end of the log, read({ at }) answers the latest state and where the log ends.
  const where =
    at !== undefined && at > version
      ? `version ${version} (asked for ${at}: the log ends at ${version})`
      : `version ${version}`;
  const first = events[0]?.version;
  const last = events.at(-1)?.version;
  const eventsTitle =
    events.length === 0 ? 'events: none' : `events ${first} to ${last}${last === version ? '' : ` (of ${version})`}`;
  return [
    fields([
      ['entity', `${cell(ref.type)} ${cell(ref.id)}`],
      ['at', where],
    ]),
    `state\n${json(state, 2)}`,
    events.length === 0
      ? eventsTitle
      : `${eventsTitle}\n${table(
          ['version', 'recordedAt', 'event'],
          events.map((e) => [e.version, e.recordedAt, e.event]),
        )}`,
    outbox.length === 0 ? 'outbox: no rows' : `outbox (${outbox.length} rows)\n${outboxTable(outbox)}`,
  ].join('\n\n');
}

function outboxTable(rows: readonly OutboxEntry[]): string {
  return table(
    ['id', 'kind', 'effect/target', 'status', 'key', 'dueAt', 'attempts', 'error', 'payload'],
    rows.map((row) => [
      row.id,
      row.timer ? 'timer' : row.kind,
      row.effect ?? (row.target ? `${cell(row.target.type)} ${cell(row.target.id)}` : undefined),
      row.status,
      row.timerKey,
      new Date(row.dueAt),
      row.attempts,
      row.error ?? undefined,
      row.payload,
    ]),
  );
}
