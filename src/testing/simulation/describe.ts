/** How a simulation's report shows refs, values, decisions and answers: short, one line each. */
import { isPachydermError, messageOf } from '../../errors.js';
import type { OutboxRecord, OutboxWrite, StreamAppend } from '../../store/port/index.js';

const MAX_JSON = 120;

/** A value as compact JSON, cut at a readable length. */
export function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_JSON ? `${text.slice(0, MAX_JSON - 1)}…` : text;
}

/** JSON text as stored (an event, a payload), shown compact. */
export function shownJson(text: string | null): string {
  if (text === null) return 'null';
  try {
    return shown(JSON.parse(text));
  } catch {
    return text;
  }
}

export function refText(type: string, id: string): string {
  return `${type}/${id}`;
}

/** What one append of a held commit decided: its events and the rows it writes. */
export function decisionText(append: StreamAppend): string {
  const parts = append.events.map(shownJson);
  for (const row of append.outbox ?? []) parts.push(writeText(row));
  for (const { key } of append.cancelTimers ?? []) parts.push(`cancel timer ${shown(key)}`);
  if (append.events.length === 0 && append.idempotency) parts.push('records the answer of a keyed call');
  return `${refText(append.entityType, append.streamId)} at v${append.expectedVersion}: ${parts.join(', ') || 'nothing'}`;
}

function writeText(row: OutboxWrite): string {
  const payload = shownJson(row.payload);
  if (row.kind === 'effect') return `effect ${row.name} ${payload}`;
  const target = refText(row.name, row.targetId ?? '');
  return row.timer ? `timer ${payload} → ${target} at t=${row.dueAt}` : `send ${payload} → ${target}`;
}

/**
 * How a step names an outbox row: by what it carries, not by its id or key, which depend on the
 * versions of earlier steps (so a shrunk schedule still finds the row).
 */
export function rowKeyOf(row: OutboxRecord): string {
  const what = row.kind === 'effect' ? `effect ${row.name}` : row.timer ? 'timer' : 'message';
  const target = row.kind === 'effect' ? '' : ` → ${refText(row.name, row.targetId ?? '')}`;
  return `${what} ${row.payload ?? 'null'} from ${refText(row.sourceType, row.sourceId)}${target}`;
}

/** An outbox row being delivered: its name, and the attempt after the first. */
export function rowText(row: OutboxRecord): string {
  return row.attempts > 1 ? `${rowKeyOf(row)} (attempt ${row.attempts})` : rowKeyOf(row);
}

/** What a call answered, or how it failed. */
export function answerText(answer: unknown): string {
  const result = answer as { ok?: boolean; version?: number; error?: unknown; duplicate?: boolean };
  if (result?.ok === true) return `ok at v${result.version}${result.duplicate ? ' (a repeat)' : ''}`;
  if (result?.ok === false) return `rejected ${shown(result.error)}`;
  return shown(answer);
}

export function failureText(error: unknown): string {
  return isPachydermError(error) ? `failed ${error.code}: ${error.message}` : `failed: ${messageOf(error)}`;
}
