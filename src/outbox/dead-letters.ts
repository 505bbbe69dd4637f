import { decodeJson } from '../core/json.js';
import type { OutboxRecord } from '../store/port/index.js';

/** An outbox row that will not be delivered again unless `system.retryDeadLetter(id)` puts it back. */
export interface DeadLetter {
  readonly id: string;
  /** `effect`: an at-least-once effect. `message`: a `send` or a timer. */
  readonly kind: 'effect' | 'message';
  /** The effect's name (`effect`). */
  readonly effect?: string;
  /** The entity the message was for (`message`). */
  readonly target?: { readonly type: string; readonly id: string };
  /** The effect's payload or the message. */
  readonly payload: unknown;
  /** Why it was given up: the last error, or the target's rejection. */
  readonly error: string;
  readonly attempts: number;
  /** The entity whose decision asked for it, and its version after that commit. */
  readonly source: { readonly type: string; readonly id: string; readonly version: number };
  readonly idempotencyKey: string;
}

export function toDeadLetter(row: OutboxRecord): DeadLetter {
  return {
    id: row.id,
    kind: row.kind,
    ...(row.kind === 'effect' ? { effect: row.name } : { target: { type: row.name, id: row.targetId ?? '' } }),
    payload: row.payload === null ? undefined : decodeJson(row.payload),
    error: row.lastError ?? '',
    attempts: row.attempts,
    source: { type: row.sourceType, id: row.sourceId, version: row.sourceVersion },
    idempotencyKey: row.idempotencyKey,
  };
}
