/**
 * Runs the thread that shows a rebuild's progress (progress-worker.ts) while `work` runs, and
 * stops it after. Progress is a help, not the result: a thread that fails shows nothing more.
 */
import { Worker } from 'node:worker_threads';
import type { ProgressJob } from './progress-worker.js';

/** How long the thread has to close its system before it is terminated. */
const STOP_MS = 2_000;

/** `work`, with `job`'s progress on stderr meanwhile. */
export async function withProgress<T>(job: ProgressJob, work: () => Promise<T>): Promise<T> {
  const worker = new Worker(new URL('./progress-worker.js', import.meta.url), { workerData: job, stderr: false });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', () => {});
  try {
    return await work();
  } finally {
    worker.postMessage('stop');
    const timer = setTimeout(() => void worker.terminate(), STOP_MS);
    await exited;
    clearTimeout(timer);
  }
}
