/**
 * `pachyderm dashboard --app <module> --port <port>`: its place in the command table, kept until
 * the dashboard arrives (this file is replaced then).
 */
import type { Command } from '../command.js';
import { CliError, ExitCode } from '../exit-codes.js';

export const dashboard: Command = {
  summary: 'a web dashboard of the app (not available yet)',
  positionals: [],
  flags: { port: { type: 'string', value: 'port', help: 'the port to listen on' } },
  unavailable: 'not available yet',
  run: async () => {
    throw new CliError(ExitCode.Usage, 'NOT_AVAILABLE', 'dashboard: not available yet');
  },
};
