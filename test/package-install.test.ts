/**
 * What a TypeScript user installs type-checks: the packed tarball, installed into an empty project
 * with only what the README's Install section names (typescript, @types/node, pg, @types/pg),
 * compiles a strict NodeNext file that uses every subpath of package.json's `exports`. The repo's
 * own type check cannot see this: it reads the sources, and its devDependencies hold every type.
 * `pachyderm/postgres`'s declarations import `pg`, which ships no types; without @types/pg, tsc
 * fails inside pachyderm's declarations, or with `skipLibCheck` the `pool` option quietly becomes
 * `any`. Both settings are checked.
 *
 * The tarball also carries the dashboard's static files (copied into dist by the build), which
 * `pachyderm/dashboard` reads next to its module at run time.
 * The package's bin runs there too: `npx pachyderm`, with an app in TypeScript (loaded by tsx, a
 * dependency of the package).
 *
 * The install is offline: its lockfile is cut from the repo's package-lock.json, whose versions
 * the repo's `npm ci` put in npm's cache.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const work = await mkdtemp(join(tmpdir(), 'pachyderm-install-'));
const app = join(work, 'app');
afterAll(() => rm(work, { recursive: true, force: true }));

/** What the README tells a TypeScript user to install next to pachyderm. */
const userInstalls = ['typescript', '@types/node', 'pg', '@types/pg'];

/** The paths in the tarball. */
let packedFiles: string[] = [];

/** A realistic use of each subpath the test knows; every other subpath is at least imported. */
const uses: Record<string, string> = {
  pachyderm: `
import { createSystem, defineEntity, memoryStore, ok } from 'pachyderm';
const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }, _state) => ok([{ type: 'Increased' as const, amount: 1 }]),
  update: (event, state) => ({ count: state.count + event.amount }),
});
const system = createSystem({ store: memoryStore(), entities: [Counter] });
const answer = await system.call(Counter.ref('counter-1'), { type: 'Increment' });
export const count: number = answer.ok ? answer.state.count : 0;
// @ts-expect-error: a Counter takes only its own messages
await system.call(Counter.ref('counter-1'), { type: 'Decrement' });
// A messageSchema is any Standard Schema (its types come with the package); the message type is read from it.
const Greeter = defineEntity({
  type: 'Greeter',
  messageSchema: {
    '~standard': { version: 1, vendor: 'app', validate: (value: unknown) => ({ value: value as { name: string } }) },
  },
  handle: (message) => ok([{ type: 'Greeted' as const, name: message.name }]),
  update: (_event, state) => state,
});
// @ts-expect-error: a name is a string
await createSystem({ store: memoryStore(), entities: [Greeter] }).call(Greeter.ref('g'), { name: 1 });`,
  'pachyderm/sqlite': `
import { sqliteStore } from 'pachyderm/sqlite';
createSystem({ store: sqliteStore({ filename: 'app.db', synchronous: 'NORMAL' }), entities: [Counter] });`,
  'pachyderm/postgres': `
import { postgresStore } from 'pachyderm/postgres';
createSystem({ store: postgresStore({ connectionString: 'postgres://localhost/app', schema: 'app' }), entities: [Counter] });
// @ts-expect-error: a pool is a pg.Pool (it would be any, and this would pass, were pg's types missing)
postgresStore({ pool: 'postgres://localhost/app' });`,
  'pachyderm/testing': `
import { createTestClock, given } from 'pachyderm/testing';
given(Counter).when({ type: 'Increment' }).then([{ type: 'Increased', amount: 1 }]);
const clock = createTestClock();
createSystem({ store: memoryStore(), entities: [Counter], clock, idleTimeoutMs: 1000 });
clock.advance(1000);`,
  'pachyderm/dashboard': `
import { createServer } from 'node:http';
import { type DashboardServer, dashboard, dashboardHandler } from 'pachyderm/dashboard';
const server: DashboardServer = await dashboard(system, { token: process.env.DASHBOARD_TOKEN, port: 0, actions: false });
export const url: string = server.url;
await server.close();
createServer(dashboardHandler(system, { token: 'secret', basePath: '/ops' }));
// @ts-expect-error: a port is a number
dashboard(system, { token: 'secret', port: '7700' });`,
};

