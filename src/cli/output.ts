/**
 * Where the CLI writes: a command's result on stdout (text for people, or one JSON document with
 * `--json`), progress and errors on stderr. Writes resolve once handed to the OS, so an exit right
 * after loses nothing.
 */
import type { CliError } from './exit-codes.js';

/** What a command answers: the exact data for `--json`, and its text for people. */
export interface Result {
  readonly data: unknown;
  readonly text: string;
  /** Default 0. */
  readonly exitCode?: number;
}

/** Writes text to a stream; resolves once written. */
export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

/** The result as one JSON document (exact, nothing cut), or as its text. */
export function writeResult(result: Result, json: boolean): Promise<void> {
  const text = json ? JSON.stringify(result.data, null, 2) : result.text;
  return write(process.stdout, text.endsWith('\n') ? text : `${text}\n`);
}

/** `pachyderm: <message>` on stderr, one line; with `--json`, also `{ "error": { code, message } }` on stdout. */
export async function writeError(error: CliError, json: boolean): Promise<void> {
  await write(process.stderr, `pachyderm: ${oneLine(error.message)}\n`);
  if (json) await write(process.stdout, `${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
}

/** A line of progress for people, on stderr (stdout stays the result). */
export function progress(line: string): Promise<void> {
  return write(process.stderr, `${oneLine(line)}\n`);
}

/**
 * A message as one line: line breaks (an app's syntax error comes with a code frame) become
 * ` | `, other control characters are escaped, so a log line or a terminal shows it as it is.
 */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .join(' | ')
    .replace(
      /[\p{Cc}\u2028\u2029\p{Cf}]/gu,
      (ch) => `\\u${(ch.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
    );
}
