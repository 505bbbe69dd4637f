/**
 * `pachyderm replay-check`, run as a user runs it (the package's bin, after `npm run build`, as a
 * child process) on an app in TypeScript against a real SQLite file and a real PostgreSQL schema
 * holding 2,000 accounts written by older code: exit 1 naming the one account whose log the new
 * definition cannot fold, exit 0 once the definition is fixed, the report as `--json`, `--sample`,
 * and not one row of the store changed. The app folders live under test-output/ inside the repo,
 * so `import 'pachyderm'` resolves to the package itself, as in cli.test.ts.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Store } from 'pachyderm';
import type { StreamAppend } from 'pachyderm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dump, dumpPostgres, dumpSqlite } from './support/dumps.js';
import { createTestDatabase } from './support/postgres.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/main.js');
const work = join(root, 'test-output/cli-replay-check', randomBytes(4).toString('hex'));

const ACCOUNTS = 2000;
const BAD = 'acc-1234';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI; never rejects (the exit code is part of the answer). */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: work, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * The app as the new code has it: accounts at eventVersion 2 (cents), older events upcast from
 * euros. The upcast as first written refuses an amount that is not a number; with UPCAST=fixed, it
 * reads one stored as text.
 */
function app(storeImport: string, store: string): string {
  return `import { defineEntity, ok, silentLogger } from 'pachyderm';
${storeImport}

const fixed = process.env.UPCAST === 'fixed';

export const Account = defineEntity({
  type: 'Account',
  eventVersion: 2,
  init: () => ({ cents: 0 }),
  handle: (message: { type: 'Deposit'; cents: number }) => ok([{ type: 'Deposited' as const, cents: message.cents }]),
  update: (event, state) => ({ cents: state.cents + event.cents }),
  upcast(event, storedVersion) {
    if (storedVersion > 1) return event;
    if (typeof event.amount !== 'number' && !fixed) throw new Error(\`amount \${JSON.stringify(event.amount)} is not a number\`);
    return { type: 'Deposited' as const, cents: Number(event.amount) * 100 };
  },
});

export default { store: ${store}, entities: [Account], logger: silentLogger };
`;
}

/** Writes the app's folder (the app and a tsconfig.json of its own); answers the app's path. */
async function writeApp(folder: string, text: string): Promise<string> {
  const dir = join(work, folder);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  );
  await writeFile(join(dir, 'app.ts'), text);
  return join(dir, 'app.ts');
}

