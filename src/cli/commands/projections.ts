/**
 * `pachyderm projections`: every projection and reactor of the app, as its checkpoint stands in
 * the store; `--rebuild NAME` rebuilds one and shows its progress until it has caught up.
 */

import { isPachydermError, ProjectionFailedError } from '../../errors.js';
import type { ProjectionOption } from '../../read/read-side.js';
import { inspection } from '../../runtime/inspection.js';
import type { System } from '../../runtime/system.js';
import type { Command } from '../command.js';
import { duration } from '../durations.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { LoadedApp } from '../load-app.js';
import { progress } from '../output.js';
import { behind, LAG_CAP, stateOf } from '../projection-state.js';
import { withProgress } from '../rebuild-progress.js';
import { withSystem } from '../systems.js';
import { cell, table } from '../table.js';

/** How often a rebuild's progress is shown. */
const PROGRESS_MS = 250;

export const projections: Command = {
  summary: 'projections and reactors: state, position, head, lag; --rebuild NAME rebuilds one',
  positionals: [],
  flags: {
    rebuild: {
      type: 'string',
      value: 'name',
      help: 'rebuild this projection or reactor from the start (this process runs it unless another one does)',
    },
  },
  details:
    'Without --rebuild nothing is changed. With it, this process runs the app (without its cluster) until the rebuild has caught up: like any process of the app, it may deliver outbox rows meanwhile.',
  async run({ flags, app }) {
    const name = flags.rebuild;
    if (typeof name === 'string') return rebuild(app, name);
    return withSystem(app.options, async (system) => {
      const view = inspection(system);
      const all = await Promise.all(view.projectionNames().map((n) => view.stored(n, LAG_CAP)));
      const data = { projections: all.map((p) => ({ ...p, state: stateOf(p) })) };
      if (all.length === 0) return { data, text: 'the app registers no projections or reactors' };
      const rows = all.map((p) => [
        p.name,
        p.mode,
        stateOf(p),
        p.position || '(start)',
        p.head || '(none)',
        behind(p),
        p.lag.ms === 0 ? '0' : duration(p.lag.ms),
        p.failed ?? undefined,
      ]);
      return { data, text: table(['name', 'mode', 'state', 'position', 'head', 'behind', 'lag', 'lastError'], rows) };
    });
  },
};

/**
 * Rebuilds `name` in a running system of the app that runs only that one of its async projections
 * and reactors (its inline projections stay: commits of this process need them), then reports
 * where it is.
 */
async function rebuild(app: LoadedApp, name: string) {
  const { options } = app;
  const names = [
    ...(options.projections ?? []).map((p: ProjectionOption) => (p.kind === 'inline' ? p.projection.name : p.name)),
    ...(options.reactors ?? []).map((r) => r.name),
  ];
  if (!names.includes(name)) {
    throw new CliError(
      ExitCode.Unknown,
      'UNKNOWN_PROJECTION',
      `no projection or reactor is named ${JSON.stringify(name)}: the app has ${names.map((n) => JSON.stringify(n)).join(', ') || 'none'}`,
    );
  }
  const inline = (options.projections ?? []).some(
    (p: ProjectionOption) => p.kind === 'inline' && p.projection.name === name,
  );
  if (inline) {
    throw new CliError(
      ExitCode.Found,
      'INLINE_PROJECTION',
      `${name} is an inline projection: it is written with the events and has nothing to catch up; to rebuild it, register it without inline()`,
    );
  }
  const only = {
    ...options,
    projections: (options.projections ?? []).filter((p: ProjectionOption) => p.kind === 'inline' || p.name === name),
    reactors: (options.reactors ?? []).filter((r) => r.name === name),
  };
  return withSystem(only, (system) => rebuildIn(system, name, app), 'running');
}

async function rebuildIn(system: System, name: string, app: LoadedApp) {
  const view = inspection(system);
  const { head } = await view.stored(name, LAG_CAP);
  await progress(`${name}: rebuild requested`);
  const job = { app: app.path, name, intervalMs: PROGRESS_MS };
  try {
    await withProgress(job, async () => {
      await view.projection(name).rebuild();
      await caughtUp(system, name, head);
    });
  } catch (error) {
    if (!isPachydermError(error, 'PROJECTION_FAILED')) throw error;
    throw new CliError(
      ExitCode.Found,
      error.code,
      `${name} failed during its rebuild: ${error.message} (fix it, then rebuild again or resume it)`,
    );
  }
  const end = await view.stored(name, LAG_CAP);
  return {
    data: { rebuilt: name, position: end.position, head: end.head },
    text: `${name} rebuilt: at ${cell(end.position || '(start)')}, ${behind(end)} events behind the head`,
  };
}

/**
 * Resolves once the stored checkpoint has started again (no request left) and reached `head`.
 * `rebuild()` may answer as soon as another process started the rebuild, on this process's older
 * view of the checkpoint: the stored one says when it is done.
 */
async function caughtUp(system: System, name: string, head: string): Promise<void> {
  for (;;) {
    const now = await inspection(system).stored(name, 1);
    if (now.failed !== null) throw new ProjectionFailedError(name, `${name} stopped: ${now.failed}`);
    if (!now.rebuildRequested && now.position >= head) return;
    await new Promise((resolve) => setTimeout(resolve, PROGRESS_MS));
  }
}
