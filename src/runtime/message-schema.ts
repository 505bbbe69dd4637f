/**
 * A message checked against its entity type's `messageSchema` where it enters the system
 * (`system.call`, a delivery from the outbox), before it is routed: an invalid message reaches no
 * worker and no peer, and `handle` gets the schema's output.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { assertJsonSafe } from '../core/json.js';
import { EntityCodeError, ErrorCode, InvalidMessageError, type MessageIssue, messageOf } from '../errors.js';

/** A message that passed its schema: the schema's output, what `handle` gets. */
export interface CheckedMessage {
  readonly message: unknown;
}

/** At most this many issues are spelled out in the error's message (all are in `issues`). */
const ISSUES_IN_MESSAGE = 10;

/**
 * The schema's output for `message`, at once when the schema answers at once, else a promise.
 *
 * @throws InvalidMessageError (`INVALID_MESSAGE`) when the message fails the schema; an
 *   `EntityCodeError` (`HANDLE_THREW`) when the schema itself throws; a `SerializationError` when its
 *   output is not JSON, as every message must be.
 */
export function checkMessage(
  type: string,
  schema: StandardSchemaV1,
  message: unknown,
): CheckedMessage | Promise<CheckedMessage> {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema['~standard'].validate(message);
  } catch (cause) {
    throw schemaThrew(type, cause);
  }
  if (!isThenable(result)) return outputOf(type, result);
  return Promise.resolve(result).then(
    (settled) => outputOf(type, settled),
    (cause: unknown) => {
      throw schemaThrew(type, cause);
    },
  );
}

function outputOf(type: string, result: StandardSchemaV1.Result<unknown>): CheckedMessage {
  if (result === null || typeof result !== 'object') {
    throw schemaThrew(type, new TypeError(`validate returned ${messageOf(result)}, not { value } or { issues }`));
  }
  if (result.issues) {
    const issues = Object.freeze(Array.isArray(result.issues) ? result.issues.map(issueOf) : []);
    throw new InvalidMessageError(describe(type, issues), issues);
  }
  const output = result.value;
  assertJsonSafe(output, `The message to ${type} (the output of its messageSchema)`);
  return { message: output };
}

/** An issue as plain data: a string message, and a path of keys (a segment object gives its `key`). */
function issueOf(issue: unknown): MessageIssue {
  const { message, path } = (issue !== null && typeof issue === 'object' ? issue : {}) as {
    message?: unknown;
    path?: unknown;
  };
  return Object.freeze({
    message: typeof message === 'string' ? message : messageOf(message),
    path: Object.freeze(Array.isArray(path) ? path.map(segmentOf) : []),
  });
}

function segmentOf(segment: unknown): string | number {
  const key = segment !== null && typeof segment === 'object' ? (segment as { key?: unknown }).key : segment;
  return typeof key === 'number' || typeof key === 'string' ? key : String(key);
}

/** `The message to Cart failed its messageSchema: items[0].quantity: Too small; itemId: Required` */
function describe(type: string, issues: readonly MessageIssue[]): string {
  const shown = issues.slice(0, ISSUES_IN_MESSAGE).map((issue) => {
    const where = pathText(issue.path);
    return where === '' ? issue.message : `${where}: ${issue.message}`;
  });
  if (issues.length > ISSUES_IN_MESSAGE) shown.push(`and ${issues.length - ISSUES_IN_MESSAGE} more`);
  return `The message to ${type} failed its messageSchema${shown.length > 0 ? `: ${shown.join('; ')}` : ''}`;
}

/** `items[0].quantity`; a key that is not a plain name is quoted: `["a key"]`. */
function pathText(path: readonly (string | number)[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(key)}]`;
  }
  return text;
}

function schemaThrew(type: string, cause: unknown): EntityCodeError {
  return new EntityCodeError(ErrorCode.HandleThrew, `${type}.messageSchema threw: ${messageOf(cause)}`, cause);
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
