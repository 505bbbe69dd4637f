/**
 * The memory store's ready index: its pending outbox rows that are not held, sorted by due time then
 * id, as the SQL stores' `outbox_ready` index keeps them. A claim reads it from the start, so its
 * cost follows the rows it takes and those in flight, not the rows waiting.
 */
interface Keyed {
  readonly id: string;
  readonly dueAt: number;
}

export class ReadyRows<R extends Keyed> {
  readonly #rows: R[] = [];

  add(row: R): void {
    this.#rows.splice(this.#search(row), 0, row);
  }

  /** Takes the row out; call before its due time changes. */
  remove(row: R): void {
    const at = this.#search(row);
    if (this.#rows[at] === row) this.#rows.splice(at, 1);
  }

  all(): readonly R[] {
    return this.#rows;
  }

  /** Rows due at `now`, by due time then id. */
  *due(now: number): IterableIterator<R> {
    for (const row of this.#rows) {
      if (row.dueAt > now) return;
      yield row;
    }
  }

  /** Where `row` is or would go. */
  #search(row: R): number {
    const id = Number(row.id);
    let low = 0;
    let high = this.#rows.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.#rows[middle] as R;
      if (other.dueAt < row.dueAt || (other.dueAt === row.dueAt && Number(other.id) < id)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
