/**
 * `pachyderm replay-check`: replays the stored logs through the app's current definitions, writing
 * nothing (`checkReplay` of pachyderm/testing, on the app's store object: no system is made). Exit 1
 * when any entity's replay throws or differs from its snapshot: a gate for CI, run against a copy of
 * production data before a change to the definitions ships.
 */
import { isPachydermError } from '../../errors.js';
import { checkReplay, type ReplayReport, replayOptions } from '../../testing/check-replay.js';
import { integerFlag } from '../args.js';
import type { Command } from '../command.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { withStore } from '../systems.js';
import { table } from '../table.js';

/** Cells are cut here, not at the usual width: a message says where and why, and its end matters. */
const MESSAGE_WIDTH = 160;

export const replayCheck: Command = {
  summary: 'replay every stored log through the current definitions, writing nothing; exit 1 when one fails',
  positionals: [],
  flags: {
    sample: {
      type: 'string',
      value: 'count',
      help: 'replay this many entities, chosen uniformly at random (default: every one)',
    },
  },
  details:
    "Every entity of the app's types is folded from version 1 through upcast and update, and compared with its latest snapshot of the same snapshotVersion; nothing is written. --json prints the report: ok, entities, events, failures (each threw, with its code, or state-differs).",
  async run({ flags, app }) {
    const sample = integerFlag(flags, 'sample', 1);
    const { store, entities } = app.options;
    const options = { store, entities, ...(sample === undefined ? {} : { sample }) };
    try {
      replayOptions(options);
    } catch (error) {
      if (!isPachydermError(error)) throw error;
      throw new CliError(ExitCode.App, error.code, `--app ${app.given}: ${error.message}`);
    }
    const report = await withStore(store, () => checkReplay(options));
    return { data: report, text: textOf(report), exitCode: report.ok ? ExitCode.Ok : ExitCode.Found };
  },
};

function textOf({ ok, entities, events, failures }: ReplayReport): string {
  const replayed = `${count(entities, 'entity', 'entities')} (${count(events, 'event', 'events')})`;
  if (ok) return `replayed ${replayed}: every log folds`;
  const failed = new Set(failures.map(({ ref }) => JSON.stringify([ref.type, ref.id]))).size;
  const rows = failures.map((f) => [f.ref.type, f.ref.id, f.kind, f.version, f.storedEventVersion, f.code, f.message]);
  return [
    `replayed ${replayed}: ${failed} failed`,
    table(['type', 'id', 'kind', 'version', 'stored eventVersion', 'code', 'message'], rows, {
      maxWidth: MESSAGE_WIDTH,
    }),
    '--json gives the whole messages, and the recorded and replayed states',
  ].join('\n');
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
