/**
 * The dashboard's actions, the only routes that change anything: put a dead letter back, rebuild a
 * projection, resume a stopped one. The handler serves them only with `actions: true`, over POST,
 * with the token and the confirmation header (see handler.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Inspection } from '../runtime/inspection.js';
import type { System } from '../runtime/system.js';
import { DashboardError } from './responses.js';

/** How long a rebuild is waited for before answering that it goes on in the background. */
const REBUILD_WAIT_MS = 1000;

export class DashboardActions {
  constructor(
    private readonly system: System,
    private readonly look: Inspection,
  ) {}

  async retryDeadLetter(fields: Record<string, unknown>) {
    const id = requiredString(fields, 'id');
    if (!(await this.system.retryDeadLetter(id))) {
      throw new DashboardError(404, 'NOT_FOUND', 'There is no dead letter with this id');
    }
    return { retried: id };
  }

  /** Starts a rebuild; answers once it caught up, or after a second with `done: false` (status shows the rest). */
  async rebuild(fields: Record<string, unknown>) {
    const name = this.#projectionName(fields);
    const rebuilt = this.look.projection(name).rebuild();
    rebuilt.catch(() => {}); // past the wait, a failure shows in the projection's status
    const done = await Promise.race([rebuilt.then(() => true), delay(REBUILD_WAIT_MS, false, { ref: false })]);
    return { rebuilding: name, done };
  }

  async resume(fields: Record<string, unknown>) {
    const name = this.#projectionName(fields);
    await this.look.projection(name).resume();
    return { resumed: name };
  }

  #projectionName(fields: Record<string, unknown>): string {
    const name = requiredString(fields, 'name');
    if (!this.look.projectionNames().includes(name)) {
      throw new DashboardError(404, 'NOT_FOUND', 'There is no projection or reactor with this name');
    }
    return name;
  }
}

function requiredString(fields: Record<string, unknown>, name: string): string {
  const value = Object.hasOwn(fields, name) ? fields[name] : undefined;
  if (typeof value !== 'string' || value === '') {
    throw new DashboardError(400, 'BAD_REQUEST', `The request body needs a "${name}" string`);
  }
  return value;
}
