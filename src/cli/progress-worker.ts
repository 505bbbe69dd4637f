/**
 * Shows a rebuild's progress from a thread of its own. The rebuild runs in the CLI's main thread,
 * and on a synchronous driver (SQLite) a catching-up runner never yields to timers until it is
 * done: a poll there would print nothing until the end. This thread loads the app again, reads the
 * checkpoint through a tool's system every `intervalMs`, and writes each new line straight to
 * stderr (a worker's process.stderr goes through the busy main thread).
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { inspection } from '../runtime/inspection.js';
import { createToolSystem } from '../runtime/system.js';
import { loadApp } from './load-app.js';
import { oneLine } from './output.js';
import { LAG_CAP, progressLine } from './projection-state.js';

/** What the main thread passes. */
export interface ProgressJob {
  readonly app: string;
  readonly name: string;
  readonly intervalMs: number;
}

const { app, name, intervalMs } = workerData as ProgressJob;
let stopped = false;
let wake: () => void = () => {};
parentPort?.on('message', () => {
  stopped = true;
  wake();
});

const { options } = await loadApp(app);
const system = createToolSystem(options);
try {
  let last = '';
  while (!stopped) {
    const line = await inspection(system)
      .stored(name, LAG_CAP)
      .then(progressLine, () => last);
    if (line !== last && !stopped) writeSync(2, `${oneLine(line)}\n`);
    last = line;
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, intervalMs);
    });
  }
} finally {
  await system.close();
}
