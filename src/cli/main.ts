#!/usr/bin/env node
/**
 * `pachyderm`: the command line of a Pachyderm application. Parses the command line, loads the
 * `--app` module, runs the command, prints its result and exits with a code scripts can rely on
 * (exit-codes.ts).
 */
import { readFileSync } from 'node:fs';
import { parseCommandLine } from './args.js';
import type { Command } from './command.js';
import { dashboard } from './commands/dashboard.js';
import { deadLetters } from './commands/dead-letters.js';
import { events } from './commands/events.js';
import { inspect } from './commands/inspect.js';
import { projections } from './commands/projections.js';
import { replayCheck } from './commands/replay-check.js';
import { stats } from './commands/stats.js';
import { ExitCode, toCliError } from './exit-codes.js';
import { loadApp } from './load-app.js';
import { write, writeError, writeResult } from './output.js';

/** Every command, in the order `--help` lists them. */
const commands: Readonly<Record<string, Command>> = {
  inspect,
  events,
  'dead-letters': deadLetters,
  projections,
  stats,
  // The dashboard (another branch) replaces commands/dashboard.ts; until then it says it is not available.
  dashboard,
  'replay-check': replayCheck,
};

async function main(argv: readonly string[]): Promise<number> {
  // Before the command line is parsed, --json anywhere asks for errors as JSON too.
  let json = argv.includes('--json');
  try {
    const invocation = parseCommandLine(argv, commands);
    if (invocation.kind === 'help') {
      await write(invocation.exitCode === 0 ? process.stdout : process.stderr, `${invocation.text}\n`);
      return invocation.exitCode;
    }
    if (invocation.kind === 'version') {
      await write(process.stdout, `${version()}\n`);
      return ExitCode.Ok;
    }
    json = invocation.json;
    const app = await loadApp(invocation.app);
    const { positionals, flags } = invocation;
    const result = await invocation.command.run({ positionals, flags, json, app });
    await writeResult(result, json);
    return result.exitCode ?? ExitCode.Ok;
  } catch (error) {
    const failure = toCliError(error);
    await writeError(failure, json);
    return failure.exitCode;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// Exits once the result is written: a store that never opened may leave a socket waiting.
main(process.argv.slice(2)).then((code) => process.exit(code));
