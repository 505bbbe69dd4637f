/**
 * The cost of telemetry in `npm run bench`: the same calls with no OpenTelemetry SDK registered
 * (what every application that does not trace runs) and with one (a BasicTracerProvider sampling
 * every span into a BatchSpanProcessor, a MeterProvider exporting every second, the
 * AsyncLocalStorage context manager; the exporters drop what they get), runs interleaved in one
 * process. Against the code before telemetry: this run's calls part next to the BENCHMARKS.md it
 * replaces.
 */
import { randomUUID } from 'node:crypto';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { createSystem, defineEntity, ok, type Store, silentLogger } from 'pachyderm';
import { drive, fmt, type Measured, RUNS, range, type Sample, type Stat, stat } from './measure.js';

const Counter = defineEntity({
  type: 'Counter',
  init: () => ({ count: 0 }),
  handle: (_message: { type: 'Increment' }) => ok([{ type: 'Increased' as const, amount: 1 }]),
  update: (event, state) => ({ count: state.count + event.amount }),
});

export interface TelemetryTarget {
  readonly name: string;
  store(): Store;
  readonly size: number;
}

interface TelemetryResult {
  readonly scenario: string;
  readonly store: string;
  readonly off: Measured;
  readonly on: Measured;
  /** With the SDK sampling one trace in a hundred. */
  readonly sampled: Measured;
  /** With a meter provider alone. */
  readonly metricsOnly: Measured;
  /** Spans exported per call with the SDK. */
  readonly spansPerCall: number;
}
const telemetryResults: TelemetryResult[] = [];

let exportedSpans = 0;
const dropSpans: SpanExporter = {
  export(spans, done) {
    exportedSpans += spans.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const dropMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * Registers an SDK globally, sampling every trace or `ratio` of them (0: metrics alone, no tracer
 * provider); answers what unregisters it.
 */
function registerSdk(ratio = 1): () => Promise<void> {
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 1000 })],
  });
  metrics.setGlobalMeterProvider(meterProvider);
  if (ratio === 0) {
    return async () => {
      await meterProvider.shutdown();
      metrics.disable();
    };
  }
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropSpans)],
    ...(ratio < 1 ? { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }) } : {}),
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  return async () => {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    trace.disable();
    metrics.disable();
    context.disable();
  };
}

/** The calls part's scenarios, by the name its table gives them: which entity the i-th call goes to. */
const scenarios = {
  'One hot entity, 256 concurrent callers': (_i: number, prefix: string) => Counter.ref(prefix),
  'Many entities, one call each, concurrency 256': (i: number, prefix: string) => Counter.ref(`${prefix}-${i}`),
} as const;
export type TelemetryScenario = keyof typeof scenarios;

async function once(target: TelemetryTarget, scenario: TelemetryScenario): Promise<Sample> {
  const system = createSystem({ store: target.store(), entities: [Counter], logger: silentLogger });
  try {
    const prefix = randomUUID();
    const ref = scenarios[scenario];
    return await drive(target.size, 256, (i) => system.call(ref(i, prefix), { type: 'Increment' }));
  } finally {
    await system.close();
  }
}

const measured = (samples: readonly Sample[]): Measured => ({
  rate: stat(samples.map((s) => s.callsPerSecond)),
  p50: stat(samples.map((s) => s.p50)),
  p99: stat(samples.map((s) => s.p99)),
});

/** Runs a scenario with and without the SDK, one run of each in turn. */
export async function telemetryCost(target: TelemetryTarget, scenario: TelemetryScenario): Promise<void> {
  const off: Sample[] = [];
  const on: Sample[] = [];
  const sampled: Sample[] = [];
  const metricsOnly: Sample[] = [];
  let spans = 0;
  for (let run = 0; run < RUNS; run++) {
    off.push(await once(target, scenario));
    let unregister = registerSdk();
    const before = exportedSpans;
    on.push(await once(target, scenario));
    await unregister();
    spans += exportedSpans - before;
    unregister = registerSdk(0.01);
    sampled.push(await once(target, scenario));
    await unregister();
    unregister = registerSdk(0);
    metricsOnly.push(await once(target, scenario));
    await unregister();
    process.stdout.write(
      `\r  ${target.name}, ${scenario}: run ${run + 1}/${RUNS}, ${fmt(off.at(-1)?.callsPerSecond ?? 0)} calls/s without an SDK, ${fmt(on.at(-1)?.callsPerSecond ?? 0)} with   `,
    );
  }
  process.stdout.write('\n');
  telemetryResults.push({
    scenario,
    store: target.name,
    off: measured(off),
    on: measured(on),
    sampled: measured(sampled),
    metricsOnly: measured(metricsOnly),
    spansPerCall: spans / (RUNS * target.size),
  });
}

/** A previous figure of the calls part for a scenario and store, if BENCHMARKS.md had one. */
export type PreviousRate = (scenario: string, store: string) => { before?: number; now?: Stat };

export function telemetrySection(previous: PreviousRate): string {
  const rows = telemetryResults.map((r) => {
    const { before, now } = previous(r.scenario, r.store);
    const today =
      before !== undefined && now !== undefined
        ? `${fmt(now.median)} vs ${fmt(before)} calls/s: ${fmt(now.median / before, 2)}×`
        : 'n/a';
    const ratio = (m: Measured) => `${fmt(m.rate.median / r.off.rate.median, 2)}×`;
    return `| ${r.scenario} | ${r.store} | ${range(r.off.rate)} calls/s, p99 ${fmt(r.off.p99.median, 2)} ms | ${range(r.on.rate)} calls/s, p99 ${fmt(r.on.p99.median, 2)} ms: ${ratio(r.on)} (${fmt(r.spansPerCall, 1)} spans per call) | ${range(r.sampled.rate)} calls/s: ${ratio(r.sampled)} | ${range(r.metricsOnly.rate)} calls/s: ${ratio(r.metricsOnly)} | ${today} |`;
  });
  return `## Telemetry

The same calls with no OpenTelemetry SDK registered and with one: a \`BasicTracerProvider\` that
samples every trace (or one in a hundred: \`ParentBasedSampler\` over \`TraceIdRatioBasedSampler(0.01)\`)
into a \`BatchSpanProcessor\`, a \`MeterProvider\` exporting every second, and the AsyncLocalStorage
context manager (the exporters drop what they get). One run of each in turn, ${RUNS} of each, in
one process. A sampled call records four spans (the call, decide, commit wait, commit); with an
SDK, every call also records its duration in a histogram (the SDK hashes its attributes each time)
and an unsampled one still gets a span context (ids generated, carried to its outbox rows). On the
memory store, where a call costs a couple of microseconds, that SDK work is most of its time; on
SQLite it is a fraction of a commit. The last column sets this run's calls part (no SDK) against the
BENCHMARKS.md this run replaced, written by the code before telemetry: the cost with no SDK.

| Scenario | Store | No SDK | SDK, every trace | SDK, 1% of traces | Metrics alone | Calls part, this run vs the previous BENCHMARKS.md |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}

/** The with/without ratios, for the targets table. */
export function telemetryTargets(
  line: (target: string, value: number | undefined, goal: number) => string,
  previous: PreviousRate,
): string[] {
  const ratios = telemetryResults.flatMap((r) => {
    const { before, now } = previous(r.scenario, r.store);
    return before !== undefined && now !== undefined ? [now.median / before] : [];
  });
  return [
    line(
      'Telemetry with no SDK: within noise (≥ 0.8×, runs move by a third) of the previous BENCHMARKS.md, worst of its scenarios',
      ratios.length ? Math.min(...ratios) : undefined,
      0.8,
    ),
  ];
}
