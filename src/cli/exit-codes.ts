/**
 * The CLI's exit codes, which scripts rely on, and the one error type that carries them. Every
 * failure leaves the CLI as a `CliError`: a code for scripts, a stable name for `--json`, and a
 * message that says what to fix.
 */
import { isPachydermError, messageOf } from '../errors.js';

/** What `pachyderm` exits with (docs/operations.md#exit-codes has the same table). */
export const ExitCode = {
  /** The command did what it was asked. */
  Ok: 0,
  /** The command ran and found a problem (no such dead letter, a projection that failed its rebuild). */
  Found: 1,
  /** The command line is wrong: unknown command or flag, a missing argument, a bad number. */
  Usage: 2,
  /** The `--app` module cannot be loaded, exports no options, or createSystem refuses them. */
  App: 3,
  /** The app serves no such entity type (or projection), or the id is not a valid id. */
  Unknown: 4,
  /** The store cannot be reached. */
  StoreUnavailable: 5,
  /** Anything else: an error the CLI did not expect (its message says what failed). */
  Unexpected: 6,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI reports: `pachyderm: <message>` on stderr, `{ error: { code, message } }` with --json. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    /** A stable name for scripts: the system's error code when it came from one, else the CLI's own. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage error: the command line must change. */
export function usageError(message: string): CliError {
  return new CliError(ExitCode.Usage, 'USAGE', message);
}

/** Any thrown value as the CLI reports it, by the system's error codes (checked by `code`, as across copies). */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const message = messageOf(error);
  if (isPachydermError(error, 'UNKNOWN_ENTITY_TYPE') || isPachydermError(error, 'INVALID_ID')) {
    return new CliError(ExitCode.Unknown, error.code, message);
  }
  if (isPachydermError(error, 'STORE_UNAVAILABLE')) {
    return new CliError(ExitCode.StoreUnavailable, error.code, storeMessage(error));
  }
  if (isPachydermError(error)) return new CliError(ExitCode.Unexpected, error.code, message);
  return new CliError(ExitCode.Unexpected, 'UNEXPECTED', message);
}

/**
 * The store's message, with what to check. A driver's AggregateError (every address of a host
 * refused) has an empty message of its own: its errors' messages say what happened.
 */
function storeMessage(error: Error): string {
  const cause = error.cause;
  const parts = cause instanceof AggregateError ? cause.errors.map(messageOf) : [];
  const reason =
    parts.length > 0 && !error.message.includes(parts[0] as string)
      ? `${error.message}${parts.join('; ')}`
      : error.message;
  return `${reason} (check the store's address or file in the --app module, and that the database is running)`;
}
