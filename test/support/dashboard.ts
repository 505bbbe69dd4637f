/**
 * What the dashboard tests look at: a journal entity that writes lines, sets a reminder timer and
 * asks for a mail through an at-least-once effect that fails during an outage (a dead letter); a
 * projection of its lines, one that stops at a poisoned line, and a reactor. Plus the hostile
 * strings that must come back as data and never run, and a small reader of server-sent events.
 */
import { randomBytes } from 'node:crypto';
import { defineEffect, defineEntity, defineProjection, defineReactor, ok, sendAfter, sql } from 'pachyderm';

/** Strings that break out of HTML, attributes, scripts, prototypes and SQL when mishandled. */
export const hostileStrings = [
  '</script><script>window.__pwned = 1; alert(1)</script>',
  `"'><img src=x onerror="window.__pwned = 1; alert(1)">`,
  '__proto__',
  "'; DROP TABLE x; --",
] as const;

/** An event value with an own `__proto__` key, as JSON may carry it. */
export const protoValue: unknown = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}');

/** The outside world of the test: the mail server's outage, what it got, and what the reactor saw. */
export interface World {
  outage: boolean;
  poisonFixed: boolean;
  readonly mails: string[];
  readonly watched: string[];
}

export function newWorld(): World {
  return { outage: false, poisonFixed: false, mails: [], watched: [] };
}

export const Mailer = defineEffect(
  'Mailer',
  async (payload: { to: string; text: string }, ctx) => {
    const world = ctx.context as World;
    if (world.outage) throw new Error(`mail server down for ${payload.to}`);
    world.mails.push(payload.text);
  },
  { delivery: 'at-least-once', retry: { maxAttempts: 1 } },
);

type JournalMessage =
  | { type: 'Write'; text: string; extra?: unknown }
  | { type: 'Remind'; text: string; minutes: number }
  | { type: 'Mail'; to: string; text: string };

export const Journal = defineEntity({
  type: 'Journal',
  init: () => ({ lines: [] as string[], reminders: 0 }),
  handle(message: JournalMessage, _state, entity) {
    if (message.type === 'Remind') {
      return ok(
        [{ type: 'ReminderSet' as const, text: message.text }],
        [sendAfter(entity.self, { type: 'Write', text: message.text }, message.minutes * 60_000, { key: 'reminder' })],
      );
    }
    if (message.type === 'Mail') {
      return ok(
        [{ type: 'Mailed' as const, text: message.text }],
        [Mailer.with({ to: message.to, text: message.text })],
      );
    }
    return ok([{ type: 'Written' as const, text: message.text, extra: message.extra ?? null }]);
  },
  update(event, state) {
    if (event.type === 'ReminderSet') return { ...state, reminders: state.reminders + 1 };
    return { ...state, lines: [...state.lines, event.text] };
  },
});

/** The journal's lines as rows: on a SQL store. */
export const JournalLines = defineProjection({
  name: 'journal_lines',
  entities: [Journal],
  setup: [
    sql`CREATE TABLE IF NOT EXISTS journal_lines (id TEXT NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL)`,
  ],
  reset: [sql`DELETE FROM journal_lines`],
  handle: (event, meta) => [
    sql`INSERT INTO journal_lines (id, version, text) VALUES (${meta.ref.id}, ${meta.version}, ${event.text})`,
  ],
});

/** A projection that stops at a line reading `poison` (until the world fixes it), so that it lags. */
export function fragileLines(world: World) {
  return defineProjection({
    name: 'fragile_lines',
    entities: [Journal],
    retry: { maxAttempts: 1 },
    handle(event) {
      if (event.text === 'poison' && !world.poisonFixed) throw new Error('cannot project a poisoned line');
      return [];
    },
  });
}

export const Watcher = defineReactor({
  name: 'journal_watcher',
  entities: [Journal],
  handle(event, _meta, ctx) {
    (ctx.context as World).watched.push(event.text);
  },
});

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The `data:` of each message of a server-sent event stream, as they arrive. */
export async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = message
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice('data: '.length));
      if (data.length > 0) yield JSON.parse(data.join('\n'));
    }
  }
}

/** A JSON answer of the dashboard, typed as far as the tests read it (their expectations check the rest). */
export interface Answer {
  readonly error: { readonly code: string; readonly message: string };
  readonly id: string;
  readonly version: number;
  readonly state: { readonly lines: readonly string[] };
  readonly outbox: readonly { readonly dueAt: number }[];
  readonly events: readonly {
    readonly version: number;
    readonly event: { readonly text: string; readonly extra: Record<string, unknown> };
    readonly state: unknown;
  }[];
  readonly stats: { readonly deadLetters: number };
  readonly entityTypes: readonly string[];
  readonly storeKind: string;
  readonly deadLetters: readonly unknown[];
  readonly members: readonly unknown[];
  readonly owner: unknown;
  readonly projections: readonly {
    readonly name: string;
    readonly position: string;
    readonly lag: { readonly events: number; readonly ms: number };
  }[];
}

export function answer(response: Response): Promise<Answer> {
  return response.json() as Promise<Answer>;
}
