/**
 * The command line: which command, its positionals and flags, checked strictly (`node:util`
 * parseArgs: an unknown flag is a usage error), and the usage text built from the command table.
 */
import { parseArgs } from 'node:util';
import type { Command, Flag } from './command.js';
import { CliError, ExitCode, usageError } from './exit-codes.js';

/** Every command's flags. */
export const COMMON_FLAGS = {
  app: {
    type: 'string',
    value: 'module',
    help: 'the module that exports your createSystem options (.js, .mjs, .ts, ...)',
  },
  json: { type: 'boolean', help: 'print one JSON document on stdout (exact data, nothing cut)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<string, Flag>;

/** What the command line asks for. */
export type Invocation =
  | { readonly kind: 'help'; readonly text: string; readonly exitCode: 0 | 2 }
  | { readonly kind: 'version' }
  | {
      readonly kind: 'run';
      readonly name: string;
      readonly command: Command;
      readonly positionals: readonly string[];
      readonly flags: Readonly<Record<string, string | boolean | undefined>>;
      readonly json: boolean;
      readonly app: string;
    };

/** Parses `argv` (without node and the script) against the command table; usage errors throw. */
export function parseCommandLine(argv: readonly string[], commands: Readonly<Record<string, Command>>): Invocation {
  const [name, ...rest] = argv;
  if (name === undefined) return { kind: 'help', text: usage(commands), exitCode: 2 };
  if (name === '--help' || name === '-h' || name === 'help')
    return { kind: 'help', text: usage(commands), exitCode: 0 };
  if (name === '--version') return { kind: 'version' };
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const what = name.startsWith('-')
      ? `the command comes first, got ${JSON.stringify(name)}`
      : `unknown command ${JSON.stringify(name)}`;
    throw usageError(`${what}: one of ${Object.keys(commands).join(', ')} (pachyderm --help)`);
  }
  if (command.unavailable) throw new CliError(ExitCode.Usage, 'NOT_AVAILABLE', `${name}: ${command.unavailable}`);
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...COMMON_FLAGS, ...command.flags },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw usageError(`${name}: ${reason} (pachyderm ${name} --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help', text: commandUsage(name, command), exitCode: 0 };
  if (positionals.length !== command.positionals.length) {
    const wanted = command.positionals.map((p) => `<${p}>`).join(' ');
    const problem =
      positionals.length < command.positionals.length
        ? `${name} needs ${wanted || 'no arguments'}`
        : `${name} takes ${wanted || 'no arguments'}, got ${positionals.length}`;
    throw usageError(`${problem}: pachyderm ${synopsis(name, command)}`);
  }
  const app = values.app;
  if (typeof app !== 'string' || app === '') {
    throw usageError(
      `${name} needs --app <module>: the module that exports your createSystem options, e.g. --app ./src/app.ts`,
    );
  }
  return { kind: 'run', name, command, positionals, flags: values, json: values.json === true, app };
}

/**
 * A flag that must be a whole number of at least `min`; undefined when not given.
 *
 * @example
 * integerFlag({ at: '17' }, 'at', 0) // 17
 */
export function integerFlag(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  name: string,
  min: number,
): number | undefined {
  const given = flags[name];
  if (given === undefined) return undefined;
  const value = typeof given === 'string' && /^\d+$/.test(given) ? Number(given) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw usageError(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(given)}`);
  }
  return value;
}

/** The help of every command. */
export function usage(commands: Readonly<Record<string, Command>>): string {
  const lines = Object.entries(commands).flatMap(([name, command]) => [
    `  pachyderm ${synopsis(name, command)}`,
    `      ${command.summary}`,
  ]);
  return [
    'pachyderm: look at the entities, outbox and projections of a Pachyderm application; check that its logs replay',
    '',
    'Usage:',
    ...lines,
    '',
    'Every command takes:',
    ...flagLines(COMMON_FLAGS),
    '',
    'Exit codes: 0 ok, 1 a problem found, 2 usage, 3 the app module, 4 unknown type or bad id, 5 store unreachable, 6 unexpected.',
    'pachyderm <command> --help shows its flags.',
  ].join('\n');
}

function commandUsage(name: string, command: Command): string {
  return [
    `pachyderm ${synopsis(name, command)}`,
    '',
    command.summary,
    ...(command.details ? ['', command.details] : []),
    '',
    'Flags:',
    ...flagLines({ ...command.flags, ...COMMON_FLAGS }),
  ].join('\n');
}

function synopsis(name: string, command: Command): string {
  const flags = Object.entries(command.flags).map(([flag, spec]) =>
    spec.type === 'string' ? `[--${flag} ${spec.value ?? 'value'}]` : `[--${flag}]`,
  );
  return [name, ...command.positionals.map((p) => `<${p}>`), '--app <module>', ...flags, '[--json]'].join(' ');
}

function flagLines(flags: Readonly<Record<string, Flag>>): string[] {
  const shown = Object.entries(flags).map(([flag, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '';
    return [`${short}--${flag}${spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : ''}`, spec.help] as const;
  });
  const width = Math.max(...shown.map(([left]) => left.length));
  return shown.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`);
}
