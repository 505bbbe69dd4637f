/**
 * The dashboard in a real browser (headless Chromium through playwright-core), on a SQLite system:
 * log in on the login page, find an entity by type and id, see its state, move through its history
 * by the list and the slider, watch it change live without a reload, see the dead letters (and
 * retry one after a confirmation) and the projections. An entity whose id and events hold
 * `</script>`, quotes and HTML shows them as text and runs nothing. Screenshots go to
 * test-output/dashboard/ (the ones in docs/images come from here).
 *
 * Without a Chromium executable (PACHYDERM_CHROMIUM, else /usr/bin/chromium and its usual other
 * places) these tests alone are skipped, with a warning that says so.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSystem, type System, silentLogger } from 'pachyderm';
import { type DashboardServer, dashboard } from 'pachyderm/dashboard';
import { type ConsoleMessage, chromium, type Dialog, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fragileLines,
  hostileStrings,
  Journal,
  JournalLines,
  Mailer,
  newToken,
  newWorld,
  Watcher,
} from './support/dashboard.js';
import { useStorePlaces } from './support/stores.js';

const candidates = process.env.PACHYDERM_CHROMIUM
  ? [process.env.PACHYDERM_CHROMIUM]
  : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium'];
const executablePath = candidates.find((path) => existsSync(path));
const hasChromium = executablePath !== undefined;
if (!hasChromium) {
  console.warn(
    `dashboard-browser.test.ts is skipped: no Chromium at ${candidates.join(', ')}. Install chromium (apt-get install chromium), or set PACHYDERM_CHROMIUM to its executable.`,
  );
}

const screenshots = new URL('../test-output/dashboard/', import.meta.url).pathname;
const viewport = { width: 1280, height: 800 };

describe.skipIf(!hasChromium)('the dashboard in headless Chromium', () => {
  const places = useStorePlaces();
  const world = newWorld();
  const token = newToken();
  let system: System;
  let server: DashboardServer;
  let browser: Awaited<ReturnType<typeof chromium.launch>>;
  let page: Page;
  /** What the page did that it must not: dialogs it was not asked for, script errors, console errors (CSP). */
  const trouble: string[] = [];
  let expectDialog: ((dialog: Dialog) => Promise<void>) | undefined;

  beforeAll(async () => {
    await mkdir(screenshots, { recursive: true });
    system = createSystem({
      store: (await places.place('sqlite')).newStore(),
      entities: [Journal],
      effects: [Mailer],
      projections: [JournalLines, fragileLines(world)],
      reactors: [Watcher],
      context: world,
      logger: silentLogger,
    });
    const id = 'order-2026-0042';
    await system.call(Journal.ref(id), { type: 'Write', text: 'first' });
    await system.call(Journal.ref(id), { type: 'Write', text: 'second' });
    await system.call(Journal.ref(id), { type: 'Remind', text: 'call the customer back', minutes: 90 });
    await system.call(Journal.ref(id), { type: 'Write', text: 'third' });
    await system.call(Journal.ref('journal-7'), { type: 'Write', text: 'poison' });
    world.outage = true;
    await system.call(Journal.ref(id), { type: 'Mail', to: 'customer@example.test', text: 'your order shipped' });
    await system.settled();
    world.outage = false;
    server = await dashboard(system, { token, port: 0, actions: true });
    browser = await chromium.launch({ executablePath, headless: true });
    page = await (await browser.newContext({ viewport })).newPage();
    // A page that never shows what a test waits for fails in seconds, not at the test's timeout.
    page.setDefaultTimeout(5000);
    page.on('dialog', async (dialog) => {
      if (expectDialog) return expectDialog(dialog);
      trouble.push(`dialog: ${dialog.message()}`);
      await dialog.dismiss();
    });
    page.on('pageerror', (error) => trouble.push(`page error: ${error.message}`));
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') trouble.push(`console: ${message.text()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await system?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(screenshots, name) });
  const ready = () => page.waitForSelector('body[data-ready="true"]');
  const text = async (selector: string) => (await page.locator(selector).textContent()) ?? '';
  /** Clicks what navigates to another page, and waits until that page has rendered its data. */
  const navigate = async (selector: string, arrived: (url: URL) => boolean) => {
    await Promise.all([page.waitForURL(arrived), page.click(selector)]);
    await ready();
  };
  const search = async (id: string) => {
    await page.selectOption('#type', 'Journal');
    await page.fill('#id', id);
    await navigate('#search button[type=submit]', (url) => url.searchParams.get('id') === id);
    await page.waitForSelector('#entity:visible');
  };
  const open = (name: string) => navigate(`nav a[data-page="${name}"]`, (url) => url.pathname.endsWith(`/${name}`));

  it('logs in on the login page, finds an entity by type and id, and shows its state', async () => {
    await page.goto(server.url);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', `${token}-wrong`);
    await page.click('button[type=submit]');
    await page.waitForSelector('#login-failed:visible');
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL(server.url);
    await ready();

    await search('order-2026-0042');
    expect(await text('#entity-id')).toBe('order-2026-0042');
    expect(await text('#entity-version')).toBe('5');
    expect(JSON.parse(await text('#state-now'))).toEqual((await system.read(Journal.ref('order-2026-0042'))).state);
    const outbox = page.locator('#entity-outbox tbody tr');
    // The reminder's timer, and the mail that was given up (still the entity's outbox row).
    await expect.poll(() => outbox.count()).toBe(2);
    expect(await outbox.nth(0).textContent()).toMatch(/timer key "reminder".*pending/);
    expect(await outbox.nth(1).textContent()).toMatch(/Mailer.*dead.*mail server down/);
    await page.waitForSelector('#entity-live:text("following new events")');
    await shot('entity.png');
  });

  it('moves through the history by the list and the slider, and shows the state at an earlier version', async () => {
    await page.click('#history li[data-version="1"] button.version');
    expect(await text('#state-at-version')).toBe('1');
    expect(JSON.parse(await text('#state-at'))).toEqual({ lines: ['first'], reminders: 0 });
    expect(await page.locator('#history li.selected').getAttribute('data-version')).toBe('1');

    await page.focus('#version-slider');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#state-at-version:text-is("3")');
    expect(JSON.parse(await text('#state-at'))).toEqual({ lines: ['first', 'second'], reminders: 1 });
    await page.locator('#history li[data-version="3"] details summary').click();
    await page
      .locator('#history-heading')
      .evaluate((heading) => (heading as unknown as { scrollIntoView(): void }).scrollIntoView());
    await shot('history.png');
  });

  it('updates the open entity live when a call commits, without a reload', async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });
    await system.call(Journal.ref('order-2026-0042'), { type: 'Write', text: 'fourth, live' });
    await page.waitForSelector('#entity-version:text-is("6")');
    expect(JSON.parse(await text('#state-now')).lines).toEqual([
      'first',
      'second',
      'third',
      'your order shipped',
      'fourth, live',
    ]);
    expect(await page.locator('#history li').first().getAttribute('data-version')).toBe('6');
    // The slider stayed where the operator left it.
    expect(await text('#state-at-version')).toBe('3');
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(
      true,
    );
  });

  it('shows the dead letters with their reason, and retries one only once confirmed', async () => {
    await open('dead-letters');
    const rows = page.locator('#dead-letters tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('mail server down for customer@example.test');
    await shot('dead-letters.png');

    const asked: string[] = [];
    expectDialog = async (dialog) => {
      asked.push(dialog.type());
      await dialog.dismiss();
    };
    await rows.first().locator('button', { hasText: 'Retry' }).click();
    await expect.poll(() => asked).toEqual(['confirm']);
    expect(await system.deadLetters()).toHaveLength(1);

    expectDialog = (dialog) => dialog.accept();
    await rows.first().locator('button', { hasText: 'Retry' }).click();
    await page.waitForSelector('#dead-letters-empty:visible');
    expectDialog = undefined;
    expect(await system.deadLetters()).toEqual([]);
    await system.settled();
    expect(world.mails).toEqual(['your order shipped']);
  });

  it('shows the projections and reactors with their state and lag', async () => {
    await open('projections');
    const rows = page.locator('#projections tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    const fragile = rows.filter({ hasText: 'fragile_lines' });
    await expect
      .poll(async () => {
        await page.click('#refresh-projections');
        return ((await fragile.textContent()) ?? '').includes('cannot project a poisoned line');
      })
      .toBe(true);
    expect(await fragile.textContent()).toContain('failed');
    expect(await rows.filter({ hasText: 'journal_lines' }).textContent()).toContain('live');
    await shot('projections.png');

    await open('outbox');
    expect(await text('#stats')).toContain('Pending timers');
    await shot('outbox.png');
  });

  it('shows an entity whose id and events hold </script>, quotes and HTML as text, and runs none of it', async () => {
    const id = `${hostileStrings[0]}${hostileStrings[1]}`;
    for (const value of hostileStrings) await system.call(Journal.ref(id), { type: 'Write', text: value });
    world.outage = true;
    await system.call(Journal.ref(id), { type: 'Mail', to: hostileStrings[1], text: hostileStrings[0] });
    await system.settled();

    /** Nothing of the data ran: no element it describes, no flag it sets, no dialog, no error. */
    const ranNothing = async () => {
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(trouble).toEqual([]);
    };
    await navigate('nav a[data-page="entities"]', (url) => url.pathname === '/');
    await search(id);
    await ranNothing();
    expect(await page.locator('#entity-id').textContent()).toBe(id);
    const lines = [...hostileStrings, hostileStrings[0]];
    expect(JSON.parse(await text('#state-now'))).toEqual({ lines, reminders: 0 });
    const events = await page.locator('#history li > pre').allTextContents();
    expect(events.map((event) => JSON.parse(event).text)).toEqual([...lines].reverse());

    await open('dead-letters');
    await ranNothing();
    expect(await page.locator('#dead-letters tbody').textContent()).toContain(hostileStrings[1]);
  });
});

