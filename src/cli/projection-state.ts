/**
 * How a projection's stored checkpoint reads for people: its state, how far behind it is, and the
 * line a rebuild's progress shows.
 */
import type { StoredProgress } from '../runtime/inspection.js';
import { cell } from './table.js';

/** Events behind are counted up to this many (shown as `10000+`). */
export const LAG_CAP = 10_000;

/** The state a checkpoint shows (`p.state`, read from the store), in words for people. */
export function stateOf(p: StoredProgress): string {
  switch (p.state) {
    case 'failed':
      return 'failed';
    case 'stopped':
      return `version ${p.storedVersion} elsewhere`;
    case 'rebuilding':
      return p.rebuildRequested ? 'rebuild requested' : `rebuild due (version ${p.storedVersion} to ${p.version})`;
    default:
      if (p.mode === 'inline') return 'live';
      if (p.storedVersion === undefined) return 'not started';
      return p.position === p.head ? 'live' : 'behind';
  }
}

/** The events behind, `10000+` past the cap. */
export function behind(p: StoredProgress): string {
  return p.lag.events >= LAG_CAP ? `${LAG_CAP}+` : String(p.lag.events);
}

/** A line of a rebuild's progress. */
export function progressLine(p: StoredProgress): string {
  if (p.rebuildRequested) return `${p.name}: waiting for the process that runs it to start the rebuild`;
  return `${p.name}: rebuilding, at ${cell(p.position || '(start)')} of ${cell(p.head || '(none)')}, ${behind(p)} events behind`;
}
