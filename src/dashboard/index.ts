/**
 * `pachyderm/dashboard`: a web dashboard for a running system, for operators. Find an entity and
 * see its state now and at any version, its history with the state after each event, its timers
 * and outbox rows, live; the dead letters, the projections and reactors with their lag, the outbox
 * backlog and the cluster. Every answer that carries data needs the token; the actions that change
 * something (retry a dead letter, rebuild or resume a projection) are off unless `actions: true`.
 *
 * @example
 * import { dashboard } from 'pachyderm/dashboard';
 * const server = await dashboard(system, { token: process.env.DASHBOARD_TOKEN });
 * // open server.url (http://127.0.0.1:7700/) and log in with the token
 * await server.close();
 */

export type { DashboardHandler } from './handler.js';
export { dashboardHandler } from './handler.js';
export type { DashboardOptions, DashboardServerOptions } from './options.js';
export type { DashboardServer } from './server.js';
export { dashboard } from './server.js';
