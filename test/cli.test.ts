/**
 * The `pachyderm` CLI, run as a user runs it: the package's bin (`node dist/cli/main.js`, after
 * `npm run build`) as a child process in a directory of its own, against real SQLite files and a
 * real PostgreSQL database, with apps in TypeScript (loaded by tsx) and in plain JavaScript. Every
 * command as a table and as `--json`, every exit code, hostile ids and values printed as data, and
 * that looking at a store changes nothing in it: only `--retry` and `--rebuild` write.
 *
 * The apps live under test-output/cli/ inside the repo, so `import 'pachyderm'` resolves to the
 * package itself (its dist/, by the package's own name) as it resolves to node_modules/pachyderm
 * in a user's project; each folder has a tsconfig.json of its own, so tsx does not take the repo's
 * paths to src/. The test seeds the same files through Vitest, which maps 'pachyderm' to src/.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSystem, type EntityDefinition, type ProjectionDefinition, type System } from 'pachyderm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspection } from '../src/runtime/inspection.js';
import type { SystemOptions } from '../src/runtime/options.js';
import { createToolSystem } from '../src/runtime/system.js';
import { createTestDatabase } from './support/postgres.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/main.js');
const work = join(root, 'test-output/cli', randomBytes(4).toString('hex'));

/** An id and a note that try to be markup: SQL, terminal escapes, a line break, a bidi override. */
const HOSTILE_ID = `a"1'; DROP TABLE pachyderm_events; --\u001b[2J\u001b[31m\n\u202eevil`;
const HOSTILE_NOTE = '\u001b]0;pwned\u0007 line one\nline two \u2028 \u0085 end';
/** Characters a terminal would act on or hide; a table line never holds one (line breaks split lines). */
const RAW_CONTROL = /(?!\n)[\p{Cc}\u2028\u2029\u202e]/u;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs the CLI; never rejects (the exit code is part of the answer). */
function cli(args: readonly string[], { cwd = work, env = {} }: { cwd?: string; env?: Record<string, string> } = {}) {
  const started = performance.now();
  return new Promise<Run>((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/** Runs every command, a few at a time (the machine has two cores), keyed as given. */
async function cliAll<K extends string>(
  runs: Record<K, readonly string[] | { args: readonly string[]; env?: Record<string, string> }>,
): Promise<Record<K, Run>> {
  const entries = Object.entries(runs) as [
    K,
    readonly string[] | { args: readonly string[]; env?: Record<string, string> },
  ][];
  const results = {} as Record<K, Run>;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const [key, given] = entries[i] as (typeof entries)[number];
      results[key] = 'args' in given ? await cli(given.args, { env: given.env ?? {} }) : await cli(given);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return results;
}

const json = (run: Run) => JSON.parse(run.stdout);

/** The bank app: accounts, an effect that works and one that fails, timers and an async projection. */
function bankApp(storeImport: string, store: string, exported: 'object' | 'async function'): string {
  const options = `{
  store: ${store},
  entities: [Account],
  effects: [Receipt, Broken],
  projections: [Balances],
  logger: silentLogger,
}`;
  return `import { defineEffect, defineEntity, defineProjection, ok, sendAfter, silentLogger, sql } from 'pachyderm';
${storeImport}

type Message = { type: 'Deposit'; amount: number; note?: string } | { type: 'Remind' } | { type: 'Break' };

export const Receipt = defineEffect('Receipt', async (_payload: { balance: number }) => {}, { delivery: 'at-least-once' });
export const Broken = defineEffect(
  'Broken',
  async (_payload: { reason: string }) => {
    throw new Error('the mail server refused');
  },
  { delivery: 'at-least-once', retry: { maxAttempts: 1 } },
);

export const Account = defineEntity({
  type: 'Account',
  init: () => ({ balance: 0 }),
  handle(message: Message, state, entity) {
    if (message.type === 'Remind') {
      return ok(
        [{ type: 'Reminded' as const, amount: 0, note: '' }],
        [sendAfter(entity.self, { type: 'Deposit', amount: 1 }, 3_600_000, { key: 'monthly' }), Receipt.with({ balance: state.balance })],
      );
    }
    if (message.type === 'Break') return ok([{ type: 'Broke' as const, amount: 0, note: '' }], [Broken.with({ reason: 'test' })]);
    return ok([{ type: 'Deposited' as const, amount: message.amount, note: message.note ?? '' }]);
  },
  update: (event, state) => ({ balance: state.balance + event.amount }),
});

// With SLOW_PROJECTION=1 each event takes a millisecond, so a rebuild lasts long enough to show progress.
const slow = process.env.SLOW_PROJECTION === '1';

export const Balances = defineProjection({
  name: 'Balances',
  entities: [Account],
  setup: [sql\`CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)\`],
  reset: [sql\`DELETE FROM balances\`],
  handle(event, meta) {
    for (const until = performance.now() + (slow ? 1 : 0); performance.now() < until; );
    return [
      sql\`INSERT INTO balances (id, balance) VALUES (\${meta.ref.id}, \${event.amount})
           ON CONFLICT (id) DO UPDATE SET balance = balances.balance + excluded.balance\`,
    ];
  },
});

${exported === 'object' ? `export default ${options};` : `export default async function options() {\n  return ${options};\n}`}
`;
}

const sqliteImport = `import { fileURLToPath } from 'node:url';
import { sqliteStore } from 'pachyderm/sqlite';`;
const sqliteAt = `sqliteStore({ filename: fileURLToPath(new URL('./bank.db', import.meta.url)) })`;

interface Bank {
  readonly options: SystemOptions;
  readonly Account: EntityDefinition<'Account', { balance: number }>;
  readonly Balances: ProjectionDefinition;
}

/** Writes an app folder (the app and a tsconfig.json of its own) and imports the app here, for seeding. */
async function writeApp(folder: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, folder);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  );
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function bank(file: string): Promise<Bank> {
  const module = await import(file);
  const options = typeof module.default === 'function' ? await module.default() : module.default;
  return { options, Account: module.Account, Balances: module.Balances };
}

/**
 * a1: 20 deposits (balance 210 at version 20, 153 at 17), a failing effect (a dead letter once
 * delivered), then a reminder through a tool's system, which delivers nothing: a pending timer and
 * a pending effect. Also the hostile id, and a note too long for a table.
 */
async function seedBank({ options, Account, Balances }: Bank): Promise<void> {
  const system = createSystem(options);
  const a1 = Account.ref('a1');
  for (let i = 1; i <= 20; i++) await system.call(a1, { type: 'Deposit', amount: i });
  await system.call(a1, { type: 'Break' });
  await system.call(Account.ref(HOSTILE_ID), { type: 'Deposit', amount: 5, note: HOSTILE_NOTE });
  const last = await system.call(Account.ref('long'), { type: 'Deposit', amount: 1, note: 'x'.repeat(200) });
  await system.settled();
  if (last.ok) await system.projection(Balances).waitFor(last.position);
  await system.close();
  const tool = createToolSystem(options);
  await tool.call(a1, { type: 'Remind' });
  await tool.close();
}

/** Every row of every table of a SQLite file. */
function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as {
      name: string;
    }[];
    return Object.fromEntries(tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}"`).all()]));
  } finally {
    db.close();
  }
}

