/**
 * `pachyderm/store`'s contract suite needs no Vitest: it runs under Node's own test runner
 * (`node:test`) against the memory store, in a child process, the way a store author would run it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const work = await mkdtemp(join(tmpdir(), 'pachyderm-contract-'));
afterAll(() => rm(work, { recursive: true, force: true }));

describe('the store contract under node:test', () => {
  it('passes for the memory store, every case run', async () => {
    const file = join(work, 'memory.contract.mts');
    await writeFile(
      file,
      `import { afterEach, describe, it } from 'node:test';
import { memoryStore } from 'pachyderm';
import { describeStoreContract } from 'pachyderm/store';

describeStoreContract('memory', () => {
  const store = memoryStore();
  return { newStore: () => store };
}, { describe, it, afterEach });
`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', join(root, 'node_modules/tsx/dist/esm/index.mjs'), '--test', '--test-reporter=tap', file],
      { cwd: work, env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') } },
    );
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(stdout)?.[1]);
    // The cases of the contract and of its parts (contract-*.ts).
    const parts = (await readdir(join(root, 'src/store'))).filter((f) => /^contract(-.+)?\.ts$/.test(f));
    let cases = 0;
    for (const part of parts) {
      cases += (await readFile(join(root, 'src/store', part), 'utf8')).match(/^\s+it\('/gm)?.length ?? 0;
    }
    expect(count('fail'), stdout).toBe(0);
    expect(count('pass'), stdout).toBe(cases);
  });
});
