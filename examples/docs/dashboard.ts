import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSystem, defineEntity, memoryStore, ok } from 'pachyderm';
import { dashboard, dashboardHandler } from 'pachyderm/dashboard';

const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }, _state) => ok([{ type: 'Increased' as const }]),
  update: (_event, state) => ({ count: state.count + 1 }),
});
const system = createSystem({ store: memoryStore(), entities: [Counter] });
await system.call(Counter.ref('counter-1'), { type: 'Increment' });
const token = process.env.DASHBOARD_TOKEN ?? 'a long random secret';

// A server of its own, on 127.0.0.1 (port 7700 unless told; 0 picks a free one).
const server = await dashboard(system, { token, port: 0 });
const entity = new URL('api/entity?type=Counter&id=counter-1', server.url);
console.log('without the token:', (await fetch(entity)).status);
const answer = await fetch(entity, { headers: { authorization: `Bearer ${token}` } });
const { state, version } = (await answer.json()) as { state: { count: number }; version: number };
console.log('with it:', { state, version });
await server.close();

// Or mounted in your own server under a base path; the rest goes to `next`, as in Express.
const ops = dashboardHandler(system, { token, basePath: '/ops' });
const app = createServer((req, res) => ops(req, res, () => res.end('the rest of the app')));
await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
const root = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
const overview = await fetch(`${root}/ops/api/overview`, { headers: { authorization: `Bearer ${token}` } });
console.log('/ops/api/overview:', ((await overview.json()) as { entityTypes: string[] }).entityTypes);
console.log('/:', await (await fetch(`${root}/`)).text());
app.closeAllConnections();
app.close();
await system.close();
