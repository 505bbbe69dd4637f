/**
 * Starts a cluster of three processes on this machine (examples/cluster/node.ts), one SQLite file
 * between them, lets each make its calls, closes them gracefully, and prints the balances.
 *
 *   npx tsx examples/cluster/run.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Account, bank } from './bank.js';

const filename = join(mkdtempSync(join(tmpdir(), 'pachyderm-cluster-')), 'bank.db');
const script = fileURLToPath(new URL('./node.ts', import.meta.url));

/** A free port for each node (a real deployment gives each a fixed one). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const nodes = await Promise.all(
  ['node-a', 'node-b', 'node-c'].map(async (name) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, name, String(await freePort()), filename], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const done = new Promise<string>((resolve) =>
      createInterface({ input: child.stdout }).once('line', (line) => resolve(line)),
    );
    return { name, child, done };
  }),
);
for (const node of nodes) {
  const line = await node.done;
  console.log(line.replace(/: .*/, ''));
}
await Promise.all(nodes.map(({ child }) => new Promise((resolve) => child.once('exit', resolve).kill('SIGTERM'))));

const reader = bank(filename);
for (let i = 0; i < 5; i++) {
  const { state } = await reader.read(Account.ref(`acct-${i}`));
  console.log(`acct-${i}: ${state.balance}`);
}
await reader.close();
