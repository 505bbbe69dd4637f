/**
 * Hints of appends on PostgreSQL: `commit_batch` notifies a channel of the schema with the logs it
 * wrote and their new versions (NOTIFY is delivered only when the transaction commits), and a
 * watch LISTENs on a connection of its own. Reconnects after the connection drops; while it is
 * down, the watcher hears `live(false)` and treats every loaded copy as possibly stale.
 */
import pg from 'pg';
import { hash32 } from '../../core/partitions.js';
import type { AppendHint, AppendHints, AppendWatch } from '../port/index.js';

/** The channel of a schema (given quoted, as the SQL has it): a short name, whatever the schema. */
export function appendsChannel(quotedSchema: string): string {
  return `pachyderm_appends_${hash32(quotedSchema).toString(16)}`;
}

/** Waits this long before connecting again after the listening connection failed or dropped. */
const RECONNECT_MS = 1000;

/** LISTENs on `channel` with connections made from `config`, until closed. */
export function watchAppends(config: pg.ClientConfig, channel: string, hints: AppendHints): AppendWatch {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    retry = undefined;
    const next = new pg.Client(config);
    client = next;
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      hints.live(false);
      next.removeAllListeners('notification');
      void next.end().catch(() => {});
      if (!closed) retry = setTimeout(connect, RECONNECT_MS).unref();
    };
    next.on('error', drop);
    next.on('end', drop);
    next.on('notification', (message) => {
      const parsed = parseHints(message.payload);
      if (parsed.length > 0) hints.appended(parsed);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
      if (closed || dropped) return;
      hints.live(true);
    } catch {
      drop();
    }
  };
  hints.live(false);
  void connect();

  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const last = client;
      client = undefined;
      if (last) {
        last.removeAllListeners();
        last.on('error', () => {});
        await last.end().catch(() => {});
      }
    },
  };
}

/** `[[id, version], ...]` from a notification; anything else is no hint. */
export function parseHints(payload: string | undefined): AppendHint[] {
  if (payload === undefined) return [];
  let pairs: unknown;
  try {
    pairs = JSON.parse(payload);
  } catch {
    return [];
  }
  if (!Array.isArray(pairs)) return [];
  const hints: AppendHint[] = [];
  for (const pair of pairs) {
    if (Array.isArray(pair) && typeof pair[0] === 'string' && Number.isInteger(pair[1])) {
      hints.push({ streamId: pair[0], version: pair[1] });
    }
  }
  return hints;
}
