/** `pachyderm stats`: the outbox backlog that every process of the app shares. */
import { inspection } from '../../runtime/inspection.js';
import type { Command } from '../command.js';
import { duration } from '../durations.js';
import { withSystem } from '../systems.js';
import { fields } from '../table.js';

export const stats: Command = {
  summary: 'the outbox backlog: depth, in flight, retrying, dead letters, timers, oldest row',
  positionals: [],
  flags: {},
  async run({ app }) {
    return withSystem(app.options, async (system) => {
      const { depth, inFlight, retrying, deadLetters, pendingTimers, oldestDueAt } = await system.stats();
      // This process's own counters (delivered, conflicts, ...) are of the CLI, which delivers nothing: left out.
      const oldestAgeMs = oldestDueAt === null ? null : Math.max(0, inspection(system).now() - oldestDueAt);
      const data = {
        depth,
        inFlight,
        retrying,
        deadLetters,
        pendingTimers,
        oldestDueAt: oldestDueAt === null ? null : new Date(oldestDueAt).toISOString(),
        oldestAgeMs,
      };
      const text = fields([
        ['depth', depth],
        ['inFlight', inFlight],
        ['retrying', retrying],
        ['deadLetters', deadLetters],
        ['pendingTimers', pendingTimers],
        ['oldest row', oldestAgeMs === null ? 'none waiting' : `due ${duration(oldestAgeMs)} ago`],
      ]);
      return { data, text };
    });
  },
};
