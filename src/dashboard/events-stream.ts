/**
 * Live updates of an open entity page: server-sent events fed by `system.follow`. Each stream's
 * follow ends when its client goes away, when the dashboard closes, and when the system closes, so
 * no follow outlives the page that asked for it.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPachydermError, messageOf } from '../errors.js';
import type { System } from '../runtime/system.js';
import { integerParam, refOf } from './query.js';
import { DashboardError, safeJson, securityHeaders } from './responses.js';

/** A comment line now and then, so that a proxy keeps the stream open and a dead client shows. */
const HEARTBEAT_MS = 15_000;

export class EventStreams {
  /** Each open stream's abort, and its end (once its follow stopped and the response ended). */
  readonly #open = new Map<AbortController, Promise<void>>();
  #closed = false;

  constructor(private readonly system: System) {}

  /** How many streams are open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Streams the entity's events from `from` (default: the next one), or after the browser's
   * `Last-Event-ID` when it reconnects. A bad ref or `from` is refused before the stream starts.
   */
  async serve(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    if (this.#closed) throw new DashboardError(503, 'DASHBOARD_CLOSED', 'The dashboard is closing');
    const ref = refOf(params);
    const { version } = await this.system.read(ref);
    const lastId = req.headers['last-event-id'];
    const from =
      typeof lastId === 'string' && /^\d{1,15}$/.test(lastId)
        ? Number(lastId) + 1
        : integerParam(params, 'from', version + 1);
    const controller = new AbortController();
    const feed = this.system.follow(ref, { from, signal: controller.signal });
    let ended = () => {};
    this.#open.set(
      controller,
      new Promise<void>((resolve) => {
        ended = resolve;
      }),
    );
    res.on('close', () => controller.abort());
    securityHeaders(res);
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    try {
      for await (const item of feed) {
        if (!res.write(`id: ${item.version}\ndata: ${safeJson(item)}\n\n`)) {
          await once(res, 'drain', { signal: controller.signal });
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        const code = isPachydermError(error) ? error.code : 'INTERNAL_ERROR';
        res.write(`event: failure\ndata: ${safeJson({ error: { code, message: messageOf(error) } })}\n\n`);
      }
    } finally {
      clearInterval(heartbeat);
      this.#open.delete(controller);
      res.end();
      ended();
    }
  }

  /** Ends every open stream and refuses new ones; resolves once they have ended. */
  async close(): Promise<void> {
    this.#closed = true;
    const ends = [...this.#open.values()];
    for (const controller of this.#open.keys()) controller.abort();
    await Promise.all(ends);
  }
}
