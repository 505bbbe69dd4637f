/**
 * The shape of a CLI command: what its command line takes (for parsing and for `--help`) and what
 * it does. Each command is one file in commands/; main.ts holds the table of them.
 */
import type { LoadedApp } from './load-app.js';
import type { Result } from './output.js';

/** A flag of a command, as `node:util` parseArgs takes it, with a line of help. */
export interface Flag {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Shown in the help as `--name <value>` for a string flag. */
  readonly value?: string;
  readonly help: string;
}

/** What a command gets: its arguments, checked against its spec, and the app's options (when it takes `--app`). */
export interface CommandInput {
  /** The positionals, as many as the command names. */
  readonly positionals: readonly string[];
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly json: boolean;
  /** The `--app` module's createSystem options, loaded. */
  readonly app: LoadedApp;
}

export interface Command {
  /** One line for the list of commands. */
  readonly summary: string;
  /** The positionals it requires, by name, in order (`<type> <id>`). */
  readonly positionals: readonly string[];
  /** Its own flags; `--app`, `--json` and `--help` are every command's. */
  readonly flags: Readonly<Record<string, Flag>>;
  /** What it prints, for its `--help`. */
  readonly details?: string;
  /** A command listed before it is here: it answers this message with exit code 2. */
  readonly unavailable?: string;
  run(input: CommandInput): Promise<Result>;
}
