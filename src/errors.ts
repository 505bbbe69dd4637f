/**
 * Every fault Pachyderm reports is a `PachydermError` with a stable string `code`.
 * A domain rejection (`error(reason)` from `handle`) is not an exception: it is the
 * value `{ ok: false, error: reason }`.
 *
 * Check errors by `code` (or with {@link isPachydermError}) rather than `instanceof`,
 * so that two copies of the package still agree.
 */
export const ErrorCode = {
  InvalidId: 'INVALID_ID',
  InvalidConfiguration: 'INVALID_CONFIGURATION',
  UnknownEntityType: 'UNKNOWN_ENTITY_TYPE',
  UnknownEffect: 'UNKNOWN_EFFECT',
  NotSerializable: 'NOT_SERIALIZABLE',
  InitThrew: 'INIT_THREW',
  HandleThrew: 'HANDLE_THREW',
  HandleReturnedPromise: 'HANDLE_RETURNED_PROMISE',
  UpdateThrew: 'UPDATE_THREW',
  InvalidDecision: 'INVALID_DECISION',
  EffectsWithoutEvents: 'EFFECTS_WITHOUT_EVENTS',
  StoreUnavailable: 'STORE_UNAVAILABLE',
  ConflictRetriesExhausted: 'CONFLICT_RETRIES_EXHAUSTED',
  SystemClosed: 'SYSTEM_CLOSED',
  EffectFailed: 'EFFECT_FAILED',
  ProjectionFailed: 'PROJECTION_FAILED',
  SqlFailed: 'SQL_FAILED',
  OwnerUnreachable: 'OWNER_UNREACHABLE',
  UpcastThrew: 'UPCAST_THREW',
  EventVersionAhead: 'EVENT_VERSION_AHEAD',
  InvalidMessage: 'INVALID_MESSAGE',
  InvariantBroken: 'INVARIANT_BROKEN',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error Pachyderm throws or rejects with. */
export class PachydermError extends Error {
  readonly code: ErrorCode;
  /** True when trying the same operation again later may succeed. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** An entity id that is not a string of 1 to 255 UTF-8 bytes (or holds NUL or a lone surrogate). */
export class InvalidIdError extends PachydermError {
  constructor(message: string) {
    super(ErrorCode.InvalidId, message);
  }
}

/** `createSystem` or a definition was given options that cannot work. */
export class ConfigurationError extends PachydermError {
  constructor(message: string) {
    super(ErrorCode.InvalidConfiguration, message);
  }
}

/** An entity type or effect that the system was not given in `entities` / `effects`. */
export class NotRegisteredError extends PachydermError {
  constructor(code: typeof ErrorCode.UnknownEntityType | typeof ErrorCode.UnknownEffect, message: string) {
    super(code, message);
  }
}

/** A message, event, effect payload or state that JSON cannot carry faithfully. */
export class SerializationError extends PachydermError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.NotSerializable, message, { cause });
  }
}

