/**
 * Text for people: values as cells, cells in aligned columns. A value is data, never markup: a
 * string shows as it is only when that cannot mislead (no control or invisible characters, no
 * surrounding space, not starting with a quote); anything else shows as JSON, with the characters
 * JSON leaves raw escaped too, so an id or a payload cannot move the cursor, recolour the terminal
 * or pass for another value.
 */

/** The widest a table cell gets before it is cut with `…` (`--json` never cuts). */
export const MAX_CELL_WIDTH = 60;

/** Characters JSON.stringify leaves raw that a terminal would act on or hide: C1 controls, format and separator characters, private and unassigned code points. */
const HIDDEN = /[\u007f-\u009f\u2028\u2029\p{Cf}\p{Co}\p{Cn}]/gu;
/** A string shown as it is: printable, no space at either end, not starting with a quote. */
const PLAIN = /^(?!["\s])[^\p{C}\u2028\u2029]+(?<!\s)$/u;

/**
 * A value as one line of text: a plain string as it is; numbers, booleans and dates as themselves;
 * anything else as escaped JSON. `undefined` (nothing there) is empty.
 *
 * @example
 * cell('a1') // a1
 * cell('a\nb') // "a\nb"
 * cell({ balance: 50 }) // {"balance":50}
 */
export function cell(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string' && PLAIN.test(value)) return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  return json(value);
}

/** JSON of a value (indented when `indent` is given) with every hidden character escaped. */
export function json(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent) ?? String(value);
  return text.replace(HIDDEN, (ch) =>
    Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** The text cut to `max` code points, its last one `…` when it was cut. */
export function truncate(text: string, max = MAX_CELL_WIDTH): string {
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * Rows under a header, in columns two spaces apart; each cell made by {@link cell} and cut to
 * `maxWidth`. Widths count code points (a wide character takes one).
 *
 * @example
 * table(['version', 'event'], [[1, { type: 'Deposited' }]])
 * // version  event
 * // 1        {"type":"Deposited"}
 */
export function table(
  headers: readonly string[],
  rows: readonly (readonly unknown[])[],
  { maxWidth = MAX_CELL_WIDTH }: { maxWidth?: number } = {},
): string {
  const cells = rows.map((row) => headers.map((_, i) => truncate(cell(row[i]), maxWidth)));
  const widths = headers.map((header, i) => Math.max(width(header), ...cells.map((row) => width(row[i] as string))));
  const line = (row: readonly string[]) =>
    row
      .map((text, i) => text + ' '.repeat((widths[i] as number) - width(text)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/**
 * Labelled values, one a line, labels padded to one width; values by {@link cell}, not cut.
 *
 * @example
 * fields([['version', 12], ['state', { balance: 50 }]])
 * // version  12
 * // state    {"balance":50}
 */
export function fields(pairs: readonly (readonly [string, unknown])[]): string {
  const labelWidth = Math.max(0, ...pairs.map(([label]) => width(label)));
  return pairs.map(([label, value]) => `${label.padEnd(labelWidth)}  ${cell(value)}`.trimEnd()).join('\n');
}

function width(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
