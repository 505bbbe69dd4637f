/** Durations for people: `350 ms`, `12 s`, `4 min`, `3 h`, `2 d` (`--json` gives milliseconds). */

const UNITS = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
] as const;

/**
 * A duration in its largest whole unit, one decimal below ten.
 *
 * @example
 * duration(1_500) // '1.5 s'
 */
export function duration(ms: number): string {
  for (const [size, unit] of UNITS) {
    if (ms >= size) {
      const value = ms / size;
      return `${value < 10 ? Math.floor(value * 10) / 10 : Math.floor(value)} ${unit}`;
    }
  }
  return `${Math.max(0, Math.round(ms))} ms`;
}
