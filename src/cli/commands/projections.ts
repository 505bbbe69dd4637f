/**
 * `pachyderm projections`: every projection and reactor of the app, as its checkpoint stands in
 * the store; `--rebuild NAME` rebuilds one and shows its progress until it has caught up.
 */

import { isPachydermError } from '../../errors.js';
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
  await progress(`${name}: rebuild requested`);
  const job = { app: app.path, name, intervalMs: PROGRESS_MS };
  const rebuilt = withProgress(job, () => view.projection(name).rebuild());
  try {
    await rebuilt;
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
