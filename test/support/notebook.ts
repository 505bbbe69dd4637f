/**
 * The notebook of test/replay-equals-live.test.ts: a small document store whose events carry Dates,
 * `undefined`, nested values and unicode, and random commands for it. `notebook(2)` is the same
 * entity after an event changed shape (`Tagged` names its tags `added`), with an `upcast` from 1.
 */
import fc from 'fast-check';
import { type Decision, defineEntity, error, ok } from 'pachyderm';

/** `update` calls since the last reset: the events a load folded. */
let applied = 0;

/** The `update` calls since the last `resetApplied()`. */
export function appliedCount(): number {
  return applied;
}

export function resetApplied(): void {
  applied = 0;
}

/** In an event as `handle` returns it: a Date. In an event as `update` sees it: an ISO string. */
type Instant = Date | string;

export type Command =
  | { type: 'Add'; id: string; title: string; tags?: string[]; note?: string; at: number; extra: unknown }
  | { type: 'Rename'; id: string; title: string; at: number }
  | { type: 'SetField'; id: string; key: string; value?: unknown; at: number }
  | { type: 'Tag'; id: string; tags: string[] }
  | { type: 'Score'; id: string; delta: number }
  | { type: 'Touch'; ids: string[]; at: number }
  | { type: 'Remove'; id: string; reason?: string | null; at: number }
  | { type: 'Peek' };

type NotebookEvent =
  | {
      type: 'Added';
      id: string;
      title: string;
      tags: string[];
      note?: string;
      at: Instant;
      extra: unknown;
      meta: unknown;
    }
  | { type: 'Renamed'; id: string; from: string; to: string; at: Instant }
  | { type: 'FieldSet'; id: string; key: string; value?: unknown; at: Instant }
  | { type: 'Tagged'; id: string; tags: string[] }
  | { type: 'Scored'; id: string; delta: number }
  | { type: 'Touched'; id: string; at: Instant; seq: number }
  | { type: 'FieldsCleared'; id: string; keys: string[] }
  | { type: 'Removed'; id: string; reason?: string | null; at: Instant };

type Reason = { code: 'exists' | 'missing' | 'empty-title' | 'no-new-tags' | 'overflow'; id?: string };

interface Doc {
  readonly id: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly note?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly score: number;
  readonly extra: unknown;
  readonly meta: unknown;
  readonly renames: readonly { readonly from: string; readonly to: string; readonly at: string }[];
  readonly touches: number;
}

export interface NotebookState {
  readonly docs: readonly Doc[];
  readonly removed: readonly {
    readonly id: string;
    readonly title: string;
    readonly reason?: string | null;
    readonly fields: readonly string[];
    readonly at: string;
  }[];
  readonly applied: number;
  readonly lastAt: string | null;
}

/** `update` sees events as decoded from JSON: no Date, no `undefined`, no -0 anywhere. */
function assertDecoded(value: unknown, path = 'event'): void {
  if (value === undefined) throw new Error(`update saw undefined at ${path}`);
  if (value instanceof Date) throw new Error(`update saw a Date at ${path}`);
  if (Object.is(value, -0)) throw new Error(`update saw -0 at ${path}`);
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) assertDecoded(item, `${path}.${key}`);
  }
}

function iso(at: Instant): string {
  if (typeof at !== 'string') throw new Error('update saw an instant that is not a string');
  return at;
}

