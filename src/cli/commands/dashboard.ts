/**
 * `pachyderm dashboard --app <module> [--port 7700] [--host 127.0.0.1] [--actions]`: the web
 * dashboard on the app's store, served from this process until Ctrl-C. It runs on a tool's system
 * (nothing delivered, no projection run here); with `--actions`, a retry or a rebuild it is asked
 * for is done by the app's own processes. The token comes from `PACHYDERM_DASHBOARD_TOKEN`, or is
 * made for this run; the address printed logs in with it.
 */
import { randomBytes } from 'node:crypto';
import { dashboard as serveDashboard } from '../../dashboard/server.js';
import { inspection } from '../../runtime/inspection.js';
import { integerFlag } from '../args.js';
import type { Command } from '../command.js';
import { usageError } from '../exit-codes.js';
import { progress } from '../output.js';
import { withSystem } from '../systems.js';

/** Where an operator's token is read from, when set. */
export const TOKEN_VARIABLE = 'PACHYDERM_DASHBOARD_TOKEN';

export const dashboard: Command = {
  summary: 'a web dashboard of the app on this machine, until Ctrl-C',
  positionals: [],
  flags: {
    port: { type: 'string', value: 'port', help: 'the port to listen on (default 7700; 0 picks a free one)' },
    host: { type: 'string', value: 'host', help: 'the interface to bind (default 127.0.0.1: this machine only)' },
    actions: { type: 'boolean', help: 'offer retrying dead letters and rebuilding or resuming projections' },
  },
  details: `The token is ${TOKEN_VARIABLE} when set, else one made for this run; the address printed logs in with it.`,
  async run({ flags, app }) {
    const port = integerFlag(flags, 'port', 0) ?? 7700;
    if (port > 65_535) throw usageError(`--port must be at most 65535, got ${port}`);
    const host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
    const actions = flags.actions === true;
    const given = process.env[TOKEN_VARIABLE];
    const token = given && given.length > 0 ? given : randomBytes(18).toString('base64url');
    return withSystem(app.options, async (system) => {
      const server = await serveDashboard(system, { host, port, token, actions });
      const login = new URL('login', server.url);
      const store = inspection(system).storeKind;
      await progress(`pachyderm: the dashboard of ${app.path} (${store} store) is on ${server.url}`);
      await progress(
        given
          ? `pachyderm: log in with the token in ${TOKEN_VARIABLE}`
          : `pachyderm: open ${login.href}#token=${token}`,
      );
      await progress('pachyderm: Ctrl-C stops it');
      await stopped();
      await server.close();
      return { data: { url: server.url, stopped: true }, text: 'dashboard stopped' };
    });
  },
};

/** Resolves at SIGINT or SIGTERM. */
function stopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
