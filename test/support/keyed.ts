/** An entity for idempotent calls: each `Add` records the key it was called with; `Peek` records nothing. */
import { defineEntity, error, ok } from 'pachyderm';

/** `handle` calls in this process, by message key. */
export const handled = new Map<string, number>();

export const Tally = defineEntity({
  type: 'Tally',
  init: () => ({ total: 0, keys: [] as string[] }),
  handle(message: { type: 'Add'; key: string; refuse?: boolean } | { type: 'Peek'; key: string }, state) {
    handled.set(message.key, (handled.get(message.key) ?? 0) + 1);
    if (message.type === 'Peek') return ok([]);
    if (message.refuse) return error({ code: 'refused', total: state.total });
    return ok([{ type: 'Added' as const, key: message.key }]);
  },
  update: (event, state) => ({ total: state.total + 1, keys: [...state.keys, event.key] }),
});