function handleNotebook(message: Command, state: NotebookState): Decision<NotebookEvent, Reason> {
  const find = (id: string) => state.docs.find((doc) => doc.id === id);
  switch (message.type) {
    case 'Peek':
      return ok([]);
    case 'Add': {
      if (message.title === '') return error({ code: 'empty-title' });
      if (find(message.id)) return error({ code: 'exists', id: message.id });
      const at = new Date(message.at);
      return ok([
        {
          type: 'Added',
          id: message.id,
          title: message.title,
          tags: message.tags ?? [],
          note: message.note,
          at,
          extra: message.extra,
          meta: {
            by: 'handle',
            nothing: undefined,
            when: [at, undefined, null],
            nested: { deeper: { at, tagCount: (message.tags ?? []).length, none: undefined } },
          },
        },
      ]);
    }
    case 'Rename': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      if (doc.title === message.title) return ok([]);
      return ok([{ type: 'Renamed', id: doc.id, from: doc.title, to: message.title, at: new Date(message.at) }]);
    }
    case 'SetField': {
      if (!find(message.id)) return error({ code: 'missing', id: message.id });
      return ok([
        { type: 'FieldSet', id: message.id, key: message.key, value: message.value, at: new Date(message.at) },
      ]);
    }
    case 'Tag': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      const fresh = [...new Set(message.tags)].filter((tag) => !doc.tags.includes(tag));
      if (fresh.length === 0) return error({ code: 'no-new-tags', id: doc.id });
      return ok([{ type: 'Tagged', id: doc.id, tags: fresh }]);
    }
    case 'Score': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      if (!Number.isFinite(doc.score + message.delta)) return error({ code: 'overflow', id: doc.id });
      return ok([{ type: 'Scored', id: doc.id, delta: message.delta }]);
    }
    case 'Touch': {
      // One event per existing id (duplicates included); none: accepted with no events.
      const at = new Date(message.at);
      const touched = message.ids.filter((id) => find(id));
      return ok(touched.map((id, seq) => ({ type: 'Touched' as const, id, at, seq })));
    }
    case 'Remove': {
      const doc = find(message.id);
      if (!doc) return error({ code: 'missing', id: message.id });
      return ok([
        { type: 'FieldsCleared', id: doc.id, keys: Object.keys(doc.fields) },
        { type: 'Removed', id: doc.id, reason: message.reason, at: new Date(message.at) },
      ]);
    }
  }
}

function updateNotebook(event: NotebookEvent, state: NotebookState): NotebookState {
  applied++;
  assertDecoded(event);
  const change = (id: string, f: (doc: Doc) => Doc) => {
    if (!state.docs.some((doc) => doc.id === id)) throw new Error(`no document ${JSON.stringify(id)}`);
    return state.docs.map((doc) => (doc.id === id ? f(doc) : doc));
  };
  const next = { applied: state.applied + 1 };
  switch (event.type) {
    case 'Added': {
      const at = iso(event.at);
      const doc: Doc = {
        id: event.id,
        title: event.title,
        tags: event.tags,
        note: event.note,
        createdAt: at,
        updatedAt: at,
        fields: {},
        score: 0,
        extra: event.extra,
        meta: event.meta,
        renames: [],
        touches: 0,
      };
      return { ...state, ...next, docs: [...state.docs, doc], lastAt: at };
    }
    case 'Renamed': {
      const at = iso(event.at);
      const docs = change(event.id, (doc) => ({
        ...doc,
        title: event.to,
        renames: [...doc.renames, { from: event.from, to: event.to, at }],
        updatedAt: at,
      }));
      return { ...state, ...next, docs, lastAt: at };
    }
    case 'FieldSet': {
      const at = iso(event.at);
      const docs = change(event.id, (doc) => {
        // An undefined value was dropped from the stored event: it clears the field.
        const { [event.key]: _old, ...rest } = doc.fields;
        const fields = 'value' in event ? { ...rest, [event.key]: event.value } : rest;
        return { ...doc, fields, updatedAt: at };
      });
      return { ...state, ...next, docs, lastAt: at };
    }
    case 'Tagged':
      return { ...state, ...next, docs: change(event.id, (doc) => ({ ...doc, tags: [...doc.tags, ...event.tags] })) };
    case 'Scored':
      return { ...state, ...next, docs: change(event.id, (doc) => ({ ...doc, score: doc.score + event.delta })) };
    case 'Touched': {
      const at = iso(event.at);
      const docs = change(event.id, (doc) => ({ ...doc, touches: doc.touches + 1, updatedAt: at }));
      return { ...state, ...next, docs, lastAt: at };
    }
    case 'FieldsCleared':
      return { ...state, ...next, docs: change(event.id, (doc) => ({ ...doc, fields: {} })) };
    case 'Removed': {
      const at = iso(event.at);
      const doc = state.docs.find((d) => d.id === event.id);
      if (!doc) throw new Error(`no document ${JSON.stringify(event.id)}`);
      if (Object.keys(doc.fields).length > 0) throw new Error('fields were not cleared first');
      return {
        ...state,
        ...next,
        docs: state.docs.filter((d) => d.id !== event.id),
        removed: [
          ...state.removed,
          { id: doc.id, title: doc.title, reason: event.reason, fields: Object.keys(doc.fields), at },
        ],
        lastAt: at,
      };
    }
  }
}

