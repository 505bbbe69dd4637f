/**
 * The README is the front door and docs/ the rooms; both tell the truth or this fails. Every
 * TypeScript block is a tested file: an example (the whole file, verbatim, run, its output compared
 * when the page shows it) or an excerpt (lines found verbatim in a file that is checked and run
 * elsewhere). Links lead to files and headings that exist; table cells stay a sentence or two;
 * every guarantee names a test file; every test file is named; every error code is documented.
 * The demo behind `npm start` tells the story it claims.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from 'pachyderm';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const work = await mkdtemp(join(tmpdir(), 'pachyderm-docs-'));
afterAll(() => rm(work, { recursive: true, force: true }));

const pages = [
  'README.md',
  ...(await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];
const text = new Map(
  await Promise.all(pages.map(async (page) => [page, await readFile(join(root, page), 'utf8')] as const)),
);
const readme = text.get('README.md') as string;
const testFiles = (await readdir(join(root, 'test'), { recursive: true })).filter((f) => f.endsWith('.test.ts'));

/** Runs a TypeScript file the way a user would, in a directory of its own. */
async function run(file: string, cwd?: string): Promise<string> {
  const { stdout } = await promisify(execFile)(join(root, 'node_modules/.bin/tsx'), [join(root, file)], {
    cwd: cwd ?? (await mkdtemp(join(work, 'run-'))),
    env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
  });
  return stdout;
}

interface Block {
  readonly page: string;
  readonly marker: 'example' | 'excerpt' | 'output' | undefined;
  readonly file: string | undefined;
  readonly language: string;
  readonly code: string;
}

