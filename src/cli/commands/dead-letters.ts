/**
 * `pachyderm dead-letters`: the outbox rows given up on, oldest first; `--retry ID` puts one back
 * for a fresh round of attempts (exit 1 when there is none with that id).
 */
import type { DeadLetter } from '../../runtime/system.js';
import { integerFlag } from '../args.js';
import type { Command } from '../command.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { withSystem } from '../systems.js';
import { cell, table } from '../table.js';

export const deadLetters: Command = {
  summary: 'the outbox rows given up on; --retry ID puts one back',
  positionals: [],
  flags: {
    retry: {
      type: 'string',
      value: 'id',
      help: 'put this dead letter back in the outbox for a fresh round of attempts',
    },
    limit: { type: 'string', value: 'count', help: 'list at most this many (default 1000)' },
  },
  async run({ flags, app }) {
    const retry = flags.retry;
    const limit = integerFlag(flags, 'limit', 1) ?? 1000;
    return withSystem(app.options, async (system) => {
      if (typeof retry === 'string') {
        if (!(await system.retryDeadLetter(retry))) {
          throw new CliError(
            ExitCode.Found,
            'NO_SUCH_DEAD_LETTER',
            `no dead letter has the id ${JSON.stringify(retry)}: pachyderm dead-letters --app ${app.given} lists them`,
          );
        }
        return {
          data: { retried: retry },
          text: `dead letter ${cell(retry)} is back in the outbox; the app's processes deliver it`,
        };
      }
      const letters = await system.deadLetters({ limit });
      const data = { deadLetters: letters };
      if (letters.length === 0) return { data, text: 'no dead letters' };
      return {
        data,
        text: `${letters.length} dead letter${letters.length === 1 ? '' : 's'}\n${lettersTable(letters)}`,
      };
    });
  },
};

function lettersTable(letters: readonly DeadLetter[]): string {
  return table(
    ['id', 'kind', 'effect/target', 'attempts', 'error', 'source', 'payload'],
    letters.map((letter) => [
      letter.id,
      letter.kind,
      letter.effect ?? (letter.target ? `${cell(letter.target.type)} ${cell(letter.target.id)}` : undefined),
      letter.attempts,
      letter.error,
      `${cell(letter.source.type)} ${cell(letter.source.id)} v${letter.source.version}`,
      letter.payload,
    ]),
  );
}