describe.skipIf(!hasChromium)("npm start's demo, then `pachyderm dashboard` on its file, in headless Chromium", () => {
  const root = new URL('..', import.meta.url).pathname;
  let cwd: string;
  let child: ChildProcess | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'pachyderm-demo-'));
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await browser?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it('the address the CLI prints logs in by itself and shows the demo counter', async () => {
    const tsx = join(root, 'node_modules/.bin/tsx');
    const { stdout } = await promisify(execFile)(tsx, [join(root, 'examples/demo.ts')], { cwd });
    const id = /inspect Counter (\S+)/.exec(stdout)?.[1] as string;
    expect(stdout).toContain('npm run pachyderm -- dashboard --app examples/demo-app.ts');
    // What `npm run pachyderm -- dashboard ...` runs, on a free port, with no token set: it makes one.
    const { PACHYDERM_DASHBOARD_TOKEN: _, ...env } = process.env;
    const started = spawn(
      process.execPath,
      [join(root, 'dist/cli/main.js'), 'dashboard', '--app', join(root, 'examples/demo-app.ts'), '--port', '0'],
      { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    const address = await new Promise<string>((resolve, reject) => {
      let stderr = '';
      started.stderr?.setEncoding('utf8');
      started.stderr?.on('data', (chunk: string) => {
        stderr += chunk;
        const found = /open (http:\/\/127\.0\.0\.1:\d+\/login#token=\S+)/.exec(stderr)?.[1];
        if (found) resolve(found);
      });
      started.on('exit', (code) => reject(new Error(`the dashboard exited (${code}): ${stderr}`)));
    });
    browser = await chromium.launch({ executablePath, headless: true });
    const page = await (await browser.newContext({ viewport })).newPage();
    await page.goto(address);
    await page.waitForSelector('body[data-ready="true"]');
    // Logged in, and the token is gone from the address bar.
    expect(new URL(page.url()).pathname).toBe('/');
    expect(page.url()).not.toContain('token');
    await page.selectOption('#type', 'Counter');
    await page.fill('#id', id);
    await Promise.all([
      page.waitForURL((url) => url.searchParams.get('id') === id),
      page.click('#search button[type=submit]'),
    ]);
    await page.waitForSelector('#entity:visible');
    await expect
      .poll(async () => JSON.parse((await page.locator('#state-now').textContent()) ?? 'null'))
      .toEqual({ count: 11 });
    expect(await page.locator('#entity-version').textContent()).toBe('11');
    const exited = new Promise<number | null>((resolve) => started.on('exit', resolve));
    started.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