/** 2,000 accounts: two deposits in euros (eventVersion 1), one in cents (2); the bad one's second amount is text. */
async function seed(file: string): Promise<void> {
  const store = ((await import(file)).default as { store: Store }).store;
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acc-${String(i).padStart(4, '0')}`);
  const deposit = (data: object) => JSON.stringify({ type: 'Deposited', ...data });
  const rounds: ((id: string) => StreamAppend)[] = [
    (id) => ({
      entityType: 'Account',
      streamId: id,
      expectedVersion: 0,
      events: [deposit({ amount: 1 }), deposit({ amount: id === BAD ? '2' : 2 })],
      eventVersion: 1,
    }),
    (id) => ({
      entityType: 'Account',
      streamId: id,
      expectedVersion: 2,
      events: [deposit({ cents: 50 })],
      eventVersion: 2,
    }),
  ];
  store.retain();
  try {
    await store.open();
    for (const round of rounds) {
      for (let i = 0; i < ids.length; i += 500) {
        const results = await store.commit({
          appends: ids.slice(i, i + 500).map(round),
          recordedAt: 1_700_000_000_000,
        });
        expect(results.every((r) => r.ok)).toBe(true);
      }
    }
  } finally {
    await store.release();
  }
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  await mkdir(work, { recursive: true });
});
afterAll(() => rm(work, { recursive: true, force: true }));

const places = [
  {
    kind: 'sqlite',
    async make() {
      const file = await writeApp(
        'sqlite',
        app(
          `import { fileURLToPath } from 'node:url';\nimport { sqliteStore } from 'pachyderm/sqlite';`,
          `sqliteStore({ filename: fileURLToPath(new URL('./bank.db', import.meta.url)) })`,
        ),
      );
      return { file, dump: async () => dumpSqlite(join(work, 'sqlite/bank.db')), drop: async () => {} };
    },
  },
  {
    kind: 'postgres',
    async make() {
      const database = await createTestDatabase();
      const file = await writeApp(
        'postgres',
        app(
          `import { postgresStore } from 'pachyderm/postgres';`,
          `postgresStore({ connectionString: ${JSON.stringify(database.url)}, schema: 'bank' })`,
        ),
      );
      return { file, dump: () => dumpPostgres(database.url, 'bank'), drop: database.drop };
    },
  },
] as const;

for (const place of places) {
  describe(`pachyderm replay-check on ${place.kind}`, () => {
    let file: string;
    let dump: () => Promise<Dump>;
    let drop: () => Promise<void> = async () => {};
    let before: Dump;
    let runs: Record<'bad' | 'badJson' | 'fixed' | 'fixedJson' | 'sample' | 'sampleText', Run>;

    beforeAll(async () => {
      ({ file, dump, drop } = await place.make());
      await seed(file);
      before = await dump();
      const on = (...args: string[]) => ['replay-check', ...args, '--app', file];
      const fixed = { UPCAST: 'fixed' };
      // Two at a time: the machine has two cores.
      const [bad, badJson] = await Promise.all([cli(on()), cli(on('--json'))]);
      const [fixedText, fixedJson] = await Promise.all([cli(on(), fixed), cli(on('--json'), fixed)]);
      const [sample, sampleText] = await Promise.all([
        cli(on('--sample', '300', '--json'), fixed),
        cli(on('--sample', '5'), fixed),
      ]);
      runs = { bad, badJson, fixed: fixedText, fixedJson, sample, sampleText };
    }, 120_000);
    afterAll(() => drop());

    it('exits 1 naming the one account among thousands whose log the definition cannot fold, and why', () => {
      const { bad } = runs;
      expect(bad.code, bad.stderr).toBe(1);
      expect(bad.stderr).toBe('');
      const lines = bad.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`replayed ${ACCOUNTS} entities (${ACCOUNTS * 3 - 2} events): 1 failed`);
      expect(lines[1]).toMatch(/^type +id +kind +version +stored eventVersion +code +message$/);
      expect(lines[2]).toMatch(
        new RegExp(`^Account +${BAD} +threw +2 +1 +UPCAST_THREW +Account\\.upcast threw on event 2`),
      );
      expect(lines).toHaveLength(4);
    });

    it('--json: the report, with the whole message', () => {
      const { badJson } = runs;
      expect(badJson.code, badJson.stderr).toBe(1);
      expect(JSON.parse(badJson.stdout)).toEqual({
        ok: false,
        entities: ACCOUNTS,
        events: ACCOUNTS * 3 - 2,
        failures: [
          {
            ref: { type: 'Account', id: BAD },
            kind: 'threw',
            version: 2,
            code: 'UPCAST_THREW',
            storedEventVersion: 1,
            message: expect.stringContaining('amount "2" is not a number'),
          },
        ],
      });
    });

    it('exits 0 once every log folds', () => {
      expect(runs.fixed).toEqual({
        code: 0,
        stdout: `replayed ${ACCOUNTS} entities (${ACCOUNTS * 3} events): every log folds\n`,
        stderr: '',
      });
      expect(JSON.parse(runs.fixedJson.stdout)).toEqual({
        ok: true,
        entities: ACCOUNTS,
        events: ACCOUNTS * 3,
        failures: [],
      });
    });

    it('--sample replays that many entities', () => {
      expect(runs.sample.code, runs.sample.stderr).toBe(0);
      expect(JSON.parse(runs.sample.stdout)).toEqual({ ok: true, entities: 300, events: 900, failures: [] });
      expect(runs.sampleText.stdout).toBe('replayed 5 entities (15 events): every log folds\n');
    });

    it('changes nothing in the store', async () => {
      expect(Object.keys(before).length).toBeGreaterThan(3);
      expect(await dump()).toEqual(before);
    });
  });
}

describe('pachyderm replay-check, exit codes', () => {
  let runs: Record<string, Run>;
  let silent: Server;
  let silentMs = 0;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    const dir = join(work, 'exits');
    await mkdir(dir, { recursive: true });
    const entity = `const Account = defineEntity({ type: 'Account', handle: () => ok([{ type: 'X' }]), update: (_e, s) => s });`;
    await writeFile(
      join(dir, 'memory.mjs'),
      `import { defineEntity, memoryStore, ok, silentLogger } from 'pachyderm';\n${entity}\nexport default { store: memoryStore(), entities: [Account], logger: silentLogger };\n`,
    );
    await writeFile(
      join(dir, 'no-entities.mjs'),
      `import { memoryStore } from 'pachyderm';\nexport default { store: memoryStore() };\n`,
    );
    const postgresApp = (url: string) =>
      `import { defineEntity, ok, silentLogger } from 'pachyderm';\nimport { postgresStore } from 'pachyderm/postgres';\n${entity}\nexport default { store: postgresStore({ connectionString: '${url}' }), entities: [Account], logger: silentLogger };\n`;
    await writeFile(join(dir, 'unreachable.mjs'), postgresApp('postgres://postgres@127.0.0.1:1/x'));
    // A "database" that accepts connections and never answers: the CLI must give up by itself.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    await writeFile(join(dir, 'silent.mjs'), postgresApp(`postgres://postgres@127.0.0.1:${port}/x`));
    const started = performance.now();
    const silentRun = cli(['replay-check', '--app', 'exits/silent.mjs']).then((run) => {
      silentMs = performance.now() - started;
      return run;
    });
    const [memory, badSample, noEntities, unreachable] = await Promise.all([
      cli(['replay-check', '--app', 'exits/memory.mjs']),
      cli(['replay-check', '--app', 'exits/memory.mjs', '--sample', '0']),
      cli(['replay-check', '--app', 'exits/no-entities.mjs', '--json']),
      cli(['replay-check', '--app', 'exits/unreachable.mjs', '--json']),
    ]);
    runs = { memory, badSample, noEntities, unreachable, silent: await silentRun } as Record<string, Run>;
  }, 60_000);
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
  });

  it('0 on an empty store (a memory store is one: the note says so)', () => {
    expect(runs.memory?.code).toBe(0);
    expect(runs.memory?.stdout).toBe('replayed 0 entities (0 events): every log folds\n');
    expect(runs.memory?.stderr).toContain('note: the app uses a memory store');
  });

  it('2 for a --sample that is not a whole number >= 1; 3 for options without entities; 5 for a store out of reach, or silent for 5 s', () => {
    expect(runs.badSample?.code).toBe(2);
    expect(runs.badSample?.stderr).toBe('pachyderm: --sample must be a whole number >= 1, got "0"\n');
    expect(runs.noEntities?.code).toBe(3);
    expect(JSON.parse(runs.noEntities?.stdout as string).error).toEqual({
      code: 'INVALID_CONFIGURATION',
      message: expect.stringContaining('entities must be a non-empty array'),
    });
    expect(runs.unreachable?.code).toBe(5);
    expect(JSON.parse(runs.unreachable?.stdout as string).error.code).toBe('STORE_UNAVAILABLE');
    expect(runs.silent?.code).toBe(5);
    expect(runs.silent?.stderr).toMatch(/^pachyderm: the store did not answer within 5 s \(check/);
    expect(silentMs).toBeLessThan(15_000);
  });
});
