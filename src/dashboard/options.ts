/**
 * The dashboard's options, checked once: a dashboard without a token would serve entity data to
 * anyone who can reach its port, so it refuses to start instead.
 */
import { ConfigurationError } from '../errors.js';

/** What `dashboardHandler(system, options)` takes. */
export interface DashboardOptions {
  /**
   * The secret an operator gives to see anything: `Authorization: Bearer <token>`, or once on the
   * login page. Required; a missing or empty token is `INVALID_CONFIGURATION`. (Typed optional so
   * that `process.env.DASHBOARD_TOKEN` can be passed as it is; the check is at run time.)
   */
  readonly token?: string | undefined;
  /** Where the dashboard lives in the server's paths, e.g. `/ops`. Default `/`. */
  readonly basePath?: string;
  /** Serve the actions that change something (retry a dead letter, rebuild or resume a projection). Default false. */
  readonly actions?: boolean;
}

/** What `dashboard(system, options)` takes: the handler's options, and where to listen. */
export interface DashboardServerOptions extends DashboardOptions {
  /** The interface to bind. Default `127.0.0.1`: only this machine, unless told otherwise. */
  readonly host?: string;
  /** The port to bind; `0` picks a free one (see `server.port`). Default 7700. */
  readonly port?: number;
}

export interface ResolvedOptions {
  readonly token: string;
  /** `''` for the root, else `/ops` (no trailing slash). */
  readonly basePath: string;
  readonly actions: boolean;
}

export function resolveOptions(options: DashboardOptions | undefined): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('dashboard: expects options { token, basePath?, actions? }');
  }
  const { token, basePath = '/', actions = false } = options;
  if (typeof token !== 'string' || token.length === 0) {
    throw new ConfigurationError('dashboard: a token is required (e.g. token: process.env.DASHBOARD_TOKEN)');
  }
  if (typeof actions !== 'boolean') throw new ConfigurationError('dashboard: actions must be true or false');
  if (typeof basePath !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(basePath) || basePath.includes('//')) {
    throw new ConfigurationError('dashboard: basePath must be a path such as /ops (letters, digits, . _ ~ - /)');
  }
  return { token, basePath: basePath.replace(/\/+$/, ''), actions };
}

export function resolveListen(options: DashboardServerOptions): { host: string; port: number } {
  const { host = '127.0.0.1', port = 7700 } = options;
  if (typeof host !== 'string' || host.length === 0) throw new ConfigurationError('dashboard: host must be a string');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigurationError('dashboard: port must be an integer from 0 to 65535');
  }
  return { host, port };
}