/** What a tool's system sees of a1: its outbox rows, events and the backlog. */
async function lookAt(system: System, { Account }: Bank) {
  const a1 = Account.ref('a1');
  const events = [];
  for await (const e of system.events(a1)) events.push(e);
  const { depth, inFlight, retrying, deadLetters, pendingTimers, oldestDueAt } = await system.stats();
  return {
    outbox: await inspection(system).outboxOf(a1),
    events,
    stats: { depth, inFlight, retrying, deadLetters, pendingTimers, oldestDueAt },
  };
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  await mkdir(work, { recursive: true });
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('pachyderm on a SQLite app in TypeScript (default export: the options)', () => {
  let app: string;
  let db: string;
  let before: Record<string, unknown[]>;
  let runs: Record<string, Run>;

  beforeAll(async () => {
    const dir = await writeApp('sqlite', { 'app.ts': bankApp(sqliteImport, sqliteAt, 'object') });
    app = join(dir, 'app.ts');
    db = join(dir, 'bank.db');
    await seedBank(await bank(app));
    before = dump(db);
    const on = (...args: string[]) => [...args, '--app', app];
    runs = await cliAll({
      inspect: on('inspect', 'Account', 'a1'),
      inspectJson: on('inspect', 'Account', 'a1', '--json'),
      inspectAt: on('inspect', 'Account', 'a1', '--at', '17'),
      inspectAtJson: on('inspect', 'Account', 'a1', '--at', '17', '--json'),
      events: on('events', 'Account', 'a1', '--from', '10', '--limit', '5'),
      eventsJson: on('events', 'Account', 'a1', '--from', '10', '--json'),
      deadLetters: on('dead-letters'),
      deadLettersJson: on('dead-letters', '--json'),
      stats: on('stats'),
      statsJson: on('stats', '--json'),
      projections: on('projections'),
      projectionsJson: on('projections', '--json'),
      hostile: on('inspect', 'Account', HOSTILE_ID),
      hostileJson: on('inspect', 'Account', HOSTILE_ID, '--json'),
      hostileEvents: on('events', 'Account', HOSTILE_ID),
      hostileType: on('inspect', HOSTILE_ID, 'a1'),
      long: on('events', 'Account', 'long'),
      longJson: on('events', 'Account', 'long', '--json'),
    });
  }, 120_000);

  it('inspect: the state, the version, the last 10 events and the outbox rows, as a table', () => {
    const { code, stdout, stderr } = runs.inspect as Run;
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^entity {2}Account a1\nat {6}version 22\n/);
    expect(stdout).toContain('state\n{\n  "balance": 210\n}');
    expect(stdout).toContain('events 13 to 22\nversion  recordedAt');
    expect(stdout).toMatch(/\n13 +\d{4}-\d\d-\d\dT[\d:.]+Z +\{"type":"Deposited","amount":13,"note":""\}\n/);
    expect(stdout).not.toMatch(/\n12 {2,}\d{4}/);
    expect(stdout).toContain('outbox (3 rows)');
    expect(stdout).toMatch(/\n\d+ +effect +Broken +dead .*the mail server refused/);
    expect(stdout).toMatch(/\n\d+ +timer +Account a1 +pending +monthly .* 0 +\{"type":"Deposit","amount":1\}/);
    expect(stdout).toMatch(/\n\d+ +effect +Receipt +pending .* 0 +\{"balance":210\}/);
  });

  it('inspect --json: the same as one document', () => {
    const result = json(runs.inspectJson as Run);
    expect(result.ref).toEqual({ type: 'Account', id: 'a1' });
    expect(result.version).toBe(22);
    expect(result.state).toEqual({ balance: 210 });
    expect(result.events.map((e: { version: number }) => e.version)).toEqual([13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
    expect(result.events[0]).toEqual({
      version: 13,
      recordedAt: expect.stringMatching(/Z$/),
      event: { type: 'Deposited', amount: 13, note: '' },
    });
    const byKind = Object.fromEntries(
      result.outbox.map((row: { effect?: string; timer: boolean }) => [row.timer ? 'timer' : row.effect, row]),
    );
    expect(byKind.Broken).toMatchObject({ status: 'dead', attempts: 1, error: 'the mail server refused' });
    expect(byKind.Receipt).toMatchObject({ status: 'pending', attempts: 0, payload: { balance: 210 } });
    expect(byKind.timer).toMatchObject({
      status: 'pending',
      timerKey: 'monthly',
      target: { type: 'Account', id: 'a1' },
      source: { type: 'Account', id: 'a1', version: 22 },
    });
  });

  it('inspect --at 17: the state at version 17 and the events up to it', () => {
    const { code, stdout } = runs.inspectAt as Run;
    expect(code).toBe(0);
    expect(stdout).toContain('at      version 17\n');
    expect(stdout).toContain('"balance": 153');
    expect(stdout).toContain('events 8 to 17\n');
    const result = json(runs.inspectAtJson as Run);
    expect(result).toMatchObject({ at: 17, version: 17, state: { balance: 153 } });
    expect(result.events.map((e: { version: number }) => e.version)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
  });

  it('events --from 10: a table of --limit events that says where to go on; every event from 10 with --json', () => {
    const { code, stdout } = runs.events as Run;
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('Account a1: events 10 to 14');
    expect(stdout).toMatch(/\n14 +\S+ +\{"type":"Deposited","amount":14,"note":""\}\n/);
    expect(stdout).toContain('--from 15');
    const result = json(runs.eventsJson as Run);
    expect(result.events.map((e: { version: number }) => e.version)).toEqual([
      10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
    ]);
    expect(result.more).toBe(false);
  });

  it('dead-letters: id, kind, effect, attempts, error and source', () => {
    const { code, stdout } = runs.deadLetters as Run;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^1 dead letter\nid +kind +effect\/target +attempts +error +source +payload\n/);
    expect(stdout).toMatch(/\n\d+ +effect +Broken +1 +the mail server refused +Account a1 v21 +\{"reason":"test"\}/);
    const { deadLetters } = json(runs.deadLettersJson as Run);
    expect(deadLetters).toEqual([
      expect.objectContaining({
        kind: 'effect',
        effect: 'Broken',
        attempts: 1,
        error: 'the mail server refused',
        source: { type: 'Account', id: 'a1', version: 21 },
      }),
    ]);
  });

  it('stats: the outbox backlog, with the age of the oldest row waiting', () => {
    const { code, stdout } = runs.stats as Run;
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^depth +1\ninFlight +0\nretrying +0\ndeadLetters +1\npendingTimers +1\noldest row +due [\d.]+ (ms|s|min) ago\n$/,
    );
    expect(json(runs.statsJson as Run)).toEqual({
      depth: 1,
      inFlight: 0,
      retrying: 0,
      deadLetters: 1,
      pendingTimers: 1,
      oldestDueAt: expect.stringMatching(/Z$/),
      oldestAgeMs: expect.any(Number),
    });
  });

  it('projections: name, mode, state, position, head, events behind, lag and last error, from the store', () => {
    const { code, stdout } = runs.projections as Run;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^name +mode +state +position +head +behind +lag +lastError\n/);
    // The reminder came after the seeding system stopped running the projection: one event behind.
    expect(stdout).toMatch(/\nBalances +async +behind +\d+ +\d+ +1 +[\d.]+ (ms|s|min)\n$/);
    const [p] = json(runs.projectionsJson as Run).projections;
    expect(p).toMatchObject({ name: 'Balances', mode: 'async', state: 'behind', failed: null, lag: { events: 1 } });
    expect(p.position < p.head).toBe(true);
  });

  it('prints hostile ids and values as data: escaped in tables and errors, exact in JSON', () => {
    for (const run of [runs.hostile, runs.hostileEvents] as Run[]) {
      expect(run.code, run.stderr).toBe(0);
      for (const line of run.stdout.split('\n')) expect(line).not.toMatch(RAW_CONTROL);
    }
    expect((runs.hostile as Run).stdout).toContain(JSON.stringify(HOSTILE_ID).replace('\u202e', '\\u202e'));
    expect((runs.hostileEvents as Run).stdout).toContain('"note":"\\u001b]0;pwned\\u0007');
    const result = json(runs.hostileJson as Run);
    expect(result.ref.id).toBe(HOSTILE_ID);
    expect(result.events[0].event.note).toBe(HOSTILE_NOTE);
    const { code, stderr } = runs.hostileType as Run;
    expect(code).toBe(4);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(RAW_CONTROL);
    expect(stderr).toContain('unknown entity type "a\\"1');
  });

  it('cuts long values with … in tables only', () => {
    expect((runs.long as Run).stdout).toMatch(/\{"type":"Deposited","amount":1,"note":"x+…\n/);
    expect(json(runs.longJson as Run).events[0].event.note).toBe('x'.repeat(200));
  });

  it('changes nothing in the store: every row of every table as before, the timer and the effect still pending', () => {
    for (const [name, run] of Object.entries(runs))
      expect(run.code, `${name}: ${run.stderr}`).toBe(name === 'hostileType' ? 4 : 0);
    expect(dump(db)).toEqual(before);
    const outbox = before.pachyderm_outbox as { status: string; attempts: number }[];
    expect(outbox.map((row) => [row.status, row.attempts])).toEqual([
      ['dead', 1],
      ['pending', 0],
      ['pending', 0],
    ]);
  });

  it('dead-letters --retry ID puts the dead letter back in the outbox; a missing one exits 1', async () => {
    const [letter] = json(runs.deadLettersJson as Run).deadLetters;
    const retried = await cli(['dead-letters', '--retry', letter.id, '--app', app]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe(`dead letter ${letter.id} is back in the outbox; the app's processes deliver it\n`);
    const [after, stats, missing, missingJson] = await Promise.all([
      cli(['dead-letters', '--app', app, '--json']),
      cli(['stats', '--app', app, '--json']),
      cli(['dead-letters', '--retry', '999999', '--app', app]),
      cli(['dead-letters', '--retry', '999999', '--app', app, '--json']),
    ]);
    expect(json(after).deadLetters).toEqual([]);
    expect(json(stats)).toMatchObject({ depth: 2, deadLetters: 0 });
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(
      /^pachyderm: no dead letter has the id "999999": pachyderm dead-letters --app \S+ lists them\n$/,
    );
    expect(missingJson.code).toBe(1);
    expect(json(missingJson).error).toEqual({
      code: 'NO_SUCH_DEAD_LETTER',
      message: expect.stringContaining('999999'),
    });
  });

  it('dashboard: serves the app on 127.0.0.1 with the token it is given, until SIGTERM (exit 0)', async () => {
    const token = `cli-${randomBytes(8).toString('hex')}`;
    const child = spawn(process.execPath, [bin, 'dashboard', '--app', app, '--port', '0'], {
      cwd: work,
      env: { ...process.env, PACHYDERM_DASHBOARD_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
          stderr += chunk;
          const found = / is on (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(stderr)?.[1];
          if (found && stderr.includes('PACHYDERM_DASHBOARD_TOKEN')) resolve(found);
        });
        child.on('exit', (code) => reject(new Error(`the dashboard exited (${code}): ${stderr}`)));
      });
      const entity = `${url}api/entity?type=Account&id=a1`;
      expect((await fetch(entity)).status).toBe(401);
      const answer = await fetch(entity, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ version: json(runs.inspectJson as Run).version });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});

describe('pachyderm projections --rebuild', () => {
  let dir: string;
  let app: string;
  let db: string;
  const accounts = 40;
  const deposits = 50;

  beforeAll(async () => {
    dir = await writeApp('rebuild', {
      'app.ts': bankApp(sqliteImport, sqliteAt, 'object'),
      // A process of the app that runs until told to stop.
      'run.ts': `import { createSystem } from 'pachyderm';
import options from './app.ts';
const system = createSystem({ ...options, leaseMs: 1000, pollIntervalMs: 100 });
process.on('SIGTERM', () => void system.close().then(() => process.exit(0)));
process.stdout.write('running\\n');
`,
    });
    app = join(dir, 'app.ts');
    db = join(dir, 'bank.db');
    const { options, Account, Balances } = await bank(app);
    const system = createSystem(options);
    const positions = await Promise.all(
      Array.from({ length: accounts }, async (_, a) => {
        let position = '';
        for (let i = 1; i <= deposits; i++) {
          const result = await system.call(Account.ref(`acc-${a}`), { type: 'Deposit', amount: i });
          if (result.ok) position = result.position;
        }
        return position;
      }),
    );
    await system.projection(Balances).waitFor(positions.sort().at(-1) as string);
    await system.close();
  }, 120_000);

  it('rebuilds from the start with progress on stderr until caught up, then the table equals a fresh replay', async () => {
    const db0 = new Database(db);
    db0.prepare('UPDATE balances SET balance = -1').run();
    db0.close();
    const run = await cli(['projections', '--rebuild', 'Balances', '--app', app], { env: { SLOW_PROJECTION: '1' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('Balances: rebuild requested\n');
    expect(run.stderr).toMatch(/\nBalances: rebuilding, at \d+ of \d+, \d+\+? events behind\n/);
    expect(run.stdout).toMatch(/^Balances rebuilt: at \d+, 0 events behind the head\n$/);
    const check = new Database(db, { readonly: true });
    const rows = check.prepare('SELECT id, balance FROM balances ORDER BY id').all();
    check.close();
    const total = (deposits * (deposits + 1)) / 2;
    expect(rows).toEqual(
      Array.from({ length: accounts }, (_, a) => ({ id: `acc-${a}`, balance: total })).sort((x, y) =>
        x.id < y.id ? -1 : 1,
      ),
    );
    const again = await cli(['projections', '--rebuild', 'Balances', '--app', app, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const result = json(again);
    expect(result).toEqual({ rebuilt: 'Balances', position: expect.any(String), head: result.position });
    const list = await cli(['projections', '--app', app, '--json']);
    expect(json(list).projections[0]).toMatchObject({ state: 'live', lag: { events: 0 }, position: result.position });
  });

  it('answers only once the table is rebuilt, also while another process of the app runs the projection', async () => {
    // Another process of the app, slow to apply (a millisecond an event), with a short lease renewed
    // often: it may notice the request and rebuild, or this CLI takes the lease and does.
    const other = spawn(process.execPath, ['--import', 'tsx', join(dir, 'run.ts')], {
      cwd: dir,
      env: { ...process.env, SLOW_PROJECTION: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => other.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        other.stdout.once('data', () => resolve());
        other.once('exit', (code) => reject(new Error(`the app process ended: ${code}`)));
      });
      const db0 = new Database(db);
      db0.prepare('UPDATE balances SET balance = -1').run();
      db0.close();
      const run = await cli(['projections', '--rebuild', 'Balances', '--app', app]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^Balances rebuilt: at \d+, 0 events behind the head\n$/);
      const check = new Database(db, { readonly: true });
      const rows = check.prepare('SELECT count(*) AS n, min(balance) AS low FROM balances').get();
      check.close();
      expect(rows).toEqual({ n: accounts, low: (deposits * (deposits + 1)) / 2 });
    } finally {
      other.kill('SIGTERM');
      await exited;
    }
  });

  it('names the projections the app has when asked for another (exit 4)', async () => {
    const run = await cli(['projections', '--rebuild', 'Nope', '--app', app, '--json']);
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('pachyderm: no projection or reactor is named "Nope": the app has "Balances"\n');
    expect(json(run).error.code).toBe('UNKNOWN_PROJECTION');
  });
});

describe('pachyderm on a PostgreSQL app in TypeScript (default export: an async function)', () => {
  let app: string;
  let seeded: Bank;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    const store = `postgresStore({ connectionString: ${JSON.stringify(database.url)}, schema: 'bank' })`;
    const dir = await writeApp('postgres', {
      'app.ts': bankApp(`import { postgresStore } from 'pachyderm/postgres';`, store, 'async function'),
    });
    app = join(dir, 'app.ts');
    seeded = await bank(app);
    await seedBank(seeded);
  }, 120_000);
  afterAll(() => drop?.());

  it('answers every reading command and changes nothing: the timer and the effect still pending', async () => {
    const tool = createToolSystem(seeded.options);
    const before = await lookAt(tool, seeded);
    await tool.close();
    expect(before.outbox.map((row) => [row.timer ? 'timer' : row.effect, row.status, row.attempts])).toEqual([
      ['Broken', 'dead', 1],
      ['timer', 'pending', 0],
      ['Receipt', 'pending', 0],
    ]);

    const on = (...args: string[]) => [...args, '--app', app];
    const runs = await cliAll({
      inspect: on('inspect', 'Account', 'a1'),
      inspectJson: on('inspect', 'Account', 'a1', '--at', '17', '--json'),
      events: on('events', 'Account', 'a1', '--from', '20', '--json'),
      deadLetters: on('dead-letters', '--json'),
      stats: on('stats', '--json'),
      projections: on('projections'),
    });
    for (const [name, run] of Object.entries(runs)) expect(run.code, `${name}: ${run.stderr}`).toBe(0);
    expect(runs.inspect.stdout).toContain('"balance": 210');
    expect(runs.inspect.stdout).toContain('outbox (3 rows)');
    expect(json(runs.inspectJson)).toMatchObject({ at: 17, state: { balance: 153 } });
    expect(json(runs.events).events.map((e: { version: number }) => e.version)).toEqual([20, 21, 22]);
    expect(json(runs.deadLetters).deadLetters).toHaveLength(1);
    expect(json(runs.stats)).toMatchObject({ depth: 1, deadLetters: 1, pendingTimers: 1 });
    expect(runs.projections.stdout).toMatch(/\nBalances +async +behind +[\d.]+ +[\d.]+ +1 /);

    const again = createToolSystem(seeded.options);
    const after = await lookAt(again, seeded);
    await again.close();
    expect(after).toEqual(before);
  });
});

describe('pachyderm on a plain JavaScript app (named export `options`, or a default function)', () => {
  it('inspects and lists events', async () => {
    const dir = await writeApp('plain', {
      'app.mjs': `import { fileURLToPath } from 'node:url';
import { defineEntity, ok, silentLogger } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';

export const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: () => ok([{ type: 'Increased' }]),
  update: (_event, state) => ({ count: state.count + 1 }),
});

export const options = {
  store: sqliteStore({ filename: fileURLToPath(new URL('./plain.db', import.meta.url)) }),
  entities: [Counter],
  logger: silentLogger,
};
`,
      'function.mjs': `import { options } from './app.mjs';\nexport default () => options;\n`,
    });
    const module = await import(join(dir, 'app.mjs'));
    const system = createSystem(module.options);
    for (let i = 0; i < 3; i++) await system.call(module.Counter.ref('c1'), {});
    await system.close();
    const [inspected, listed, viaFunction] = await Promise.all([
      cli(['inspect', 'Counter', 'c1', '--app', 'plain/app.mjs']),
      cli(['events', 'Counter', 'c1', '--app', './plain/app.mjs']),
      cli(['inspect', 'Counter', 'c1', '--json', '--app', join(dir, 'function.mjs')]),
    ]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain('entity  Counter c1\nat      version 3\n\nstate\n{\n  "count": 3\n}');
    expect(inspected.stdout).toContain('outbox: no rows');
    expect(listed.stdout).toMatch(
      /^Counter c1: events 1 to 3\nversion +recordedAt +event\n1 +\S+ +\{"type":"Increased"\}\n/,
    );
    expect(json(viaFunction)).toMatchObject({ version: 3, state: { count: 3 }, outbox: [] });
  });
});

describe('exit codes', () => {
  let runs: Record<string, Run>;
  let silent: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // A "database" that accepts connections and never answers: the CLI must give up by itself.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const postgresApp = (url: string) => `import { defineEntity, ok, silentLogger } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
const Account = defineEntity({ type: 'Account', handle: () => ok([{ type: 'X' }]), update: (_e, s) => s });
export const options = { store: postgresStore({ connectionString: '${url}' }), entities: [Account], logger: silentLogger };
`;
    await writeApp('exits', {
      'app.mjs': `import { defineEntity, memoryStore, ok, silentLogger } from 'pachyderm';
const Account = defineEntity({ type: 'Account', handle: () => ok([{ type: 'X' }]), update: (_e, s) => s });
export default { store: memoryStore(), entities: [Account], logger: silentLogger };
`,
      'throws.ts': `throw new Error('the app needs DATABASE_URL');\nexport default {};\n`,
      'nothing.mjs': 'export const somethingElse = 1;\n',
      'refused.mjs': `import { memoryStore } from 'pachyderm';\nexport default { store: memoryStore(), entities: 'Account' };\n`,
      'init-throws.mjs': `import { defineEntity, memoryStore, ok, silentLogger } from 'pachyderm';
const Broken = defineEntity({
  type: 'Broken',
  init: () => {
    throw new Error('init is broken');
  },
  handle: () => ok([{ type: 'X' }]),
  update: (_e, s) => s,
});
export default { store: memoryStore(), entities: [Broken], logger: silentLogger };
`,
      'read-side.mjs': `import { defineEntity, defineProjection, defineReactor, inline, ok, silentLogger, sql } from 'pachyderm';
import { sqliteStore } from 'pachyderm/sqlite';
const Account = defineEntity({ type: 'Account', handle: () => ok([{ type: 'X' }]), update: (_e, s) => s });
const Totals = defineProjection({ name: 'Totals', entities: [Account], handle: () => [sql\`SELECT 1\`] });
const Mailer = defineReactor({ name: 'Mailer', entities: [Account], handle: async () => {} });
export default {
  store: sqliteStore({ filename: ':memory:' }),
  entities: [Account],
  projections: [inline(Totals)],
  reactors: [Mailer],
  logger: silentLogger,
};
`,
      'unreachable.mjs': postgresApp('postgres://postgres@127.0.0.1:1/x'),
      'silent.mjs': postgresApp(`postgres://postgres@127.0.0.1:${port}/x`),
    });
    const app = 'exits/app.mjs';
    runs = await cliAll({
      alone: [],
      help: ['--help'],
      h: ['-h'],
      commandHelp: ['inspect', '--help'],
      unknownCommand: ['frob', '--app', app],
      noApp: ['inspect', 'Account', 'a1'],
      noId: ['inspect', 'Account', '--app', app],
      unknownFlag: ['inspect', 'Account', 'a1', '--app', app, '--bogus'],
      unknownFlagJson: ['stats', '--app', app, '--json', '--at', '3'],
      badAt: ['inspect', 'Account', 'a1', '--app', app, '--at', 'x'],
      negativeAt: ['inspect', 'Account', 'a1', '--app', app, '--at=-1'],
      badFrom: ['events', 'Account', 'a1', '--app', app, '--from', '0'],
      dashboard: ['dashboard', '--app', app, '--port', '70000'],
      throws: ['stats', '--app', 'exits/throws.ts', '--json'],
      nothing: ['stats', '--app', 'exits/nothing.mjs'],
      missing: ['stats', '--app', 'exits/missing.ts'],
      refused: ['stats', '--app', 'exits/refused.mjs'],
      unknownType: ['inspect', 'Acount', 'a1', '--app', app, '--json'],
      emptyId: ['inspect', 'Account', '', '--app', app, '--json'],
      memory: ['stats', '--app', app],
      initThrows: ['inspect', 'Broken', 'b1', '--app', 'exits/init-throws.mjs', '--json'],
      readSide: ['projections', '--app', 'exits/read-side.mjs', '--json'],
      rebuildInline: ['projections', '--rebuild', 'Totals', '--app', 'exits/read-side.mjs'],
      unreachable: ['stats', '--app', 'exits/unreachable.mjs', '--json'],
      silent: ['inspect', 'Account', 'a1', '--app', 'exits/silent.mjs'],
    });
  }, 120_000);
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
  });

  const errorOf = (run: Run) => {
    expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
    return run.stderr;
  };

  it('0: --help and -h print the usage of every command on stdout; <command> --help its flags', () => {
    for (const run of [runs.help, runs.h] as Run[]) {
      expect(run.code).toBe(0);
      for (const command of [
        'inspect',
        'events',
        'dead-letters',
        'projections',
        'stats',
        'dashboard',
        'replay-check',
      ]) {
        expect(run.stdout).toContain(`pachyderm ${command} `);
      }
    }
    expect(runs.commandHelp).toMatchObject({ code: 0, stderr: '' });
    expect((runs.commandHelp as Run).stdout).toContain('--at <version>');
    expect(runs.memory?.code).toBe(0);
    expect(runs.memory?.stderr).toContain('note: the app uses a memory store');
  });

  it('0: projections lists inline projections (always at the head) and reactors (not started yet)', () => {
    expect(runs.readSide?.code, runs.readSide?.stderr).toBe(0);
    expect(json(runs.readSide as Run).projections).toEqual([
      expect.objectContaining({ name: 'Totals', mode: 'inline', state: 'live', lag: { events: 0, ms: 0 } }),
      expect.objectContaining({
        name: 'Mailer',
        mode: 'async',
        state: 'not started',
        position: '',
      }),
    ]);
  });

  it('1: a rebuild of an inline projection, which has nothing to catch up', () => {
    expect(runs.rebuildInline?.code).toBe(1);
    expect(errorOf(runs.rebuildInline as Run)).toMatch(
      /^pachyderm: Totals is an inline projection: .*register it without inline\(\)\n$/,
    );
  });

  it('2: usage errors (no command, unknown command or flag, no --app, a missing id, a bad --at or --from)', () => {
    expect(runs.alone).toMatchObject({ code: 2, stdout: '' });
    expect((runs.alone as Run).stderr).toContain('Usage:');
    const expected: Record<string, RegExp> = {
      unknownCommand:
        /unknown command "frob": one of inspect, events, dead-letters, projections, stats, dashboard, replay-check/,
      noApp: /inspect needs --app <module>: the module that exports your createSystem options/,
      noId: /inspect needs <type> <id>: pachyderm inspect <type> <id> --app <module>/,
      unknownFlag: /inspect: Unknown option '--bogus'/,
      unknownFlagJson: /stats: Unknown option '--at'/,
      badAt: /--at must be a whole number >= 0, got "x"/,
      negativeAt: /--at must be a whole number >= 0, got "-1"/,
      badFrom: /--from must be a whole number >= 1, got "0"/,
      dashboard: /^pachyderm: --port must be at most 65535, got 70000\n$/,
    };
    for (const [name, message] of Object.entries(expected)) {
      const run = runs[name] as Run;
      expect(run.code, name).toBe(2);
      expect(errorOf(run), name).toMatch(message);
      expect(errorOf(run), name).toMatch(/^pachyderm: /);
    }
    expect(json(runs.unknownFlagJson as Run).error).toEqual({ code: 'USAGE', message: expect.any(String) });
  });

  it('3: an app module that throws on import, exports no options, is missing, or has options createSystem refuses', () => {
    expect(runs.throws?.code).toBe(3);
    expect(errorOf(runs.throws as Run)).toMatch(
      /^pachyderm: --app exits\/throws.ts could not be loaded: the app needs DATABASE_URL\n$/,
    );
    expect(json(runs.throws as Run).error.code).toBe('APP_NOT_LOADED');
    expect(runs.nothing?.code).toBe(3);
    expect(errorOf(runs.nothing as Run)).toContain(
      '--app exits/nothing.mjs exports no createSystem options: export default { store, entities }',
    );
    expect(runs.missing?.code).toBe(3);
    expect(errorOf(runs.missing as Run)).toMatch(/--app exits\/missing.ts: there is no file \S+missing.ts/);
    expect(runs.refused?.code).toBe(3);
    expect(errorOf(runs.refused as Run)).toContain("createSystem refused the --app module's options:");
  });

  it('4: an unknown entity type, with the types the app serves, or an invalid id', () => {
    expect(runs.unknownType?.code).toBe(4);
    expect(errorOf(runs.unknownType as Run)).toBe(
      'pachyderm: unknown entity type "Acount": the app serves "Account"\n',
    );
    expect(json(runs.unknownType as Run).error.code).toBe('UNKNOWN_ENTITY_TYPE');
    expect(runs.emptyId?.code).toBe(4);
    expect(errorOf(runs.emptyId as Run)).toBe('pachyderm: invalid id "": The id must not be empty\n');
    expect(json(runs.emptyId as Run).error.code).toBe('INVALID_ID');
  });

  it("6: an error the CLI did not expect, with the system's code", () => {
    expect(runs.initThrows?.code).toBe(6);
    expect(errorOf(runs.initThrows as Run)).toContain('init is broken');
    expect(json(runs.initThrows as Run).error.code).toBe('INIT_THREW');
  });

  it('5: a store that refuses the connection, at once; one that never answers, within seconds', () => {
    const { unreachable, silent } = runs as Record<string, Run>;
    expect(unreachable?.code).toBe(5);
    expect(errorOf(unreachable as Run)).toMatch(
      /^pachyderm: The postgres store failed: connect ECONNREFUSED 127.0.0.1:1 \(check/,
    );
    expect(json(unreachable as Run).error.code).toBe('STORE_UNAVAILABLE');
    expect(unreachable?.ms).toBeLessThan(10_000);
    expect(silent?.code).toBe(5);
    expect(errorOf(silent as Run)).toMatch(/the store did not answer within 5 s \(check the store's address/);
    expect(silent?.ms).toBeLessThan(15_000);
  });
});
