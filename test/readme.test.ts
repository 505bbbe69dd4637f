/**
 * The README is the front door: its examples are the files in examples/readme (checked here to
 * match), they run, and they print what the README says they print. The demo behind `npm start`
 * tells the story it claims.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const readme = await readFile(join(root, 'README.md'), 'utf8');
const work = await mkdtemp(join(tmpdir(), 'pachyderm-readme-'));
afterAll(() => rm(work, { recursive: true, force: true }));

/** Runs a TypeScript file the way a user would, in a directory of its own. */
async function run(file: string): Promise<string> {
  const cwd = await mkdtemp(join(work, 'run-'));
  const { stdout } = await promisify(execFile)(join(root, 'node_modules/.bin/tsx'), [join(root, file)], {
    cwd,
    env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
  });
  return stdout;
}

function blocks(marker: 'example' | 'output'): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = new RegExp(`<!-- ${marker}: (\\S+) -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``, 'g');
  for (const match of readme.matchAll(pattern)) found.set(match[1] as string, match[2] as string);
  return found;
}

describe('README', () => {
  const examples = blocks('example');
  const outputs = blocks('output');

  it('shows every file of examples/readme, verbatim', async () => {
    const files = (await readdir(join(root, 'examples/readme'))).map((f) => `examples/readme/${f}`);
    expect([...examples.keys()].sort()).toEqual(files.sort());
    for (const [file, code] of examples) {
      expect(code, file).toBe((await readFile(join(root, file), 'utf8')).trimEnd());
    }
  });

  for (const file of blocks('example').keys()) {
    it(`runs ${file}${blocks('output').has(file) ? ' and prints what the README shows' : ''}`, async () => {
      const stdout = await run(file);
      const expected = outputs.get(file);
      if (expected !== undefined) expect(stdout.trimEnd()).toBe(expected);
    });
  }

  it('names test files that exist in its guarantee table', () => {
    const named = [...readme.matchAll(/`([\w-]+\.test\.ts)`/g)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(5);
    for (const name of named) expect(existsSync(join(root, 'test', name)), name).toBe(true);
  });

  it('names every guarantee test in its tables (the rest are listed here as not guarantees)', async () => {
    const notGuarantees = new Set([
      'call.test.ts',
      'close.test.ts',
      'decide.test.ts',
      'migrations.test.ts',
      'passivation.test.ts',
      'readme.test.ts',
      'testing-helper.test.ts',
    ]);
    const files = (await readdir(join(root, 'test'))).filter((f) => f.endsWith('.test.ts') && !notGuarantees.has(f));
    for (const file of files) expect(readme, file).toContain(`\`${file}\``);
  });

  it('gives the two commands of the quickstart', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});

describe('npm start', () => {
  it('tells the story: ten increments, one admin mail at ten, the state recovered after a restart', async () => {
    const stdout = await run('examples/demo.ts');
    const mails = stdout.split('\n').filter((line) => line.includes('mail to admin@myapp.example'));
    expect(mails).toEqual(['  ✉  mail to admin@myapp.example: "Reached 10"']);
    expect(stdout).toContain('increment 10: count is 10 (event log at version 10)');
    expect(stdout).toContain('recovered from the event log: count is 10 at version 10');
    expect(stdout).toContain('one more increment: count is 11');
  });
});