/** Every fenced block of a page, with the marker comment right above it, if any. */
function blocks(page: string): Block[] {
  const pattern = /(?:<!-- (example|excerpt|output): (\S+) -->\n)?```(\w*)\n([\s\S]*?)\n```/g;
  return [...(text.get(page) as string).matchAll(pattern)].map((m) => ({
    page,
    marker: m[1] as Block['marker'],
    file: m[2],
    language: m[3] as string,
    code: m[4] as string,
  }));
}
const all = pages.flatMap(blocks);
const examples = [...new Set(all.filter((b) => b.marker === 'example').map((b) => b.file as string))];
const outputs = new Map(all.filter((b) => b.marker === 'output').map((b) => [b.file as string, b.code]));

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}
const anchors = (page: string) =>
  new Set(
    [...(text.get(page) ?? readFileSync(join(root, page), 'utf8')).matchAll(/^#+ (.+)$/gm)].map((m) =>
      slug(m[1] as string),
    ),
  );

describe('README and docs', () => {
  it('shows every example file verbatim: examples/readme in the README, examples/docs in docs/', async () => {
    for (const [folder, where] of [
      ['examples/readme', (page: string) => page === 'README.md'],
      ['examples/docs', (page: string) => page.startsWith('docs/')],
    ] as const) {
      const files = (await readdir(join(root, folder))).map((f) => `${folder}/${f}`).sort();
      const shown = all.filter((b) => b.marker === 'example' && b.file?.startsWith(`${folder}/`));
      expect([...new Set(shown.map((b) => b.file))].sort()).toEqual(files);
      for (const block of shown) {
        expect(where(block.page), `${block.file} shown in ${block.page}`).toBe(true);
        expect(block.code, block.file).toBe((await readFile(join(root, block.file as string), 'utf8')).trimEnd());
      }
    }
  });

  it('shows excerpts found verbatim in their files, and no TypeScript that is neither', async () => {
    for (const block of all.filter((b) => b.language === 'ts')) {
      expect(['example', 'excerpt'], `a ts block in ${block.page}`).toContain(block.marker);
      if (block.marker === 'excerpt') {
        const file = await readFile(join(root, block.file as string), 'utf8');
        expect(file.includes(block.code), `excerpt of ${block.file} in ${block.page}`).toBe(true);
      }
    }
  });

  for (const file of examples) {
    it(`runs ${file}${outputs.has(file) ? ' and prints what the page shows' : ''}`, async () => {
      const stdout = await run(file);
      const expected = outputs.get(file);
      if (expected !== undefined) expect(stdout.trimEnd()).toBe(expected);
    });
  }

  it('links only to files and headings that exist', () => {
    for (const page of pages) {
      for (const [, target] of (text.get(page) as string).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        const [path, anchor] = (target as string).split('#') as [string, string | undefined];
        const resolved = path === '' ? page : normalize(join(dirname(page), path));
        expect(existsSync(join(root, resolved)), `${page} links to ${target}`).toBe(true);
        if (anchor !== undefined && resolved.endsWith('.md')) {
          expect(anchors(resolved).has(anchor), `${page} links to ${target}`).toBe(true);
        }
      }
    }
  });

  it('keeps every table cell to a sentence or two', () => {
    for (const page of pages) {
      for (const line of (text.get(page) as string).split('\n').filter((l) => l.startsWith('|'))) {
        for (const cell of line.split('|').slice(1, -1))
          expect(cell.trim().length, `${page}: ${cell}`).toBeLessThanOrEqual(200);
      }
    }
  });

  it('names at least one existing test file for every guarantee', () => {
    const guarantees = (text.get('docs/guarantees.md') as string).split('## Not promised')[0] as string;
    const sections = guarantees.split(/^## /m).slice(1);
    expect(sections.length).toBeGreaterThan(10);
    for (const section of sections) {
      const named = [...section.matchAll(/`([\w-]+\.test\.ts)`/g)].map((m) => m[1]);
      expect(named.length, `guarantee "${section.split('\n')[0]}" names no test`).toBeGreaterThan(0);
    }
  });

  it('names test files that exist, and every test file somewhere', () => {
    const everything = [...text.values()].join('\n');
    const basenames = new Set(testFiles.map((f) => f.split('/').at(-1)));
    for (const [, name] of everything.matchAll(/`([\w-]+\.test\.ts)`/g)) expect(basenames.has(name), name).toBe(true);
    for (const file of testFiles) expect(everything, file).toContain(file.split('/').at(-1));
  });

  it('documents every error code', () => {
    for (const code of Object.values(ErrorCode)) expect(text.get('docs/errors.md'), code).toContain(`\`${code}\``);
  });

  it('keeps the README a front door: the two commands of the quickstart, in under 12 KB', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
    expect(Buffer.byteLength(readme)).toBeLessThan(12_000);
  });
});

describe('npm start', () => {
  it('tells the story: ten increments, one admin mail at ten, the state recovered after a restart', async () => {
    const cwd = await mkdtemp(join(work, 'demo-'));
    const stdout = await run('examples/demo.ts', cwd);
    const mails = stdout.split('\n').filter((line) => line.includes('mail to admin@myapp.example'));
    expect(mails).toEqual(['  ✉  mail to admin@myapp.example: "Reached 10"']);
    expect(stdout).toContain('increment 10: count is 10 (event log at version 10)');
    expect(stdout).toContain('recovered from the event log: count is 10 at version 10');
    expect(stdout).toContain('one more increment: count is 11');

    // It ends by saying how to look inside its file: the dashboard, and the CLI command it prints works.
    expect(stdout).toContain('npm run pachyderm -- dashboard --app examples/demo-app.ts');
    const printed = /npm run pachyderm -- (inspect Counter \S+ --at 5 --app examples\/demo-app\.ts)/.exec(stdout)?.[1];
    expect(printed).toBeDefined();
    const args = (printed as string).split(' ').map((arg) => (arg.startsWith('examples/') ? join(root, arg) : arg));
    const { stdout: inspected } = await promisify(execFile)(
      process.execPath,
      [join(root, 'dist/cli/main.js'), ...args, '--json'],
      {
        cwd,
      },
    );
    expect(JSON.parse(inspected)).toMatchObject({ state: { count: 5 }, version: 5 });
  });
});
