/**
 * The dashboard over HTTP, with real `fetch` against a running system on SQLite and PostgreSQL:
 * nothing about an entity without the token (Bearer or the login cookie), JSON of real entities
 * (state now and at a version, history with the state after each event, timers and outbox rows,
 * dead letters, projections with lag), actions only when turned on and confirmed, hostile ids and
 * values back exactly as data and never in a page, bad input answered with the system's code, the
 * handler mounted under a base path in a server of one's own, and live streams that end on close.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSystem, memoryStore, type System, type SystemOptions, silentLogger, sql } from 'pachyderm';
import { type DashboardServer, type DashboardServerOptions, dashboard, dashboardHandler } from 'pachyderm/dashboard';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Answer,
  answer,
  fragileLines,
  hostileStrings,
  Journal,
  JournalLines,
  Mailer,
  newToken,
  newWorld,
  protoValue,
  sseMessages,
  Watcher,
  type World,
} from './support/dashboard.js';
import { type StoreKind, useSystems } from './support/systems.js';

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** The JSON routes that carry entity data, each with a query that names a real entity. */
const dataRoutes = (id: string) => [
  'api/overview',
  `api/entity?type=Journal&id=${encodeURIComponent(id)}`,
  `api/entity/at?type=Journal&id=${encodeURIComponent(id)}&version=1`,
  `api/entity/history?type=Journal&id=${encodeURIComponent(id)}`,
  `api/entity/stream?type=Journal&id=${encodeURIComponent(id)}`,
  'api/dead-letters',
  'api/projections',
];

const pages = ['', 'dead-letters', 'projections', 'outbox'];

