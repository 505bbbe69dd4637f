/**
 * `pachyderm events <type> <id>`: an entity's log from `--from` (default 1), the first `--limit`
 * events (default 100 in the table; every one with `--json`, unless `--limit` is given).
 */
import type { RecordedEvent } from '../../runtime/system.js';
import { integerFlag } from '../args.js';
import type { Command } from '../command.js';
import { entityRef } from '../entity-ref.js';
import { withSystem } from '../systems.js';
import { cell, table } from '../table.js';

/** Events in a table unless `--limit` says otherwise. */
const TABLE_LIMIT = 100;

export const events: Command = {
  summary: "one entity's events, from a version on",
  positionals: ['type', 'id'],
  flags: {
    from: { type: 'string', value: 'version', help: 'the first version to show (default 1)' },
    limit: { type: 'string', value: 'count', help: `at most this many (default ${TABLE_LIMIT}; with --json, all)` },
  },
  async run({ positionals, flags, json, app }) {
    const [type, id] = positionals as [string, string];
    const from = integerFlag(flags, 'from', 1) ?? 1;
    const limit = integerFlag(flags, 'limit', 1) ?? (json ? Number.POSITIVE_INFINITY : TABLE_LIMIT);
    return withSystem(app.options, async (system) => {
      const ref = entityRef(system, type, id);
      const found: RecordedEvent<unknown>[] = [];
      let more = false;
      for await (const recorded of system.events(ref, { from })) {
        if (found.length === limit) {
          more = true;
          break;
        }
        found.push(recorded);
      }
      const data = {
        ref: { type, id },
        from,
        events: found.map(({ version, recordedAt, event }) => ({
          version,
          recordedAt: recordedAt.toISOString(),
          event,
        })),
        more,
      };
      const title = `${cell(type)} ${cell(id)}: ${found.length === 0 ? `no events from version ${from}` : `events ${found[0]?.version} to ${found.at(-1)?.version}`}`;
      const rows = found.map((e) => [e.version, e.recordedAt, e.event]);
      const next = more
        ? `\nmore after version ${found.at(-1)?.version}: --from ${(found.at(-1)?.version ?? 0) + 1}`
        : '';
      return {
        data,
        text: found.length === 0 ? title : `${title}\n${table(['version', 'recordedAt', 'event'], rows)}${next}`,
      };
    });
  },
};
