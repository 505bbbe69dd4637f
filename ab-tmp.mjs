const oldP = await import('/tmp/old/dist/index.js');
const newP = await import('/work/main/dist/index.js');
async function run(P) {
  const Counter = P.defineEntity({ type: 'Counter', init: () => ({ count: 0 }), handle: () => P.ok([{ type: 'Inc' }]), update: (e, s) => ({ count: s.count + 1 }) });
  const system = P.createSystem({ store: P.memoryStore(), entities: [Counter], logger: P.silentLogger });
  const ref = Counter.ref('hot');
  const N = 100000; let next = 0;
  const t = process.cpuUsage();
  await Promise.all(Array.from({ length: 256 }, async () => { while (next++ < N) await system.call(ref, {}); }));
  const c = process.cpuUsage(t); const rate = N / ((c.user + c.system) / 1e6);
  await system.close();
  return rate;
}
const r = { old: [], new: [] };
for (let i = 0; i < 12; i++) { r.old.push(await run(oldP)); r.new.push(await run(newP)); }
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log('old', Math.round(med(r.old)), 'new', Math.round(med(r.new)), 'ratio', (med(r.new) / med(r.old)).toFixed(3));
