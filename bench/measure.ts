/** Measuring for `npm run bench`: runs, medians with min and max, and formatting. */

export const RUNS = 5;

export interface Sample {
  callsPerSecond: number;
  p50: number;
  p99: number;
}
export type Stat = { median: number; min: number; max: number };
export type Measured = { rate: Stat; p50: Stat; p99: Stat };

export function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] as number,
    min: sorted[0] as number,
    max: sorted.at(-1) as number,
  };
}
export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const range = (s: Stat, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

/** Runs `total` operations with `concurrency` in flight; latency per operation. */
export async function drive(
  total: number,
  concurrency: number,
  operation: (i: number) => Promise<unknown>,
): Promise<Sample> {
  const latencies = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await operation(i);
        latencies[i] = performance.now() - t;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return {
    callsPerSecond: total / seconds,
    p50: latencies[Math.floor(total * 0.5)] as number,
    p99: latencies[Math.min(total - 1, Math.floor(total * 0.99))] as number,
  };
}

export async function repeat(label: string, once: () => Promise<Sample>): Promise<Measured> {
  const samples: Sample[] = [];
  for (let run = 0; run < RUNS; run++) {
    samples.push(await once());
    process.stdout.write(
      `\r  ${label}: run ${run + 1}/${RUNS}, ${fmt(samples.at(-1)?.callsPerSecond ?? 0)} calls/s   `,
    );
  }
  process.stdout.write('\n');
  return {
    rate: stat(samples.map((s) => s.callsPerSecond)),
    p50: stat(samples.map((s) => s.p50)),
    p99: stat(samples.map((s) => s.p99)),
  };
}
