/**
 * The dashboard as a server of its own: `dashboard(system, options)` listens (on 127.0.0.1:7700 by
 * default) and `close()` ends its live streams and connections, so it never holds a process open.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { System } from '../runtime/system.js';
import { dashboardHandler } from './handler.js';
import { type DashboardServerOptions, resolveListen, resolveOptions } from './options.js';

/** A running dashboard server. */
export interface DashboardServer {
  /** Where to open it, e.g. `http://127.0.0.1:7700/` (with the base path, if any). */
  readonly url: string;
  /** The port it is bound to (the one picked when `port: 0`). */
  readonly port: number;
  readonly host: string;
  /** Ends the open live streams and connections, then stops listening. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves the dashboard of `system` over HTTP. Binds 127.0.0.1 unless given another `host`; a
 * missing or empty `token` is refused with `INVALID_CONFIGURATION`. Rejects with the listen error
 * (e.g. code `EADDRINUSE`) when the port cannot be bound.
 *
 * @example
 * const server = await dashboard(system, { token: process.env.DASHBOARD_TOKEN, port: 7700 });
 * console.log(`dashboard at ${server.url}`);
 */
export async function dashboard(system: System, options: DashboardServerOptions): Promise<DashboardServer> {
  const { basePath } = resolveOptions(options);
  const { host, port } = resolveListen(options);
  const handler = dashboardHandler(system, options);
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${bound}${basePath}/`,
    port: bound,
    host,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await handler.close();
        // A client's keep-alive connection would otherwise hold the server open.
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
