/**
 * The commit phases of traced calls: how long an append waited for its group commit to start
 * (`pachyderm.commit.wait`) and how long that commit took (`pachyderm.commit`), recorded on the
 * spans of the calls it answers. Untraced appends cost one flag check per group commit.
 */
import type { StreamAppend } from '../store/port/index.js';
import { Attribute, type CallTrace, SpanName } from './telemetry.js';

interface Times {
  started: number;
  appends: number;
}

export class CommitPhases {
  readonly #times = new WeakMap<StreamAppend, Times>();
  #traced = false;

  /** A group commit of these appends starts now. */
  starting(appends: readonly StreamAppend[]): void {
    if (!this.#traced) return;
    const started = performance.now();
    for (const append of appends) {
      const times = this.#times.get(append);
      if (times) Object.assign(times, { started, appends: appends.length });
    }
  }

  /** Commits `append` through `submit`; with `traces`, records its two phases on each of them. */
  async commit<T>(
    append: StreamAppend,
    traces: readonly CallTrace[],
    submit: (append: StreamAppend) => Promise<T>,
  ): Promise<T> {
    if (traces.length === 0) return submit(append);
    this.#traced = true;
    const submitted = performance.now();
    const times: Times = { started: submitted, appends: 1 };
    this.#times.set(append, times);
    try {
      return await submit(append);
    } finally {
      const ended = performance.now();
      for (const trace of traces) {
        trace.phase(SpanName.commitWait, submitted, times.started, {});
        trace.phase(SpanName.commit, times.started, ended, { [Attribute.commitSize]: times.appends });
      }
    }
  }
}