/** Every importable subpath, as a user spells it: `.` is `pachyderm`, `./sqlite` is `pachyderm/sqlite`. */
const subpaths = Object.keys(pkg.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`));

function userFile(): string {
  return subpaths
    .map((spec, i) => uses[spec] ?? `\nimport * as module${i} from '${spec}';\nconsole.log(module${i});`)
    .join('\n');
}

interface LockEntry {
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}

/** The repo's locked entries for `names` and everything they depend on, at the same node_modules paths. */
async function lockedTree(names: readonly string[]): Promise<Record<string, LockEntry>> {
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8'));
  const packages: Record<string, LockEntry> = lock.packages;
  const locate = (from: string, name: string): string | undefined => {
    for (
      let dir = from;
      ;
      dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : ''
    ) {
      const path = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (packages[path]) return path;
      if (!dir) return undefined;
    }
  };
  const tree: Record<string, LockEntry> = {};
  const add = (from: string, name: string, optional = false) => {
    const path = locate(from, name);
    if (path === undefined) {
      if (optional) return;
      throw new Error(`${name} (needed by ${from || 'the user'}) is not in package-lock.json`);
    }
    if (tree[path]) return;
    const { dev, devOptional, peer, ...entry } = packages[path] as LockEntry;
    tree[path] = entry;
    for (const dependency of Object.keys(entry.dependencies ?? {})) add(path, dependency);
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) add(path, dependency, true);
  };
  for (const name of names) add('', name);
  return tree;
}

async function tsc(...flags: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await exec(join(app, 'node_modules/.bin/tsc'), ['--noEmit', '-p', '.', ...flags], { cwd: app });
    return { code: 0, output: stdout };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: code ?? -1, output: `${stdout ?? ''}${stderr ?? ''}` };
  }
}

beforeAll(async () => {
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: root,
  });
  const [packed] = JSON.parse(stdout) as { filename: string; integrity: string; files: { path: string }[] }[];
  packedFiles = packed!.files.map((file) => file.path);
  const tarball = `file:../${packed!.filename}`;

  // The package's own dependencies come with it, at the versions the repo locked.
  const tree = await lockedTree([...userInstalls, ...Object.keys(pkg.dependencies ?? {})]);
  const dependencies: Record<string, string> = { [pkg.name]: tarball };
  for (const name of userInstalls) dependencies[name] = tree[`node_modules/${name}`]!.version;
  const pachyderm = {
    version: pkg.version,
    resolved: tarball,
    integrity: packed!.integrity,
    dependencies: pkg.dependencies,
    bin: pkg.bin,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
  };
  const lockfile = {
    name: 'app',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'app', dependencies }, [`node_modules/${pkg.name}`]: pachyderm, ...tree },
  };

  await mkdir(app);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  await writeFile(join(app, 'package.json'), json({ name: 'app', private: true, type: 'module', dependencies }));
  await writeFile(join(app, 'package-lock.json'), json(lockfile));
  await writeFile(
    join(app, 'tsconfig.json'),
    json({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ['index.ts'],
    }),
  );
  await writeFile(join(app, 'index.ts'), userFile());
  await writeFile(
    join(app, 'cli-app.ts'),
    `import { defineEntity, memoryStore, ok, silentLogger } from 'pachyderm';
const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }) => ok([{ type: 'Increased' as const }]),
  update: (_event, state) => ({ count: state.count + 1 }),
});
export default { store: memoryStore(), entities: [Counter], logger: silentLogger };
`,
  );
  await exec('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app });
}, 120_000);

describe(`the packed tarball, installed with ${userInstalls.join(', ')}`, () => {
  it(`type-checks a strict NodeNext file using ${subpaths.join(', ')}, declarations included`, async () => {
    const { code, output } = await tsc();
    expect(code, output).toBe(0);
  });

  it("ships the dashboard's front end: its static files, as the build copied them into dist", async () => {
    const assets = (await readdir(join(root, 'src/dashboard/assets'))).sort();
    expect(assets).toEqual(expect.arrayContaining(['app.css', 'app.js', 'index.html', 'login.html']));
    expect(packedFiles.filter((path) => path.startsWith('dist/dashboard/assets/')).sort()).toEqual(
      assets.map((name) => `dist/dashboard/assets/${name}`),
    );
  });

  it('type-checks it with skipLibCheck too, the types of pg still in force', async () => {
    const { code, output } = await tsc('--skipLibCheck');
    expect(code, output).toBe(0);
  });

  it('runs the bin: npx pachyderm --help, and a command on an app in TypeScript', async () => {
    const help = await exec('npx', ['pachyderm', '--help'], { cwd: app });
    expect(help.stdout).toContain('pachyderm inspect <type> <id> --app <module>');
    const { stdout } = await exec('npx', ['pachyderm', 'inspect', 'Counter', 'c1', '--app', './cli-app.ts', '--json'], {
      cwd: app,
    });
    expect(JSON.parse(stdout)).toMatchObject({ ref: { type: 'Counter', id: 'c1' }, version: 0, state: { count: 0 } });
  });
});