/** A small document store whose events carry Dates, `undefined`, nested values and unicode. */
export const Notebook = defineEntity<'Notebook', NotebookState, Command, Decision<NotebookEvent, Reason>>({
  type: 'Notebook',
  init: () => ({ docs: [], removed: [], applied: 0, lastAt: null }),
  handle: handleNotebook,
  update: updateNotebook,
});

// Arbitraries.

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(
    '',
    'é',
    'e\u0301',
    '🐘',
    '👩‍👩‍👧',
    '中文',
    'ß',
    '\u0000',
    '\ud800',
    'a\udfffb',
    '\u2028\u2029',
    '"\\/',
    '__proto__',
    'constructor',
  ),
);
const finite = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 0.1, 1e21, 1e-7, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2),
);
/** Milliseconds any Date can hold. */
const instant = fc.integer({ min: -8.64e15, max: 8.64e15 });
const leaf = fc.oneof(
  text,
  finite,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: true }),
);
const { value } = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
}));
/** Few document ids, so that commands meet each other's documents. */
const docId = fc.constantFrom('a', 'b', 'ü', '🐘', '');
const key = fc.oneof(fc.constantFrom('a', 'b', 'ключ', '🔑', '', '__proto__'), text);

export const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record(
      {
        type: fc.constant('Add' as const),
        id: docId,
        title: text,
        tags: fc.array(text, { maxLength: 3 }),
        note: fc.option(text, { nil: undefined }),
        at: instant,
        extra: value,
      },
      { requiredKeys: ['type', 'id', 'title', 'at', 'extra'] },
    ),
    weight: 4,
  },
  { arbitrary: fc.record({ type: fc.constant('Rename' as const), id: docId, title: text, at: instant }), weight: 2 },
  {
    arbitrary: fc.record(
      { type: fc.constant('SetField' as const), id: docId, key, value, at: instant },
      { requiredKeys: ['type', 'id', 'key', 'at'] },
    ),
    weight: 3,
  },
  {
    arbitrary: fc.record({ type: fc.constant('Tag' as const), id: docId, tags: fc.array(text, { maxLength: 3 }) }),
    weight: 1,
  },
  { arbitrary: fc.record({ type: fc.constant('Score' as const), id: docId, delta: finite }), weight: 1 },
  {
    arbitrary: fc.record({
      type: fc.constant('Touch' as const),
      ids: fc.array(docId, { maxLength: 5 }),
      at: instant,
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record(
      {
        type: fc.constant('Remove' as const),
        id: docId,
        reason: fc.option(fc.option(text, { nil: null }), { nil: undefined }),
        at: instant,
      },
      { requiredKeys: ['type', 'id', 'at'] },
    ),
    weight: 1,
  },
  { arbitrary: fc.constant({ type: 'Peek' as const }), weight: 1 },
);
/** A `Tagged` event after the change: the tags it adds are named `added`. */
type TaggedV2 = { type: 'Tagged'; id: string; added: string[] };
type NotebookEventV2 = Exclude<NotebookEvent, { type: 'Tagged' }> | TaggedV2;

/**
 * The notebook at an eventVersion: 1 is `Notebook`; 2 writes `Tagged` events with `added` instead
 * of `tags`, folds only that shape (an older one reaching `update` throws), and upcasts older ones.
 */
export function notebook(eventVersion: 1 | 2) {
  if (eventVersion === 1) return Notebook;
  return defineEntity<'Notebook', NotebookState, Command, Decision<NotebookEventV2, Reason>>({
    type: 'Notebook',
    eventVersion: 2,
    upcast(event, storedVersion) {
      if (storedVersion !== 1) throw new Error(`no upcast from eventVersion ${storedVersion}`);
      if (event.type !== 'Tagged') return event;
      const { tags, ...rest } = event as Extract<NotebookEvent, { type: 'Tagged' }>;
      return { ...rest, added: tags };
    },
    init: () => ({ docs: [], removed: [], applied: 0, lastAt: null }),
    handle(message, state) {
      const decision = handleNotebook(message, state);
      if (!decision.ok) return decision;
      const events = decision.events.map((event) => {
        if (event.type !== 'Tagged') return event;
        const { tags, ...rest } = event;
        return { ...rest, added: tags };
      });
      return ok(events, decision.effects);
    },
    update(event, state) {
      if (event.type !== 'Tagged') return updateNotebook(event, state);
      if (!Array.isArray(event.added) || 'tags' in event) throw new Error('update saw a Tagged event of version 1');
      const { added, ...rest } = event;
      return updateNotebook({ ...rest, tags: added }, state);
    },
  });
}