/** User code of an entity definition failed: `init`, `handle` or `update` threw, or `handle` broke its contract. */
export class EntityCodeError extends PachydermError {
  constructor(
    code:
      | typeof ErrorCode.InitThrew
      | typeof ErrorCode.HandleThrew
      | typeof ErrorCode.HandleReturnedPromise
      | typeof ErrorCode.UpdateThrew
      | typeof ErrorCode.InvalidDecision
      | typeof ErrorCode.EffectsWithoutEvents,
    message: string,
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

/**
 * A stored event could not be brought to the definition's current `eventVersion`: its `upcast`
 * threw (`UPCAST_THREW`), or the event was stored under a newer `eventVersion` than the definition
 * knows (`EVENT_VERSION_AHEAD`: code older than the log reads it). Nothing is committed; the entity
 * serves its next message.
 */
export class UpcastError extends PachydermError {
  constructor(
    code: typeof ErrorCode.UpcastThrew | typeof ErrorCode.EventVersionAhead,
    /** The entity whose log holds the event. */
    readonly ref: { readonly type: string; readonly id: string },
    /** The event's version in the log. */
    readonly version: number,
    /** The `eventVersion` the event was stored under. */
    readonly storedEventVersion: number,
    /** The definition's `eventVersion`. */
    readonly eventVersion: number,
    message: string,
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

/** One problem a message schema found: what is wrong, and where in the message. */
export interface MessageIssue {
  readonly message: string;
  /** The keys from the message's root to the value at fault; empty for the message itself. */
  readonly path: readonly (string | number)[];
}

/**
 * A message failed its entity type's `messageSchema`: refused before `handle`, nothing committed.
 * `issues` says what is wrong and where.
 */
export class InvalidMessageError extends PachydermError {
  constructor(
    message: string,
    readonly issues: readonly MessageIssue[],
  ) {
    super(ErrorCode.InvalidMessage, message);
  }
}

/**
 * The store could not be reached, is not open, or could not complete an operation. Nothing was
 * committed by this call, unless the connection broke during the commit itself.
 */
export class StoreUnavailableError extends PachydermError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.StoreUnavailable, message, { cause, retryable: true });
  }
}

/** Other writers kept appending to the entity's log; the call gave up after the configured number of retries. */
export class ConflictRetriesExhaustedError extends PachydermError {
  constructor(message: string) {
    super(ErrorCode.ConflictRetriesExhausted, message, { retryable: true });
  }
}

/** The system was closed before the call was accepted. */
export class SystemClosedError extends PachydermError {
  constructor() {
    super(ErrorCode.SystemClosed, 'The system is closed and accepts no more calls');
  }
}

/** Which effect failed: what `onEffectError` receives besides the error. */
export interface FailedEffect {
  readonly effect: string;
  readonly payload: unknown;
  readonly ref: { readonly type: string; readonly id: string };
  readonly version: number;
  readonly idempotencyKey: string;
}

/** An effect handler threw or rejected. Reported to `onEffectError`; never fails the call. */
export class EffectFailedError extends PachydermError implements FailedEffect {
  readonly effect: string;
  readonly payload: unknown;
  readonly ref: { readonly type: string; readonly id: string };
  readonly version: number;
  readonly idempotencyKey: string;
  constructor(failed: FailedEffect, cause: unknown) {
    super(ErrorCode.EffectFailed, `Effect ${failed.effect} (${failed.idempotencyKey}) failed: ${messageOf(cause)}`, {
      cause,
    });
    this.effect = failed.effect;
    this.payload = failed.payload;
    this.ref = failed.ref;
    this.version = failed.version;
    this.idempotencyKey = failed.idempotencyKey;
  }
}

/**
 * A projection could not apply an event: an inline one's handler threw or its SQL failed (the call
 * whose events it was projecting fails and commits nothing), or an async one stopped at an event
 * (`waitFor` rejects with this).
 */
export class ProjectionFailedError extends PachydermError {
  constructor(
    /** The projection's name (several, comma-separated, when the failing one is not known). */
    readonly projection: string,
    message: string,
    cause?: unknown,
  ) {
    super(ErrorCode.ProjectionFailed, message, { cause });
  }
}

/** The database refused an application statement (`system.query`, a projection's SQL): a syntax error, a constraint. */
export class SqlFailedError extends PachydermError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.SqlFailed, message, { cause });
  }
}

/**
 * True for any Pachyderm error (optionally: with this code), also one thrown by another
 * copy of the package.
 *
 * @example
 * if (isPachydermError(e, 'STORE_UNAVAILABLE')) retryLater();
 */
export function isPachydermError(value: unknown, code?: ErrorCode): value is PachydermError {
  if (!(value instanceof Error)) return false;
  const actual = (value as { code?: unknown }).code;
  if (typeof actual !== 'string' || !Object.values(ErrorCode).includes(actual as ErrorCode)) return false;
  return code === undefined || actual === code;
}

/** The message of any thrown value, for error messages and logs. */
export function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A call forwarded to the entity's owner in the cluster got no answer (the connection broke, or
 * the owner did not answer in time). The call may or may not have committed: it is not retried
 * locally. Retrying it is safe where handling it twice is (see idempotent calls).
 */
export class OwnerUnreachableError extends PachydermError {
  /** The owner the call was sent to. */
  readonly owner: string;

  constructor(owner: string, message: string, cause?: unknown) {
    super(ErrorCode.OwnerUnreachable, message, { cause, retryable: true });
    this.owner = owner;
  }
}

/**
 * A simulation's invariant returned false or threw (pachyderm/testing `simulate`, `exhaust`): the
 * step after which it did, and what it threw as `cause`. In a simulation's result, its message is
 * the whole report: the schedule, and what the breaking step changed.
 */
export class InvariantBrokenError extends PachydermError {
  /** The step of the schedule after which the invariant failed (0: before any step). */
  readonly step: number;

  constructor(step: number, cause?: unknown, report?: string) {
    super(ErrorCode.InvariantBroken, report ?? InvariantBrokenError.summary(step, cause), { cause });
    this.step = step;
  }

  /** The one line that says what broke: `The invariant returned false (after step 4)`. */
  static summary(step: number, cause?: unknown): string {
    const why = cause === undefined ? 'returned false' : `threw: ${messageOf(cause)}`;
    return `The invariant ${why} (after step ${step})`;
  }
}