const servers: DashboardServer[] = [];
const ownServers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await Promise.all(
    ownServers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

describe('dashboard options', () => {
  it('refuses to serve without a token: missing or empty is INVALID_CONFIGURATION', async () => {
    const system = createSystem({ store: memoryStore(), entities: [Journal] });
    try {
      for (const options of [{}, { token: '' }, { token: undefined }] as DashboardServerOptions[]) {
        await expect(dashboard(system, { ...options, port: 0 })).rejects.toMatchObject({
          code: 'INVALID_CONFIGURATION',
        });
        expect(() => dashboardHandler(system, options)).toThrow(
          expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
        );
      }
    } finally {
      await system.close();
    }
  });
});

describe.each(['sqlite', 'postgres'] as StoreKind[])('the dashboard on %s', (kind) => {
  const { place, start } = useSystems();

  async function open(options: Partial<DashboardServerOptions> = {}, systemOptions: Partial<SystemOptions> = {}) {
    const world = newWorld();
    const system = start({
      store: (await place(kind)).newStore(),
      entities: [Journal],
      effects: [Mailer],
      projections: [JournalLines, fragileLines(world)],
      reactors: [Watcher],
      context: world,
      logger: silentLogger,
      ...systemOptions,
    });
    const token = newToken();
    const server = await dashboard(system, { token, port: 0, ...options });
    servers.push(server);
    const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
      fetch(new URL(path, server.url), { headers, redirect: 'manual' });
    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      fetch(new URL(path, server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        redirect: 'manual',
      });
    return { system, server, token, world, get, post, bearer: { authorization: `Bearer ${token}` } };
  }

  /** A journal that wrote three lines. */
  async function journal(system: System, id: string) {
    for (const text of ['first', 'second', 'third']) await system.call(Journal.ref(id), { type: 'Write', text });
  }

  /** A dead letter: the mail effect failed during an outage (it has one attempt). */
  async function deadLetter(system: System, world: World, id: string) {
    world.outage = true;
    await system.call(Journal.ref(id), { type: 'Mail', to: 'ops@example.test', text: 'hello' });
    await system.settled();
    const letters = await system.deadLetters();
    expect(letters).toHaveLength(1);
    return letters[0]!;
  }

  it('binds 127.0.0.1 by default and answers 401 JSON without the token or with a wrong one', async () => {
    const { system, server, get, token } = await open();
    await journal(system, 'j-1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.host).toBe('127.0.0.1');
    const wrong: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${token}x` },
      { authorization: `Bearer ${token.slice(1)}` },
      { authorization: token },
      { cookie: `pachyderm_dashboard=${token}` },
      { cookie: 'pachyderm_dashboard=' },
    ];
    for (const route of dataRoutes('j-1')) {
      for (const headers of wrong) {
        const response = await get(route, headers);
        expect(response.status, `${route} with ${JSON.stringify(headers)}`).toBe(401);
        const body = await response.json();
        expect(body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
        expect(JSON.stringify(body)).not.toContain('first');
      }
    }
    for (const page of pages) {
      const response = await get(page, {});
      expect(response.status, page).toBe(303);
      expect(response.headers.get('location')).toBe('/login');
    }
  });

  it('opens with a Bearer token, and with the cookie the login page sets (HttpOnly, SameSite=Strict)', async () => {
    const { system, server, get, token, bearer } = await open();
    await journal(system, 'j-1');
    expect((await get('api/entity?type=Journal&id=j-1', bearer)).status).toBe(200);

    const loginPage = await get('login', {});
    expect(loginPage.status).toBe(200);
    const form = await loginPage.text();
    expect(form).toMatch(/<form method="post" action="login">/);
    expect(form).toMatch(/name="token"/);

    const login = (given: string) =>
      fetch(new URL('login', server.url), {
        method: 'POST',
        body: new URLSearchParams({ token: given }),
        redirect: 'manual',
      });
    const refused = await login(`${token}!`);
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe('/login?failed');
    expect(refused.headers.get('set-cookie')).toBeNull();

    const accepted = await login(token);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe('/');
    const setCookie = accepted.headers.get('set-cookie') as string;
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toContain(token);
    const cookie = { cookie: setCookie.split(';')[0] as string };
    const entity = await get('api/entity?type=Journal&id=j-1', cookie);
    expect(entity.status).toBe(200);
    expect((await answer(entity)).state.lines).toEqual(['first', 'second', 'third']);
    for (const page of pages) expect((await get(page, cookie)).status, page).toBe(200);
    // A proxy's Basic auth in front does not hide the cookie; a wrong Bearer token is still refused.
    expect((await get('api/overview', { ...cookie, authorization: 'Basic dXNlcjpwYXNz' })).status).toBe(200);
    expect((await get('api/overview', { ...cookie, authorization: 'Bearer nope' })).status).toBe(401);

    const logout = await fetch(new URL('logout', server.url), { method: 'POST', headers: cookie, redirect: 'manual' });
    expect(logout.headers.get('set-cookie')).toMatch(/^pachyderm_dashboard=; Max-Age=0/);
  });

  it('answers JSON of a real entity: its state now, at a version, and its history with the state after each event', async () => {
    const { system, get } = await open();
    await journal(system, 'j-1');

    const now = await get('api/entity?type=Journal&id=j-1');
    expect(now.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(now.headers.get('content-security-policy')).toBe(CSP);
    expect(now.headers.get('x-content-type-options')).toBe('nosniff');
    expect(now.headers.get('referrer-policy')).toBe('no-referrer');
    expect(now.headers.get('cache-control')).toBe('no-store');
    expect(await answer(now)).toMatchObject({
      type: 'Journal',
      id: 'j-1',
      version: 3,
      state: { lines: ['first', 'second', 'third'], reminders: 0 },
      owner: null,
    });

    for (const at of [0, 1, 2, 3]) {
      const stateAt = await answer(await get(`api/entity/at?type=Journal&id=j-1&version=${at}`));
      expect(stateAt).toEqual({ type: 'Journal', id: 'j-1', at, ...(await system.read(Journal.ref('j-1'), { at })) });
    }
    expect((await answer(await get('api/entity/at?type=Journal&id=j-1&version=1'))).state.lines).toEqual(['first']);

    const history = await answer(await get('api/entity/history?type=Journal&id=j-1'));
    expect(history).toMatchObject({ from: 1, latestVersion: 3, next: null });
    expect(history.events.map(({ version, event, state }) => ({ version, event, state }))).toEqual([
      { version: 1, event: { type: 'Written', text: 'first', extra: null }, state: { lines: ['first'], reminders: 0 } },
      {
        version: 2,
        event: { type: 'Written', text: 'second', extra: null },
        state: { lines: ['first', 'second'], reminders: 0 },
      },
      {
        version: 3,
        event: { type: 'Written', text: 'third', extra: null },
        state: { lines: ['first', 'second', 'third'], reminders: 0 },
      },
    ]);
    const page = await answer(await get('api/entity/history?type=Journal&id=j-1&from=2&limit=1'));
    expect(page).toMatchObject({ from: 2, next: 3, events: [{ version: 2 }] });
  });

  it('shows the pending timer and outbox rows of an entity that used sendAfter, and the backlog', async () => {
    const { system, get } = await open();
    const before = Date.now();
    await system.call(Journal.ref('j-timer'), { type: 'Remind', text: 'water the plants', minutes: 60 });
    const { outbox } = await answer(await get('api/entity?type=Journal&id=j-timer'));
    expect(outbox).toEqual([
      expect.objectContaining({
        kind: 'message',
        target: { type: 'Journal', id: 'j-timer' },
        payload: { type: 'Write', text: 'water the plants' },
        status: 'pending',
        timer: true,
        timerKey: 'reminder',
        attempts: 0,
        source: { type: 'Journal', id: 'j-timer', version: 1 },
      }),
    ]);
    expect(outbox[0]?.dueAt).toBeGreaterThanOrEqual(before + 60 * 60_000);
    expect(outbox[0]?.dueAt).toBeLessThanOrEqual(Date.now() + 60 * 60_000);
    const { stats, entityTypes, storeKind } = await answer(await get('api/overview'));
    expect({ entityTypes, storeKind }).toEqual({ entityTypes: ['Journal'], storeKind: kind });
    expect(stats).toMatchObject({ pendingTimers: 1, depth: 0, oldestDueAt: null });
  });

  it('lists dead letters with the reason they were given up', async () => {
    const { system, world, get } = await open();
    const letter = await deadLetter(system, world, 'j-mail');
    const { deadLetters } = await answer(await get('api/dead-letters'));
    expect(deadLetters).toEqual([
      {
        id: letter.id,
        kind: 'effect',
        effect: 'Mailer',
        payload: { to: 'ops@example.test', text: 'hello' },
        error: 'mail server down for ops@example.test',
        attempts: 1,
        source: { type: 'Journal', id: 'j-mail', version: 1 },
        idempotencyKey: letter.idempotencyKey,
      },
    ]);
    expect((await answer(await get('api/overview'))).stats.deadLetters).toBe(1);
  });

  it('shows each projection and reactor with its state and lag: caught up, or stopped behind a failing event', async () => {
    const { system, get } = await open();
    await journal(system, 'j-1');
    await system.call(Journal.ref('j-1'), { type: 'Write', text: 'poison' });
    const last = await system.call(Journal.ref('j-1'), { type: 'Write', text: 'after' });
    const position = last.ok ? last.position : '';
    await system.projection(JournalLines).waitFor(position);
    await system.projection(Watcher).waitFor(position);
    await expect(system.projection(fragileLines(newWorld())).waitFor(position)).rejects.toMatchObject({
      code: 'PROJECTION_FAILED',
    });
    const { projections } = await answer(await get('api/projections'));
    expect(projections).toEqual([
      expect.objectContaining({ name: 'journal_lines', mode: 'async', state: 'live', head: position, position }),
      expect.objectContaining({ name: 'fragile_lines', state: 'failed', lastError: 'cannot project a poisoned line' }),
      expect.objectContaining({ name: 'journal_watcher', state: 'live', position, lag: { events: 0, ms: 0 } }),
    ]);
    const [lines, fragile] = projections as [Answer['projections'][0], Answer['projections'][0]];
    expect(lines.lag).toEqual({ events: 0, ms: 0 });
    expect(fragile.lag.events).toBe(2);
    expect(fragile.lag.ms).toBeGreaterThanOrEqual(0);
    expect(fragile.position < position).toBe(true);
  });

  it('refuses actions with actions: false (403 ACTIONS_DISABLED), whatever the request', async () => {
    const { system, world, post, get, bearer } = await open();
    const letter = await deadLetter(system, world, 'j-mail');
    for (const route of ['api/dead-letters/retry', 'api/projections/rebuild', 'api/projections/resume']) {
      const body = route.includes('dead') ? { id: letter.id } : { name: 'journal_lines' };
      const response = await post(route, body, { ...bearer, 'x-pachyderm-action': 'confirm' });
      expect(response.status, route).toBe(403);
      expect(await answer(response)).toEqual({ error: { code: 'ACTIONS_DISABLED', message: expect.any(String) } });
      expect((await get(route)).status).toBe(403);
    }
    expect(await system.deadLetters()).toHaveLength(1);
  });

  it('with actions: true, a confirmed POST puts a dead letter back; not over GET, nor without the header or token', async () => {
    const { system, world, post, get, bearer } = await open({ actions: true });
    const letter = await deadLetter(system, world, 'j-mail');
    const confirm = { 'x-pachyderm-action': 'confirm' };

    const unconfirmed = await post('api/dead-letters/retry', { id: letter.id }, bearer);
    expect(unconfirmed.status).toBe(403);
    expect((await answer(unconfirmed)).error.code).toBe('ACTION_NOT_CONFIRMED');
    expect(
      (await post('api/dead-letters/retry', { id: letter.id }, { ...bearer, 'x-pachyderm-action': 'yes' })).status,
    ).toBe(403);
    expect((await post('api/dead-letters/retry', { id: letter.id }, confirm)).status).toBe(401);
    const overGet = await get(`api/dead-letters/retry?id=${letter.id}`, { ...bearer, ...confirm });
    expect(overGet.status).toBe(405);
    expect(overGet.headers.get('allow')).toBe('POST');
    expect(await system.deadLetters()).toHaveLength(1);

    world.outage = false;
    const retried = await post('api/dead-letters/retry', { id: letter.id }, { ...bearer, ...confirm });
    expect(retried.status).toBe(200);
    expect(await answer(retried)).toEqual({ retried: letter.id });
    expect(await system.deadLetters()).toEqual([]);
    await system.settled();
    expect(world.mails).toEqual(['hello']);
    const again = await post('api/dead-letters/retry', { id: letter.id }, { ...bearer, ...confirm });
    expect(again.status).toBe(404);
    expect((await answer(again)).error.code).toBe('NOT_FOUND');
  });

  it('with actions: true, resumes a stopped projection and rebuilds one', async () => {
    const { system, world, post, bearer } = await open({ actions: true });
    const confirm = { ...bearer, 'x-pachyderm-action': 'confirm' };
    await system.call(Journal.ref('j-1'), { type: 'Write', text: 'poison' });
    const last = await system.call(Journal.ref('j-1'), { type: 'Write', text: 'after' });
    const position = last.ok ? last.position : '';
    const fragile = system.projection(fragileLines(world));
    await expect(fragile.waitFor(position)).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });

    world.poisonFixed = true;
    const resumed = await post('api/projections/resume', { name: 'fragile_lines' }, confirm);
    expect(await answer(resumed)).toEqual({ resumed: 'fragile_lines' });
    await fragile.waitFor(position);
    expect(fragile.status().state).toBe('live');

    await system.projection(JournalLines).waitFor(position);
    await system.query(sql`UPDATE journal_lines SET text = ${'tampered'}`);
    const rebuilt = await post('api/projections/rebuild', { name: 'journal_lines' }, confirm);
    expect(rebuilt.status).toBe(200);
    expect(await answer(rebuilt)).toMatchObject({ rebuilding: 'journal_lines' });
    const lines = () => system.query(sql`SELECT text FROM journal_lines ORDER BY version`);
    await expect.poll(lines).toEqual([{ text: 'poison' }, { text: 'after' }]);
    expect((await post('api/projections/resume', { name: 'nope' }, confirm)).status).toBe(404);
    expect((await post('api/projections/resume', {}, confirm)).status).toBe(400);
  });

  it('shows the members of a cluster, and which of them owns the entity', async () => {
    const cluster = {
      name: 'node-a',
      listen: { host: '127.0.0.1', port: 0 },
      secret: 'shared secret',
      heartbeatMs: 100,
    };
    const { system, get } = await open({}, { cluster: { ...cluster, memberTtlMs: 300, partitions: 8 } });
    await expect.poll(() => system.cluster.ownerOf(Journal.ref('j-1'))?.name, { timeout: 5000 }).toBe('node-a');
    await journal(system, 'j-1');
    const { members } = await answer(await get('api/overview'));
    expect(members).toEqual([expect.objectContaining({ name: 'node-a', status: 'active', self: true })]);
    const { owner } = await answer(await get('api/entity?type=Journal&id=j-1'));
    expect(owner).toEqual(system.cluster.ownerOf(Journal.ref('j-1')));
    expect(owner).toMatchObject({ name: 'node-a', self: true });
  });

  it('gives hostile ids and event values back exactly as data, and never puts them in a page', async () => {
    const { system, get, bearer } = await open();
    const ids = [...hostileStrings, `x${hostileStrings[0]}${hostileStrings[1]}`];
    for (const id of ids) {
      for (const text of hostileStrings) await system.call(Journal.ref(id), { type: 'Write', text, extra: protoValue });
    }
    for (const id of ids) {
      const query = `type=Journal&id=${encodeURIComponent(id)}`;
      for (const route of [`api/entity?${query}`, `api/entity/at?${query}&version=2`, `api/entity/history?${query}`]) {
        const response = await get(route);
        expect(response.status, route).toBe(200);
        const text = await response.text();
        for (const hostile of hostileStrings.filter((s) => /[<>]/.test(s))) expect(text).not.toContain(hostile);
        expect(text).not.toMatch(/[<>]/);
        const body = JSON.parse(text) as Answer;
        expect(body.id).toBe(id);
        if (route.includes('history')) {
          expect(body.events.map((e) => e.event.text)).toEqual([...hostileStrings]);
          const extra = body.events[0]?.event.extra as object;
          expect(extra).toEqual(protoValue);
          expect(Object.hasOwn(extra, '__proto__')).toBe(true);
        } else if (route.includes('/at')) {
          expect(body.state.lines).toEqual(hostileStrings.slice(0, 2));
        } else {
          expect(body.state).toEqual((await system.read(Journal.ref(id))).state);
        }
      }
      for (const page of [...pages, 'login']) {
        const html = await (await get(`${page}?${query}`, bearer)).text();
        expect(html).toMatch(/^<!doctype html>/);
        for (const hostile of hostileStrings) expect(html, page).not.toContain(hostile);
        expect(html).not.toMatch(/<script(?![^>]*\ssrc="assets\/app\.js")[^>]*>/);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const hostileType = await get(`api/entity?type=${encodeURIComponent(hostileStrings[1])}&id=x`);
    expect(hostileType.status).toBe(404);
    expect((await answer(hostileType)).error.code).toBe('UNKNOWN_ENTITY_TYPE');
  });

  it("answers bad input with the system's code (400/404 JSON) and keeps serving", async () => {
    const { system, get } = await open();
    await journal(system, 'j-1');
    const cases: [string, number, string][] = [
      ['api/entity?type=Journal', 400, 'INVALID_ID'],
      ['api/entity?type=Journal&id=', 400, 'INVALID_ID'],
      [`api/entity?type=Journal&id=${'x'.repeat(300)}`, 400, 'INVALID_ID'],
      ['api/entity?id=j-1', 404, 'UNKNOWN_ENTITY_TYPE'],
      ['api/entity?type=Nope&id=j-1', 404, 'UNKNOWN_ENTITY_TYPE'],
      ['api/entity?type=__proto__&id=j-1', 404, 'UNKNOWN_ENTITY_TYPE'],
      ['api/entity/at?type=Journal&id=j-1', 400, 'INVALID_CONFIGURATION'],
      ['api/entity/at?type=Journal&id=j-1&version=-1', 400, 'INVALID_CONFIGURATION'],
      ['api/entity/at?type=Journal&id=j-1&version=1.5', 400, 'INVALID_CONFIGURATION'],
      ['api/entity/history?type=Journal&id=j-1&from=0', 400, 'INVALID_CONFIGURATION'],
      ['api/entity/history?type=Journal&id=j-1&limit=0', 400, 'INVALID_CONFIGURATION'],
      ['api/entity/stream?type=Journal&id=', 400, 'INVALID_ID'],
      ['api/entity/stream?type=Nope&id=j-1', 404, 'UNKNOWN_ENTITY_TYPE'],
      ['api/dead-letters?limit=many', 400, 'INVALID_CONFIGURATION'],
      ['api/nothing-here', 404, 'NOT_FOUND'],
      ['assets/..%2fpackage.json', 404, 'NOT_FOUND'],
      ['assets/index.html', 404, 'NOT_FOUND'],
    ];
    for (const [route, status, code] of cases) {
      const response = await get(route);
      expect(response.status, route).toBe(status);
      expect(await response.json(), route).toEqual({ error: { code, message: expect.any(String) } });
    }
    expect((await get('api/entity?type=Journal&id=j-1')).status).toBe(200);
  });

  it('mounts with dashboardHandler under basePath /ops in a server of your own', async () => {
    const { system, token } = await open();
    await journal(system, 'j-1');
    const handler = dashboardHandler(system, { token, basePath: '/ops' });
    const own = createServer((req, res) => {
      if (req.url?.startsWith('/health')) return res.end('app: healthy');
      handler(req, res);
    });
    const withNext = dashboardHandler(system, { token, basePath: '/ops' });
    const middleware = createServer((req, res) => withNext(req, res, () => res.end('next handler')));
    for (const server of [own, middleware]) {
      ownServers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    const url = (server: Server, path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    const bearer = { authorization: `Bearer ${token}` };

    const entity = await fetch(url(own, '/ops/api/entity?type=Journal&id=j-1'), { headers: bearer });
    expect((await answer(entity)).version).toBe(3);
    expect((await fetch(url(own, '/ops/api/overview'))).status).toBe(401);
    expect(await (await fetch(url(own, '/health'))).text()).toBe('app: healthy');
    const outside = await fetch(url(own, '/api/overview'), { headers: bearer });
    expect(outside.status).toBe(404);
    expect((await answer(outside)).error.code).toBe('NOT_FOUND');
    expect(await (await fetch(url(middleware, '/api/overview'), { headers: bearer })).text()).toBe('next handler');
    expect(await (await fetch(url(middleware, '/opsx'), { headers: bearer })).text()).toBe('next handler');
    expect((await fetch(url(middleware, '/ops/api/overview'), { headers: bearer })).status).toBe(200);

    const bare = await fetch(url(own, '/ops'), { redirect: 'manual' });
    expect(bare.headers.get('location')).toBe('/ops/');
    expect((await fetch(url(own, '/ops/'), { redirect: 'manual' })).headers.get('location')).toBe('/ops/login');
    const login = await fetch(url(own, '/ops/login'), {
      method: 'POST',
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });
    expect(login.headers.get('location')).toBe('/ops/');
    expect(login.headers.get('set-cookie')).toMatch(/; Path=\/ops(;|$)/);
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
    expect((await fetch(url(own, '/ops/'), { headers: { cookie } })).status).toBe(200);
    const script = await fetch(url(own, '/ops/assets/app.js'));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('textContent');
    await handler.close();
    await withNext.close();
  });

  it('streams new events of an entity live, from Last-Event-ID on reconnect; ends the follow when the client goes away, and every stream when the server closes', async () => {
    const { system, server, get, bearer } = await open();
    await journal(system, 'j-live');
    const response = await get('api/entity/stream?type=Journal&id=j-live');
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const messages = sseMessages(response.body as ReadableStream<Uint8Array>);
    const first = messages.next();
    await system.call(Journal.ref('j-live'), { type: 'Write', text: 'live one' });
    expect((await first).value).toMatchObject({
      version: 4,
      event: { type: 'Written', text: 'live one' },
      state: { lines: ['first', 'second', 'third', 'live one'] },
    });

    const resumed = await get('api/entity/stream?type=Journal&id=j-live', { ...bearer, 'last-event-id': '2' });
    const replayed = sseMessages(resumed.body as ReadableStream<Uint8Array>);
    const versionOf = async () => ((await replayed.next()).value as { version: number }).version;
    expect([await versionOf(), await versionOf()]).toEqual([3, 4]);

    // The follow behind a stream ends when its client goes away.
    const follows: AbortSignal[] = [];
    const follow = system.follow.bind(system);
    system.follow = (ref, options) => {
      if (options?.signal) follows.push(options.signal);
      return follow(ref, options);
    };
    const client = new AbortController();
    const leaving = await fetch(new URL('api/entity/stream?type=Journal&id=j-live', server.url), {
      headers: bearer,
      signal: client.signal,
    });
    expect(leaving.status).toBe(200);
    expect(follows.map((signal) => signal.aborted)).toEqual([false]);
    client.abort();
    await expect.poll(() => follows[0]?.aborted).toBe(true);

    const ended = Promise.all([messages.next(), replayed.next()]);
    const started = Date.now();
    await server.close();
    expect((await ended).map((next) => next.done)).toEqual([true, true]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
