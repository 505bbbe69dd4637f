/**
 * What a store rejects a commit with when an inline projection failed (see `CommitRequest.project`):
 * which append's statements failed, and why. The store has rolled the whole transaction back.
 */
export class InlineProjectionError extends Error {
  constructor(
    /** The index into the commit's appends. */
    readonly appendIndex: number,
    cause: unknown,
  ) {
    super(`An inline projection failed for append ${appendIndex}`, { cause });
    this.name = 'InlineProjectionError';
  }
}

/** Also true for one made by another copy of the package. */
export function isInlineProjectionError(value: unknown): value is InlineProjectionError {
  return (
    value instanceof Error &&
    value.name === 'InlineProjectionError' &&
    Number.isInteger((value as { appendIndex?: unknown }).appendIndex)
  );
}
