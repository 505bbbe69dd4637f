/**
 * The dashboard as a Node request listener: routes a request under `basePath` to a page, an asset,
 * a JSON route, the live stream or an action, after the checks each needs. Pages are static
 * shells; everything about entities comes from the JSON routes, and only with the token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { inspection } from '../runtime/inspection.js';
import type { System } from '../runtime/system.js';
import { DashboardActions } from './actions.js';
import { DashboardApi } from './api.js';
import { publicAssets, sendAsset } from './assets.js';
import { Auth } from './auth.js';
import { EventStreams } from './events-stream.js';
import { type DashboardOptions, resolveOptions } from './options.js';
import { DashboardError, readFields, redirect, securityHeaders, sendError, sendJson } from './responses.js';

/**
 * A Node request listener serving the dashboard under its `basePath`; with `next` (Express,
 * Connect) requests outside it go on to the next handler. `close()` ends the open live streams.
 */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Ends every open event stream and refuses new ones; the other routes keep answering. */
  close(): Promise<void>;
}

/** The header an action needs: a form on another site cannot send it, and a script there would need CORS. */
export const ACTION_HEADER = 'x-pachyderm-action';

/** Pages: the same static shell, which renders the page its path names. */
const pages = new Set(['/', '/dead-letters', '/projections', '/outbox']);

/** The largest login form or action body read. */
const BODY_LIMIT = 16 * 1024;

interface Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path under `basePath`: `''`, `/`, `/api/entity`, ... */
  readonly route: string;
  readonly params: URLSearchParams;
  readonly method: string;
}

/**
 * The dashboard of `system` as a request listener, to mount in a server of your own.
 *
 * @example
 * http.createServer(dashboardHandler(system, { token: process.env.DASHBOARD_TOKEN, basePath: '/ops' }));
 * app.use(dashboardHandler(system, { token, basePath: '/ops' })); // Express: the rest goes to next()
 */
export function dashboardHandler(system: System, options: DashboardOptions): DashboardHandler {
  const config = resolveOptions(options);
  const look = inspection(system);
  const auth = new Auth(config.token, config.basePath);
  const api = new DashboardApi(system, look, config.actions);
  const actions = new DashboardActions(system, look);
  const streams = new EventStreams(system);
  const base = config.basePath;

  const serve = async (request: Request): Promise<void> => {
    const { req, res, route, method } = request;
    if (route === '') return redirect(res, `${base}/`);
    if (route.startsWith('/api/')) {
      if (!auth.allows(req)) {
        throw new DashboardError(401, 'UNAUTHORIZED', 'A token is needed: Authorization: Bearer <token>, or log in');
      }
      return serveApi(request);
    }
    if (route.startsWith('/assets/')) {
      const name = route.slice('/assets/'.length);
      if (!publicAssets.includes(name)) throw notFound();
      allow(method, 'GET');
      return sendAsset(res, name);
    }
    if (route === '/login') {
      if (method === 'POST') return login(req, res);
      allow(method, 'GET');
      return sendAsset(res, 'login.html');
    }
    if (route === '/logout') {
      allow(method, 'POST');
      res.setHeader('Set-Cookie', auth.logoutCookie(req));
      return redirect(res, `${base}/login`);
    }
    if (pages.has(route)) {
      allow(method, 'GET');
      if (!auth.allows(req)) return redirect(res, `${base}/login`);
      return sendAsset(res, 'index.html');
    }
    throw notFound();
  };

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const fields = await readFields(req, BODY_LIMIT);
    if (!auth.isToken(Object.hasOwn(fields, 'token') ? fields.token : undefined)) {
      return redirect(res, `${base}/login?failed`);
    }
    res.setHeader('Set-Cookie', auth.loginCookie(req));
    redirect(res, `${base}/`);
  };

  const reads: Record<string, (request: Request) => Promise<unknown>> = {
    '/api/overview': () => api.overview(),
    '/api/entity': ({ params }) => api.entity(params),
    '/api/entity/at': ({ params }) => api.stateAt(params),
    '/api/entity/history': ({ params, res }) => api.history(params, closedSignal(res)),
    '/api/dead-letters': ({ params }) => api.deadLetters(params),
    '/api/projections': () => api.projections(),
  };
  const writes: Record<string, (fields: Record<string, unknown>) => Promise<unknown>> = {
    '/api/dead-letters/retry': (fields) => actions.retryDeadLetter(fields),
    '/api/projections/rebuild': (fields) => actions.rebuild(fields),
    '/api/projections/resume': (fields) => actions.resume(fields),
  };

  const serveApi = async (request: Request): Promise<void> => {
    const { req, res, route, params, method } = request;
    if (route === '/api/entity/stream') {
      allow(method, 'GET');
      return streams.serve(req, res, params);
    }
    const read = Object.hasOwn(reads, route) ? reads[route] : undefined;
    if (read) {
      allow(method, 'GET');
      return sendJson(res, 200, await read(request));
    }
    const write = Object.hasOwn(writes, route) ? writes[route] : undefined;
    if (!write) throw notFound();
    if (!config.actions) {
      throw new DashboardError(403, 'ACTIONS_DISABLED', 'Actions are off: start the dashboard with actions: true');
    }
    allow(method, 'POST');
    if (req.headers[ACTION_HEADER] !== 'confirm') {
      throw new DashboardError(403, 'ACTION_NOT_CONFIRMED', 'An action needs the header X-Pachyderm-Action: confirm');
    }
    sendJson(res, 200, await write(await readFields(req, BODY_LIMIT)));
  };

  const listener = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    // Express strips a mount path from req.url and keeps the whole path in originalUrl.
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path !== base && !path.startsWith(`${base}/`)) {
      if (next) {
        next();
        return;
      }
      securityHeaders(res);
      sendError(res, notFound());
      return;
    }
    securityHeaders(res);
    const request: Request = {
      req,
      res,
      route: path.slice(base.length),
      params: new URLSearchParams(query < 0 ? '' : url.slice(query + 1)),
      method: req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'),
    };
    serve(request).catch((error: unknown) => {
      try {
        sendError(res, error);
      } catch {
        // The answer cannot be written any more (the client went away): drop the connection.
        res.destroy();
      }
    });
  };
  return Object.assign(listener, { close: () => streams.close() });
}

/** Refuses a method other than `method` with 405 and the `Allow` header. */
function allow(given: string, method: 'GET' | 'POST'): void {
  if (given === method) return;
  throw new DashboardError(405, 'METHOD_NOT_ALLOWED', `Only ${method} is allowed here`, { Allow: method });
}

function notFound(): DashboardError {
  return new DashboardError(404, 'NOT_FOUND', 'No such page or route in the dashboard');
}

/** Aborts when the client goes away: a long read stops early. */
function closedSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  return controller.signal;
}
