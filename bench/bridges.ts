// `npm run bench`: the two bridges measured side by side with what their sinks can take, in one run on
// this machine, against private Kafka / Elasticsearch / InfluxDB servers (ports 29092 / 29200 / 28086,
// never the test ports). See bench/README.md for what each number means.
//
//   1. ceilings      the same lines straight into each sink, the best of several batch sizes and
//                    concurrencies; and the lines only read from Kafka and decoded
//   2. throughput    N lines pre-loaded into a 3-partition topic, drained by `cdnkit bridge` and by
//                    Telegraf (the peer), with CPU seconds per million lines
//   3. latency       20,000 lines/s for 25 s with probe lines; when each becomes queryable (both)
//   4. memory        VmRSS during (3)
//   +  a malformed line among good ones: what each does with it
//
// Targets are read, not asserted: the run prints PASS/MISS and exits 0 when it ran.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { InfluxDB } from '@influxdata/influxdb-client';
import kafkajs from 'kafkajs';
import { stringify } from 'yaml';
import { indexTemplate } from '../generators/elasticsearch.js';
import { writeLines } from '../src/bridge/influxdb-sink.js';
import { referenceConfig } from '../src/config/preset.js';
import { kitConfigSchema, type KitConfigInput } from '../src/config/schema.js';
import { step } from '../src/local/progress.js';
import { ensureTelegraf, TELEGRAF_VERSION } from '../src/local/tools.js';
import { startElasticsearch, type RunningElasticsearch } from '../src/local/services/elasticsearch.js';
import { startInfluxDB, type RunningInflux } from '../src/local/services/influxdb.js';
import { startKafka, type RunningKafka } from '../src/local/services/kafka.js';
import { startBridgeProcess, type BridgeProcess } from '../src/local/bridge-process.js';
import { builtCli } from '../src/package-root.js';
import { kafkaDestination } from '../src/simulate/destinations.js';
import { runSimulation } from '../src/simulate/run.js';
import { logDocuments, logLines, logProbe, metricHeads, metricLines, metricProbe, PROBE_API } from './lib/data.js';
import { cpuSeconds, cpuShares, cpuSnapshot, findProcesses, processTree, type CpuGroup, type CpuSnapshot } from './lib/proc.js';
import { startTelegraf, telegrafConfig, type TelegrafProcess, type TelegrafSink } from './lib/telegraf.js';
import { summarizeProfile, type ProfileSummary } from './lib/profile.js';
import { CKJS_VERSION, ensureCkjs, type CkjsKafkaJS } from './lib/ckjs.js';

/** The build under test; BENCH_BRIDGE_CLI points at another (e.g. a patched copy) to compare. */
const CLI = process.env.BENCH_BRIDGE_CLI ?? builtCli();
/** A second build measured alternately with CLI in the throughput phase (BENCH_COMPARE_ROUNDS times each). */
const COMPARE_CLI = process.env.BENCH_COMPARE_CLI ?? (process.env.BENCH_COMPARE_NODE_FLAGS ? CLI : undefined);

const { Kafka, logLevel, CompressionTypes } = kafkajs;

// ---------------------------------------------------------------------------------------------------------
// Settings (environment overrides for a quicker or a longer run)

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const nums = (name: string, fallback: number[]) => (process.env[name] ? process.env[name]!.split(',').map(Number) : fallback);
/** A comma-separated choice from `valid`; anything else stops the run before it starts. */
function choice<T extends string>(name: string, valid: readonly T[]): T[] {
  const picked = (process.env[name] ?? valid.join(',')).split(',').map((x) => x.trim()).filter(Boolean);
  const wrong = picked.filter((x) => !valid.includes(x as T));
  if (wrong.length > 0) throw new Error(`${name}: ${wrong.join(', ')} is not one of ${valid.join(', ')}`);
  return picked as T[];
}
const PHASES = ['ceilings', 'throughput', 'latency', 'malformed', 'simulator', 'scaling', 'backlog', 'clients'] as const;
const S = {
  /** Which parts run (default all), and for which bridges. */
  phases: choice('BENCH_PHASES', PHASES),
  kinds: choice('BENCH_KINDS', ['metrics', 'logs'] as const),
  kafkaPort: num('BENCH_KAFKA_PORT', 29092),
  esPort: num('BENCH_ES_PORT', 29200),
  influxPort: num('BENCH_INFLUX_PORT', 28086),
  metricLines: num('BENCH_METRIC_LINES', 1_000_000),
  logLines: num('BENCH_LOG_LINES', 300_000),
  /** The raw ceiling is the best of these (lines a request, requests at a time). */
  ceilingSettings: [
    [5000, 3],
    [5000, 6],
    [10_000, 3],
    [10_000, 6],
  ] as [number, number][],
  /** BENCH_TELEGRAF=0 leaves the peer out (no Go toolchain needed). */
  telegraf: process.env.BENCH_TELEGRAF !== '0',
  partitions: 3,
  /** How cost grows: each partition count, with each number of instances up to it. */
  scalingPartitions: nums('BENCH_SCALING_PARTITIONS', [1, 3, 6]),
  scalingInstances: nums('BENCH_SCALING_INSTANCES', [1, 2]),
  scalingMetricLines: num('BENCH_SCALING_METRIC_LINES', 500_000),
  scalingLogLines: num('BENCH_SCALING_LOG_LINES', 150_000),
  /** Memory while one bridge drains this backlog. */
  backlogLines: num('BENCH_BACKLOG_LINES', 1_000_000),
  compareRounds: num('BENCH_COMPARE_ROUNDS', 2),
  rate: num('BENCH_RATE', 20_000),
  latencySeconds: num('BENCH_LATENCY_SECONDS', 25),
  /** Supplementary: error logs at the rate 20k requests/s imply (≈10 % errors in the generated traffic). */
  errorLogRate: num('BENCH_ERROR_LOG_RATE', 2000),
  errorLogSeconds: num('BENCH_ERROR_LOG_SECONDS', 15),
  /** `cdnkit simulate` into Kafka: requests sent unpaced, and seconds at --rate BENCH_RATE. */
  simulatorRequests: num('BENCH_SIMULATOR_REQUESTS', 300_000),
  simulatorSeconds: num('BENCH_SIMULATOR_SECONDS', 10),
  probesPerSecond: 5,
  warmupSeconds: 5,
  pollMs: 100,
  profile: process.env.BENCH_PROFILE === '1',
};
const TARGETS = { ratio: 0.8, p99MetricsMs: 1000, p99LogsMs: 2000, rssBytes: 150 * 2 ** 20, overTelegraf: 1.2 };
/** BENCH_BRIDGE_SETTINGS: JSON merged into both bridges' settings in every kit config the run writes, e.g. {"maxHeldBytes": 16777216}. */
const BRIDGE_SETTINGS = JSON.parse(process.env.BENCH_BRIDGE_SETTINGS ?? '{}') as Record<string, unknown>;
const BRIDGE_DEFAULTS = kitConfigSchema.parse({ ...referenceConfig, bridges: { metrics: BRIDGE_SETTINGS, logs: BRIDGE_SETTINGS } }).bridges;
const WRITTEN = 'cdnkit_bridge_written_lines_total';

const run = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const id = run.toLowerCase().replace(/[^a-z0-9]/g, '');
const cacheRoot = process.env.CDNKIT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cdnkit');
const benchDir = join(cacheRoot, 'bench');
const runDir = join(benchDir, 'runs', run);
mkdirSync(runDir, { recursive: true });

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const say = (line: string) => process.stderr.write(`[bench +${elapsed()}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------------------
// Clean-up: bridges first, then the servers; also on failure and on Ctrl-C.

const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => say(`clean-up: ${String(e)}`));
  })());
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaning) {
      say(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    say(`${signal}: stopping bridges and servers ...`);
    void cleanUp().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Results

interface Cpu {
  [group: string]: number;
}
interface CeilingRun {
  lines: number;
  seconds: number;
  linesPerSecond: number;
  batch: number;
  concurrency: number;
  sinkCount: number;
  cpuCores: Cpu;
}
/** The best setting's run, and every setting tried. */
interface Ceiling extends CeilingRun {
  tried: { batch: number; concurrency: number; linesPerSecond: number }[];
}
/** kafkajs and @confluentinc/kafka-javascript read the same lines (clientsPhase). */
interface Clients {
  ckjsVersion: string;
  librdkafkaVersion: string;
  runs: (ConsumeCeiling & { kind: 'metrics' | 'logs'; round: number; loadavg: number[] })[];
}
interface ConsumeCeiling {
  client: string;
  lines: number;
  /** This process's CPU (all threads) while it read, per million lines. */
  cpuSecondsPerMillion: number;
  seconds: number;
  linesPerSecond: number;
  cpuCores: Cpu;
}
/** Bridges in one group draining a pre-loaded topic (how cost grows; memory while a backlog drains). */
interface Drain {
  kind: 'metrics' | 'logs';
  partitions: number;
  instances: number;
  lines: number;
  /** Lines written in the timed window (after the group was stable with every instance). */
  counted: number;
  seconds: number;
  linesPerSecond: number;
  /** Every instance's CPU (user + system, all threads) in the timed window, per million lines. */
  cpuSecondsPerMillion: number;
  /** The largest instance's largest VmRSS. */
  rssMaxBytes: number;
  /** Every ~500 ms: seconds into the window, lines written by then, the largest instance's VmRSS, V8 heap and external memory. */
  rssTimeline: { seconds: number; written: number; bytes: number; heapTotal?: number; external?: number }[];
  sinkCount: number;
  /** Lines written by more than one instance (a rebalance before their commit): the written counters' sum minus N. */
  writtenTwice: number;
  cpuCores: Cpu;
  /** The machine's load average when the drain ended. */
  loadavg: number[];
}
/** Telegraf draining the same pre-loaded topic as the bridge. */
interface PeerThroughput {
  lines: number;
  /** From the first committed offset until every line is committed (offsets polled every 100 ms). */
  seconds: number;
  linesPerSecond: number;
  startupSeconds: number;
  sinkCount: number;
  cpuSecondsPerMillion: number;
  rssMaxBytes: number;
  cpuCores: Cpu;
}
/** What a malformed line among good ones comes to. */
interface Malformed {
  line: string;
  good: number;
  sinkCount: number;
  /** The bridge's dead-lettered count, or what Telegraf logged about the line. */
  outcome: string;
}
interface Throughput {
  lines: number;
  /** From the first written line seen on /metrics until written == lines. */
  seconds: number;
  linesPerSecond: number;
  ratioToCeiling: number;
  /** Conservative: from the first line taken from Kafka (the first batch's sink write counted too). */
  linesPerSecondFromFirstConsumed: number;
  startupSeconds: number;
  sinkCount: number;
  deadLettered: number;
  retried: number;
  batches: number;
  linesPerBatch: number;
  meanBatchMs: number;
  /** The bridge process's CPU (user + system, all threads) from start to the last line, per million lines. */
  cpuSecondsPerMillion: number;
  rssMaxBytes: number;
  cpuCores: Cpu;
  profile?: ProfileSummary;
}
interface Latency {
  targetRate: number;
  seconds: number;
  produced: number;
  producedPerSecond: number;
  writtenPerSecond: number;
  lagAtEnd: number;
  drainSeconds: number;
  sinkCount: number;
  probes: number;
  probesSeen: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  rss: { medianBytes: number; maxBytes: number; phaseMaxBytes: number; idleBytes: number; samples: number; heapTotalMedianBytes: number; heapUsedMedianBytes: number; externalMedianBytes: number };
  cpuCores: Cpu;
}
interface SimulatorRate {
  /** Unpaced (--rate 0): what the simulator reaches into Kafka. */
  reached: RunSummary;
  /** Paced at S.rate: whether it holds it. */
  held: RunSummary & { targetRate: number };
}
type RunSummary = { requests: number; lines: number; seconds: number; linesPerSecond: number; waitedSeconds: number; behindSeconds: number };
interface Check {
  name: string;
  value: string;
  target: string;
  pass: boolean;
}
const results: {
  run: string;
  machine: Record<string, unknown>;
  settings: typeof S;
  servers: Record<string, unknown>;
  ceiling: Partial<Record<'influxdb' | 'elasticsearch', Ceiling>>;
  consumeCeiling: Partial<Record<'metrics' | 'logs', ConsumeCeiling>>;
  throughput: Partial<Record<'metrics' | 'logs', Throughput>>;
  telegraf: { version?: string; throughput: Partial<Record<'metrics' | 'logs', PeerThroughput>>; latency: Partial<Record<'metrics' | 'logs', Latency>> };
  malformed: Partial<Record<'metrics' | 'logs', { bridge?: Malformed; telegraf?: Malformed }>>;
  latency: Partial<Record<'metrics' | 'logs' | 'errorLogs', Latency>>;
  simulator?: SimulatorRate;
  scaling: Partial<Record<'metrics' | 'logs', Drain[]>>;
  backlog: Partial<Record<'metrics' | 'logs', Drain>>;
  clients?: Clients;
  /** BENCH_COMPARE_CLI: both builds' throughput runs, alternating. */
  compare: { build: 'a' | 'b'; cli: string; kind: 'metrics' | 'logs'; round: number; linesPerSecond: number; cpuSecondsPerMillion: number; rssMaxBytes: number; cpuCores: Cpu; loadavg: number[] }[];
  /** BENCH_COMPARE_CLI with the latency phase: both builds' logs latency runs, alternating. */
  latencyCompare: { build: 'a' | 'b'; cli: string; round: number; latency: Latency; loadavg: number[] }[];
  checks: Check[];
  problems: string[];
  /** Worth knowing, not a failure to run. */
  notes: string[];
  files: Record<string, string>;
} = {
  run,
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg(), bridgeCli: CLI, bridgeNodeFlags: process.env.BENCH_NODE_FLAGS ?? '' },
  settings: S,
  servers: {},
  ceiling: {},
  consumeCeiling: {},
  throughput: {},
  telegraf: { throughput: {}, latency: {} },
  malformed: {},
  latency: {},
  scaling: {},
  backlog: {},
  compare: [],
  latencyCompare: [],
  checks: [],
  problems: [],
  notes: [],
  files: { runDir },
};

// ---------------------------------------------------------------------------------------------------------
// Servers and their helpers

let kafka: RunningKafka;
let es: RunningElasticsearch;
let influx: RunningInflux;
let esClient: Client;
let kafkaClient: InstanceType<typeof Kafka>;

const names = {
  tput: { metrics: `bench-metrics-tput-${id}`, logs: `bench-logs-tput-${id}` },
  lat: { metrics: `bench-metrics-lat-${id}`, logs: `bench-logs-lat-${id}` },
  lat2: { metrics: `bench-metrics-lat2-${id}`, logs: `bench-logs-lat2-${id}` },
  /** Telegraf's latency run reads its own topics, so both start from an empty one. */
  latTelegraf: { metrics: `bench-metrics-lat-telegraf-${id}`, logs: `bench-logs-lat-telegraf-${id}` },
  bad: { metrics: `bench-metrics-bad-${id}`, logs: `bench-logs-bad-${id}` },
  dead: `bench-dead-${id}`,
  sim: { metrics: `bench-metrics-sim-${id}`, logs: `bench-logs-sim-${id}` },
  /** Base names of the warm-up's and the ceilings' buckets and indices (each setting adds its own suffix). */
  warmup: `bench-warmup-${id}`,
  ceiling: `bench-ceiling-${id}`,
  bucket: { tput: `bench-tput-${id}`, lat: `bench-lat-${id}`, telegraf: `bench-telegraf-${id}`, latTelegraf: `bench-lat-telegraf-${id}`, bad: `bench-bad-${id}`, badTelegraf: `bench-bad-telegraf-${id}` },
  index: { tput: `bench-tput-${id}`, lat: `bench-lat-${id}`, lat2: `bench-lat2-${id}`, bad: `bench-bad-${id}` },
  /** Telegraf's indices: its own document shape under dynamic mapping (the kit's template describes the bridge's). */
  telegrafIndex: { tput: `bench-telegraf-${id}`, lat: `bench-lat-telegraf-${id}`, bad: `bench-bad-telegraf-${id}` },
};

/** The servers' CPU groups, and the process under test's (the bridge's or Telegraf's) under `name`. */
function cpuGroups(subject?: { pid: number }, name = 'bridge'): CpuGroup[] {
  const influxPids = findProcesses('influxd', `127.0.0.1:${S.influxPort}`);
  return [
    ...(subject ? [{ name, pids: () => [subject.pid] }] : []),
    { name: 'kafka', pids: () => (kafka.pid ? processTree(kafka.pid) : []) },
    { name: 'elasticsearch', pids: () => (es.pid ? processTree(es.pid) : []) },
    { name: 'influxdb', pids: () => influxPids },
  ];
}
const round2 = (shares: Record<string, number>) => Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, Math.round(v * 100) / 100]));

async function influxApi(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(influx.url + path, {
    method,
    headers: { authorization: `Token ${influx.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB ${method} ${path}: HTTP ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A bucket with an InfluxQL mapping (database = bucket name). */
async function createBucket(name: string): Promise<void> {
  const orgs = (await influxApi('GET', `/api/v2/orgs?${new URLSearchParams({ org: influx.org })}`)) as { orgs: { id: string }[] };
  const orgID = orgs.orgs[0]!.id;
  const bucket = (await influxApi('POST', '/api/v2/buckets', { orgID, name, retentionRules: [] })) as { id: string };
  await influxApi('POST', '/api/v2/dbrps', { bucketID: bucket.id, orgID, database: name, retention_policy: 'autogen', default: true });
  cleanups.push(async () => {
    if (!influx.started) await influxApi('DELETE', `/api/v2/buckets/${bucket.id}`);
  });
}

async function influxQl(db: string, q: string): Promise<unknown[][]> {
  const url = new URL('/query', influx.url);
  url.search = new URLSearchParams({ db, q, epoch: 'ns' }).toString();
  const res = await fetch(url, { headers: { authorization: `Token ${influx.token}` } });
  const body = (await res.json()) as { results: { series?: { values: unknown[][] }[]; error?: string }[] };
  if (body.results[0]?.error) throw new Error(`InfluxQL ${q}: ${body.results[0].error}`);
  return body.results[0]?.series?.[0]?.values ?? [];
}

async function countPoints(db: string): Promise<number> {
  const rows = await influxQl(db, 'SELECT count(elapsed_time) FROM cdnmetrics');
  return Number(rows[0]?.[1] ?? 0);
}

async function countDocuments(prefix: string): Promise<number> {
  const index = `${prefix}-*`;
  await esClient.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
  return (await esClient.count({ index, ignore_unavailable: true, allow_no_indices: true })).count;
}

async function putTemplate(prefix: string): Promise<void> {
  const config = kitConfigSchema.parse({ ...referenceConfig, sinks: { elasticsearch: { indexPrefix: prefix } } });
  await esClient.indices.putIndexTemplate({ name: prefix, ...(indexTemplate(config) as object) });
  cleanups.push(async () => {
    if (!es.started) {
      await esClient.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
      await esClient.indices.deleteIndexTemplate({ name: prefix });
    }
  });
}

/** A kit config for one bridge run: the reference preset pointed at our servers and names. */
function writeConfig(label: string, topics: { metrics: string; logs: string }, bucket: string, indexPrefix: string): string {
  const overrides: Partial<KitConfigInput> = {
    kafka: {
      brokers: kafka.brokers,
      topics: { metrics: { name: topics.metrics }, logs: { name: topics.logs }, deadLetter: { name: names.dead } },
    },
    sinks: {
      influxdb: { url: influx.url, org: influx.org, bucket },
      elasticsearch: { url: es.url, indexPrefix },
    },
    bridges: { metrics: { ...BRIDGE_SETTINGS, groupId: `bench-metrics-${label}-${id}` }, logs: { ...BRIDGE_SETTINGS, groupId: `bench-logs-${label}-${id}` } },
  };
  // Kept with the run's other files (the run folder is the record of what ran).
  const file = join(runDir, `cdnkit-${label}.yaml`);
  writeFileSync(file, stringify({ ...referenceConfig, ...overrides }));
  return file;
}

async function produceAll(topic: string, lines: string[]): Promise<void> {
  const producer = kafkaClient.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const chunk = 2000;
    let next = 0;
    const worker = async () => {
      while (next < lines.length) {
        const from = next;
        next += chunk;
        await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: lines.slice(from, from + chunk).map((value) => ({ value })) });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  } finally {
    await producer.disconnect();
  }
}

async function groupLag(groupId: string, topic: string): Promise<number> {
  const admin = kafkaClient.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    let lag = 0;
    for (const p of ends) {
      const c = Number(committed?.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
      lag += Number(p.high) - (c < 0 ? Number(p.low) : c);
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

/** The last warning or error a bridge logged (its JSON log), for a failure message. */
function lastWarning(output: string): string {
  const lines = output.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; reason?: string };
      if ((entry.level ?? 0) >= 40) return `${entry.msg ?? ''}${entry.reason ? ` (${entry.reason})` : ''}`;
    } catch {
      if (line.trim()) return line.slice(0, 300);
    }
  }
  return 'none';
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Raw ceilings

/** Lines written as requests of `batch`, `concurrency` at a time; each request's body is made beforehand. */
async function ceilingRun<T>(lines: string[], batch: number, concurrency: number, prepare: (from: number, to: number) => T, write: (body: T) => Promise<void>): Promise<Omit<CeilingRun, 'sinkCount'>> {
  const bodies = Array.from({ length: Math.ceil(lines.length / batch) }, (_, i) => prepare(i * batch, Math.min(lines.length, (i + 1) * batch)));
  const before = cpuSnapshot(cpuGroups());
  const started = performance.now();
  await pool(bodies, concurrency, write);
  const seconds = (performance.now() - started) / 1000;
  return { lines: lines.length, seconds, linesPerSecond: lines.length / seconds, batch, concurrency, cpuCores: round2(cpuShares(before, cpuSnapshot(cpuGroups()))) };
}

/** The best of S.ceilingSettings, each into a sink target of its own (a rewrite of the same points or ids would cost otherwise). */
async function bestCeiling(label: string, settings: [number, number][], runOne: (batch: number, concurrency: number, target: string) => Promise<CeilingRun>, base: string): Promise<Ceiling> {
  const runs: CeilingRun[] = [];
  for (const [batch, concurrency] of settings) {
    const run = await runOne(batch, concurrency, `${base}-b${batch}c${concurrency}`);
    say(`  ${label} ceiling, ${fmt(batch)} lines a request, ${concurrency} at a time: ${fmt(run.linesPerSecond)} lines/s`);
    runs.push(run);
  }
  const best = runs.reduce((a, b) => (b.linesPerSecond > a.linesPerSecond ? b : a));
  return { ...best, tried: runs.map((r) => ({ batch: r.batch, concurrency: r.concurrency, linesPerSecond: r.linesPerSecond })) };
}

/** InfluxDB through the sink's own `writeLines` (one request, gzip, no client retries). */
async function influxCeiling(lines: string[], batch: number, concurrency: number, bucket: string): Promise<CeilingRun> {
  const client = new InfluxDB({ url: influx.url, token: influx.token, timeout: 120_000 });
  await createBucket(bucket);
  const run = await ceilingRun(lines, batch, concurrency, (from, to) => lines.slice(from, to), (body) => writeLines(client, { org: influx.org, bucket }, body));
  return { ...run, sinkCount: await countPoints(bucket) };
}

/**
 * Elasticsearch bulk, as the bridge sends it: the documents parsed, given @timestamp from
 * event_timestamp, a daily index and an id, serialized before the clock starts; only the answer's
 * errors and statuses asked for (filter_path).
 */
async function elasticsearchCeiling(lines: string[], batch: number, concurrency: number, prefix: string): Promise<CeilingRun> {
  await putTemplate(prefix);
  const prepare = (from: number, to: number) =>
    lines.slice(from, to).flatMap((line, k) => {
      const doc = JSON.parse(line) as Record<string, unknown>;
      const time = new Date(Date.parse(String(doc.event_timestamp)));
      doc['@timestamp'] = time.toISOString();
      return [JSON.stringify({ index: { _index: `${prefix}-${time.toISOString().slice(0, 10).replaceAll('-', '.')}`, _id: `ceiling:${(from + k) % 3}:${from + k}` } }), JSON.stringify(doc)];
    });
  // The daily indices exist before the clock starts (the bridge's are created before its first
  // counted write too): creating an index, its shards allocated, takes seconds on a busy machine.
  const days = new Set(lines.map((line) => (JSON.parse(line) as { event_timestamp: string }).event_timestamp.slice(0, 10).replaceAll('-', '.')));
  for (const day of days) await esClient.indices.create({ index: `${prefix}-${day}`, wait_for_active_shards: 1 });
  const client = new Client({ node: es.url, maxRetries: 0, requestTimeout: 120_000 });
  let failed = 0;
  const run = await ceilingRun(lines, batch, concurrency, prepare, async (operations) => {
    const response = await client.bulk({ operations, filter_path: ['errors', 'items.*.status'] });
    if (response.errors) failed += response.items.filter((i) => (i.index?.status ?? 500) >= 300).length;
  });
  await client.close();
  if (failed > 0) results.problems.push(`elasticsearch ceiling: ${failed} documents refused`);
  return { ...run, sinkCount: await countDocuments(prefix) };
}

/** A consumer that hands each fetched batch's values to `onBatch` once started; `stop` disconnects it. */
type ConsumeClient = (topic: string, groupId: string, onBatch: (values: (Buffer | null)[]) => void) => Promise<{ stop(): Promise<void> }>;

/** kafkajs, as the bridges use it (one partition's batch at a time, up to 64 MB a fetch). */
const kafkajsClient: ConsumeClient = async (topic, groupId, onBatch) => {
  const consumer = kafkaClient.consumer({ groupId, maxBytes: 64 * 2 ** 20 });
  await consumer.connect();
  cleanups.push(() => consumer.disconnect());
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => onBatch(batch.messages.map((m) => m.value)) });
  return { stop: () => consumer.disconnect() };
};

/** @confluentinc/kafka-javascript's KafkaJS-compatible consumer; `maxBatch` is its js.consumer.max.batch.size (default 32, -1 = all it holds). */
function ckjsClient(KafkaJS: CkjsKafkaJS, maxBatch: number): ConsumeClient {
  return async (topic, groupId, onBatch) => {
    const client = new KafkaJS.Kafka({ kafkaJS: { brokers: kafka.brokers, logLevel: KafkaJS.logLevel.ERROR } });
    const consumer = client.consumer({ kafkaJS: { groupId, fromBeginning: true, autoCommit: false }, 'js.consumer.max.batch.size': maxBatch });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachBatch: async ({ batch }) => onBatch(batch.messages.map((m) => m.value)) });
    return { stop: () => consumer.disconnect() };
  };
}

/**
 * The lines only read from Kafka and decoded to text, nothing written: what is left for the bridge's
 * own work. Timed from the first batch to the last line; CPU is this process's (all its threads:
 * librdkafka's too), which reads nothing else meanwhile.
 */
async function consumeCeiling(topic: string, lines: number, client: ConsumeClient = kafkajsClient, label = 'kafkajs'): Promise<ConsumeCeiling> {
  let count = 0;
  let bytes = 0;
  let first: { t: number; cpu: CpuSnapshot } | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const groups = cpuGroups();
  const consumer = await client(topic, `bench-consume-${label}-${topic}-${Date.now()}`, (values) => {
    first ??= { t: performance.now(), cpu: cpuSnapshot(groups) };
    for (const value of values) bytes += value!.toString('utf8').length;
    count += values.length;
    if (count >= lines) done();
  });
  await finished;
  const t = performance.now();
  const cpu = cpuSnapshot(groups);
  await consumer.stop();
  const seconds = (t - first!.t) / 1000;
  if (bytes === 0) results.problems.push(`consume ceiling on ${topic}: no bytes decoded`);
  return { client: label, lines, seconds, linesPerSecond: lines / seconds, cpuSecondsPerMillion: ((cpu.groups.bench! - first!.cpu.groups.bench!) / lines) * 1e6, cpuCores: round2(cpuShares(first!.cpu, cpu)) };
}

/**
 * kafkajs against @confluentinc/kafka-javascript on the same pre-loaded topics, alternating, each
 * setting twice (the best counts): consume and decode only, as the consume ceiling.
 */
async function clientsPhase(): Promise<Clients> {
  const { KafkaJS, librdkafkaVersion } = await ensureCkjs();
  const clients: [string, ConsumeClient][] = [
    ['kafkajs 2.2.4', kafkajsClient],
    [`ckjs ${CKJS_VERSION} batch 32`, ckjsClient(KafkaJS, 32)],
    [`ckjs ${CKJS_VERSION} batch all`, ckjsClient(KafkaJS, -1)],
  ];
  const out: Clients = { ckjsVersion: CKJS_VERSION, librdkafkaVersion, runs: [] };
  for (const round of [1, 2]) {
    for (const kind of S.kinds) {
      const [topic, lines] = kind === 'metrics' ? [names.tput.metrics, S.metricLines] : [names.tput.logs, S.logLines];
      for (const [label, client] of clients) {
        const run = await consumeCeiling(topic, lines, client, label);
        say(`  round ${round}, ${kind}, ${label}: ${fmt(run.linesPerSecond)} lines/s, ${run.cpuSecondsPerMillion.toFixed(2)} CPU s per million`);
        out.runs.push({ ...run, kind, round, loadavg: loadavg() });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// 2. BridgeProcess throughput on a pre-loaded topic

/** BENCH_BRIDGE_ENV: JSON of extra environment variables for the bridges only, e.g. {"MALLOC_ARENA_MAX":"2"}. */
const bridgeEnv = () => ({ ...(JSON.parse(process.env.BENCH_BRIDGE_ENV ?? '{}') as Record<string, string>), CDNKIT_INFLUX_TOKEN: influx.token });

async function launchBridge(kind: 'metrics' | 'logs', configFile: string, label: string, profile: boolean, cli = CLI, nodeFlags = process.env.BENCH_NODE_FLAGS ?? ''): Promise<{ bridge: BridgeProcess; profileDir?: string }> {
  const profileDir = profile ? join(runDir, `cpuprofile-${kind}-${label}`) : undefined;
  const flags = [...nodeFlags.split(/\s+/).filter(Boolean), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const bridge = await startBridgeProcess(kind, configFile, bridgeEnv(), { cli, nodeFlags: flags, logFile: join(runDir, `bridge-${kind}-${label}.log`) });
  cleanups.push(() => bridge.stop(5000));
  return { bridge, profileDir };
}

/** Where a throughput run writes: its own group, and its own bucket or index. */
interface ThroughputTarget {
  label: string;
  bucket: string;
  index: string;
  cli: string;
  nodeFlags?: string;
}
const MAIN_TARGET: ThroughputTarget = { label: 'tput', bucket: names.bucket.tput, index: names.index.tput, cli: CLI };

async function bridgeThroughput(kind: 'metrics' | 'logs', lines: number, ceiling: Ceiling | undefined, target: ThroughputTarget = MAIN_TARGET): Promise<Throughput> {
  const sinkCount = () => (kind === 'metrics' ? countPoints(target.bucket) : countDocuments(target.index));
  const configFile = writeConfig(target.label, names.tput, target.bucket, target.index);
  const spawned = performance.now();
  const { bridge, profileDir } = await launchBridge(kind, configFile, target.label, S.profile, target.cli, target.nodeFlags);
  let first: { t: number; written: number; cpu: CpuSnapshot } | undefined;
  let firstConsumed: number | undefined;
  let end: { t: number; cpu: CpuSnapshot; processCpu: number } | undefined;
  const groups = cpuGroups(bridge);
  const deadline = Date.now() + 10 * 60_000;
  let lastReport = performance.now();
  let rssMaxBytes = 0;
  while (!end) {
    rssMaxBytes = Math.max(rssMaxBytes, bridge.rss() ?? 0);
    if (bridge.exited()) throw new Error(`bridge ${kind} exited; see ${bridge.logFile}`);
    if (Date.now() > deadline) throw new Error(`bridge ${kind} did not write ${lines} lines within 10 minutes; see ${bridge.logFile}`);
    const m = await bridge.metrics(WRITTEN, 'cdnkit_bridge_consumed_lines_total').catch(() => ({ [WRITTEN]: 0, cdnkit_bridge_consumed_lines_total: 0 }));
    const written = m[WRITTEN]!;
    const t = performance.now();
    if (firstConsumed === undefined && m.cdnkit_bridge_consumed_lines_total! > 0) firstConsumed = t;
    if (!first && written > 0) first = { t, written, cpu: cpuSnapshot(groups) };
    if (!first && t - spawned > 60_000) {
      throw new Error(`bridge ${kind} wrote nothing in 60 s (${fmt(await bridge.metric('cdnkit_bridge_retried_lines_total').catch(() => 0))} lines retried); its last warning: ${lastWarning(bridge.output())}`);
    }
    if (written >= lines) end = { t, cpu: cpuSnapshot(groups), processCpu: cpuSeconds([bridge.pid]) };
    else {
      if (t - lastReport > 5000) {
        say(`  ${kind} bridge: ${fmt(written)} / ${fmt(lines)} written`);
        lastReport = t;
      }
      await sleep(S.pollMs);
    }
  }
  await sleep(1000); // the last batches commit and observe their duration after counting as written
  const m = await bridge.metrics(
    WRITTEN,
    'cdnkit_bridge_dead_lettered_lines_total',
    'cdnkit_bridge_retried_lines_total',
    'cdnkit_bridge_batch_duration_seconds_sum',
    'cdnkit_bridge_batch_duration_seconds_count',
  );
  const count = await sinkCount();
  const code = await bridge.stop();
  if (code !== 0) results.problems.push(`bridge ${kind} (throughput) exited with ${code}`);
  const seconds = (end.t - first!.t) / 1000;
  const rate = (lines - first!.written) / seconds;
  const batches = m['cdnkit_bridge_batch_duration_seconds_count']!;
  let profile: ProfileSummary | undefined;
  if (profileDir) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) profile = summarizeProfile(join(profileDir, file));
    else results.problems.push(`no CPU profile written by the ${kind} bridge`);
  }
  return {
    lines,
    seconds,
    linesPerSecond: rate,
    ratioToCeiling: ceiling ? rate / ceiling.linesPerSecond : Number.NaN,
    startupSeconds: (first!.t - spawned) / 1000,
    linesPerSecondFromFirstConsumed: lines / ((end.t - firstConsumed!) / 1000),
    sinkCount: count,
    deadLettered: m['cdnkit_bridge_dead_lettered_lines_total']!,
    retried: m['cdnkit_bridge_retried_lines_total']!,
    batches,
    linesPerBatch: m[WRITTEN]! / batches,
    meanBatchMs: (m['cdnkit_bridge_batch_duration_seconds_sum']! / batches) * 1000,
    cpuSecondsPerMillion: (end.processCpu / lines) * 1e6,
    rssMaxBytes,
    cpuCores: round2(cpuShares(first!.cpu, end.cpu)),
    ...(profile ? { profile } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// 2c. How cost grows: partitions and instances; memory while a backlog drains

const written0 = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

/** Lines committed by a group on a topic, through an admin client already connected. */
async function committedIn(admin: ReturnType<typeof kafkaClient.admin>, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (committed?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** N lines pre-loaded into a topic of `partitions` partitions, for drain(). */
async function preloadedTopic(kind: 'metrics' | 'logs', label: string, partitions: number, lines: string[]): Promise<string> {
  const topic = `bench-${kind}-${label}-${id}`;
  const admin = kafkaClient.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  await produceAll(topic, lines);
  return topic;
}

/**
 * `instances` bridges in one consumer group drain `lines` pre-loaded lines. Timed from the moment
 * the group is stable with every instance in it and a line is written (start-up and the first
 * rebalance left out) until all are written; CPU is every instance's over that window.
 */
async function drain(kind: 'metrics' | 'logs', topic: string, partitions: number, instances: number, lines: number, label: string): Promise<Drain> {
  const target = `bench-${label}-${id}`;
  if (kind === 'metrics') await createBucket(target);
  else await putTemplate(target);
  // The other stream's topic is named only because the kit config wants both, each its own.
  const configFile = writeConfig(label, { metrics: kind === 'metrics' ? topic : `${topic}-other`, logs: kind === 'logs' ? topic : `${topic}-other` }, target, target);
  const groupId = `bench-${kind}-${label}-${id}`;
  const bridges = await Promise.all(Array.from({ length: instances }, (_, n) => launchBridge(kind, configFile, `${label}-${n + 1}`, false).then((b) => b.bridge)));
  const admin = kafkaClient.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const pids = bridges.map((b) => b.pid);
  const spawned = performance.now();
  let start: { t: number; written: number; cpu: number; snap: CpuSnapshot } | undefined;
  let end: { t: number; cpu: number; snap: CpuSnapshot } | undefined;
  const groups = [{ name: 'bridge', pids: () => pids }, ...cpuGroups()];
  const timeline: Drain['rssTimeline'] = [];
  let lastSample = 0;
  let rssMaxBytes = 0;
  while (!end) {
    if (bridges.some((b) => b.exited())) throw new Error(`a ${kind} bridge exited; see ${bridges.map((b) => b.logFile).join(', ')}`);
    const t = performance.now();
    if (t - spawned > 10 * 60_000) throw new Error(`${instances} ${kind} bridge(s) did not write ${lines} lines within 10 minutes`);
    const written = written0(await Promise.all(bridges.map((b) => b.metric(WRITTEN).catch(() => 0))));
    const rss = bridges.map((b) => b.rss() ?? 0);
    rssMaxBytes = Math.max(rssMaxBytes, ...rss);
    if (start && t - lastSample >= 500) {
      // The V8 heap and external memory of the largest instance: what its RSS is made of.
      const largest = bridges[rss.indexOf(Math.max(...rss))]!;
      const m = await largest.metrics('nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes').catch(() => undefined);
      timeline.push({ seconds: (t - start.t) / 1000, written, bytes: Math.max(...rss), heapTotal: m?.nodejs_heap_size_total_bytes, external: m?.nodejs_external_memory_bytes });
      lastSample = t;
    }
    if (!start && written > 0) {
      const { groups: [group] } = await admin.describeGroups([groupId]);
      if (group?.state === 'Stable' && group.members.length === instances) start = { t, written, cpu: cpuSeconds(pids), snap: cpuSnapshot(groups) };
    }
    // Done when the group committed every line: with two instances a chunk written by one and not
    // yet committed at a rebalance is written again by the other (at least once), so the written
    // counters' sum reaches N before every line is in the sink.
    if (written >= lines && (await committedIn(admin, groupId, topic)) >= lines) {
      if (!start) throw new Error(`${instances} ${kind} bridges wrote all ${fmt(lines)} lines before the group was stable with all of them: use more lines`);
      end = { t: performance.now(), cpu: cpuSeconds(pids), snap: cpuSnapshot(groups) };
      timeline.push({ seconds: (end.t - start.t) / 1000, written, bytes: Math.max(...bridges.map((b) => b.rss() ?? 0)) });
    } else await sleep(S.pollMs);
  }
  const duplicates = written0(await Promise.all(bridges.map((b) => b.metric(WRITTEN)))) - lines;
  const sinkCount = kind === 'metrics' ? await countPoints(target) : await countDocuments(target);
  for (const b of bridges) {
    const code = await b.stop();
    if (code !== 0) results.problems.push(`${kind} bridge ${label} exited with ${code}`);
  }
  if (sinkCount !== lines) results.problems.push(`${kind} ${label}: the sink holds ${sinkCount} lines, expected ${lines}`);
  const counted = lines - start!.written;
  const seconds = (end.t - start!.t) / 1000;
  return {
    kind,
    partitions,
    instances,
    lines,
    counted,
    seconds,
    linesPerSecond: counted / seconds,
    cpuSecondsPerMillion: ((end.cpu - start!.cpu) / counted) * 1e6,
    rssMaxBytes,
    rssTimeline: timeline,
    sinkCount,
    writtenTwice: duplicates,
    cpuCores: round2(cpuShares(start!.snap, end.snap)),
    loadavg: loadavg(),
  };
}

async function scalingPhase(kind: 'metrics' | 'logs', pool: string[]): Promise<Drain[]> {
  const lines = pool.slice(0, kind === 'metrics' ? S.scalingMetricLines : S.scalingLogLines);
  const out: Drain[] = [];
  for (const partitions of S.scalingPartitions) {
    const topic = await preloadedTopic(kind, `scale-p${partitions}`, partitions, lines);
    for (const instances of S.scalingInstances.filter((n) => n <= partitions)) {
      // One setting that cannot be measured (too few lines for two instances to join) leaves the others.
      const d = await drain(kind, topic, partitions, instances, lines.length, `${kind}-p${partitions}-i${instances}`).catch((error: unknown) => {
        results.problems.push(`how cost grows, ${kind}, ${partitions} partitions, ${instances} instance(s): ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
      if (!d) continue;
      say(`  ${kind}, ${partitions} partitions, ${instances} instance(s): ${fmt(d.linesPerSecond)} lines/s, ${d.cpuSecondsPerMillion.toFixed(1)} CPU s per million, RSS max ${(d.rssMaxBytes / 2 ** 20).toFixed(0)} MB`);
      out.push(d);
    }
  }
  return out;
}

/** One bridge drains a backlog of S.backlogLines on S.partitions partitions: its RSS over time. */
async function backlogPhase(kind: 'metrics' | 'logs'): Promise<Drain> {
  const lines = kind === 'metrics' ? metricLines(21, S.backlogLines, BigInt(Date.now() - 10_800_000) * 1_000_000n) : logLines(22, S.backlogLines, Date.now());
  const topic = await preloadedTopic(kind, 'backlog', S.partitions, lines);
  lines.length = 0; // the bench's own memory is not the point; let the strings go before the bridge starts
  return drain(kind, topic, S.partitions, 1, S.backlogLines, `${kind}-backlog`);
}

// ---------------------------------------------------------------------------------------------------------
// 2b. Telegraf, the peer, on the same pre-loaded topic

let telegrafBin: string | undefined;

/** Lines committed by a consumer group on a topic (Telegraf marks a line once an output wrote it). */
async function committedLines(groupId: string, topic: string): Promise<number> {
  const admin = kafkaClient.admin();
  await admin.connect();
  try {
    return await committedIn(admin, groupId, topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The harness' Elasticsearch (the integ-test-zip distribution) has no `GET /` info endpoint, and
 * Telegraf's output asks it for the version before anything else ("elasticsearch version not
 * supported: " with an empty version, then exits). This pass-through answers `GET /` as a full
 * distribution would and forwards every other request unchanged, so Telegraf meets ES 8.19 itself.
 */
let esInfoUrl: string | undefined;
async function elasticsearchWithInfo(): Promise<string> {
  if (esInfoUrl) return esInfoUrl;
  const upstream = new URL(es.url);
  const info = JSON.stringify({ name: 'bench', cluster_name: 'bench', version: { number: es.version, build_flavor: 'default', lucene_version: '' }, tagline: 'You Know, for Search' });
  const server = createServer((req, res) => {
    if (req.url === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' }).end(req.method === 'GET' ? info : undefined);
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (error) => res.writeHead(502).end(error.message));
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  esInfoUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return esInfoUrl;
}

async function telegrafSink(kind: 'metrics' | 'logs', bucket: string, indexPrefix: string): Promise<TelegrafSink> {
  return kind === 'metrics' ? { kind: 'influxdb', url: influx.url, token: influx.token, org: influx.org, bucket } : { kind: 'elasticsearch', url: await elasticsearchWithInfo(), indexPrefix };
}

/** Telegraf configured as the bridge is (batch size, lines held, writes at once), started on `topic`. */
function launchTelegraf(kind: 'metrics' | 'logs', topic: string, groupId: string, sink: TelegrafSink, label: string): TelegrafProcess {
  const bridge = BRIDGE_DEFAULTS[kind];
  const config = telegrafConfig({
    brokers: kafka.brokers,
    topic,
    groupId,
    sink,
    batchLines: bridge.maxBatchLines,
    maxUndelivered: bridge.maxHeldLines,
    concurrentWrites: Math.min(bridge.maxConcurrentWrites, S.partitions),
  });
  const file = join(runDir, `telegraf-${kind}-${label}.conf`);
  writeFileSync(file, config);
  const telegraf = startTelegraf(telegrafBin!, file, join(runDir, `telegraf-${kind}-${label}.log`));
  cleanups.push(() => telegraf.stop(5000));
  return telegraf;
}

/** Telegraf's errors (its log lines say "E!"), the first few. */
function telegrafComplaints(output: string, most = 3): string {
  const lines = output.split('\n').filter((l) => / E! /.test(l));
  return lines.length ? lines.slice(0, most).map((l) => l.slice(0, 400)).join(' | ') : 'none';
}

async function telegrafThroughput(kind: 'metrics' | 'logs', topic: string, lines: number, sinkCount: () => Promise<number>): Promise<PeerThroughput> {
  const groupId = `bench-telegraf-${kind}-tput-${id}`;
  const spawned = performance.now();
  const telegraf = launchTelegraf(kind, topic, groupId, await telegrafSink(kind, names.bucket.telegraf, names.telegrafIndex.tput), 'tput');
  const groups = cpuGroups(telegraf, 'telegraf');
  let first: { t: number; committed: number; cpu: CpuSnapshot } | undefined;
  let end: { t: number; cpu: CpuSnapshot; processCpu: number } | undefined;
  let rssMaxBytes = 0;
  let lastReport = performance.now();
  while (!end) {
    if (telegraf.exited()) throw new Error(`telegraf exited; it logged: ${telegrafComplaints(telegraf.output())}`);
    rssMaxBytes = Math.max(rssMaxBytes, telegraf.rss() ?? 0);
    const committed = await committedLines(groupId, topic).catch(() => 0);
    const t = performance.now();
    if (!first && committed > 0) first = { t, committed, cpu: cpuSnapshot(groups) };
    if (!first && t - spawned > 60_000) throw new Error(`telegraf committed nothing in 60 s; it logged: ${telegrafComplaints(telegraf.output())}`);
    if (t - spawned > 10 * 60_000) throw new Error(`telegraf did not commit ${lines} lines within 10 minutes`);
    if (committed >= lines) end = { t, cpu: cpuSnapshot(groups), processCpu: cpuSeconds([telegraf.pid]) };
    else {
      if (t - lastReport > 5000) {
        say(`  ${kind} telegraf: ${fmt(committed)} / ${fmt(lines)} committed`);
        lastReport = t;
      }
      await sleep(S.pollMs);
    }
  }
  const count = await sinkCount();
  await telegraf.stop();
  const complaints = telegrafComplaints(telegraf.output());
  if (complaints !== 'none') results.notes.push(`telegraf ${kind} (throughput) logged: ${complaints}`);
  const seconds = (end.t - first!.t) / 1000;
  return {
    lines,
    seconds,
    linesPerSecond: (lines - first!.committed) / seconds,
    startupSeconds: (first!.t - spawned) / 1000,
    sinkCount: count,
    cpuSecondsPerMillion: (end.processCpu / lines) * 1e6,
    rssMaxBytes,
    cpuCores: round2(cpuShares(first!.cpu, end.cpu)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// 3 + 4. Latency at a steady rate, and the bridge's memory meanwhile

/** The process under test in a latency run: a bridge, or Telegraf. */
interface Subject {
  pid: number;
  groupId: string;
  rss(): number | undefined;
  written(): Promise<number>;
  /** V8 heap and external memory (a bridge's /metrics); Telegraf has none to give. */
  heap(): Promise<{ heapTotal: number; heapUsed: number; external: number } | undefined>;
  lastWarning(): string;
  stop(): Promise<number | null>;
}

async function bridgeSubject(kind: 'metrics' | 'logs', label: string, topics: { metrics: string; logs: string }, bucket: string, index: string, cli = CLI, nodeFlags?: string): Promise<Subject> {
  const configFile = writeConfig(label, topics, bucket, index);
  const { bridge } = await launchBridge(kind, configFile, label, false, cli, nodeFlags);
  await bridge.waitJoined();
  const readyz = await bridge.readyz();
  if (!readyz.startsWith('200')) results.notes.push(`${kind} bridge joined its group but /readyz answers ${readyz}`);
  return {
    pid: bridge.pid,
    groupId: `bench-${kind}-${label}-${id}`,
    rss: () => bridge.rss(),
    written: () => bridge.metric(WRITTEN),
    async heap() {
      const m = await bridge.metrics('nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes').catch(() => undefined);
      return m && { heapTotal: m.nodejs_heap_size_total_bytes!, heapUsed: m.nodejs_heap_size_used_bytes!, external: m.nodejs_external_memory_bytes! };
    },
    lastWarning: () => lastWarning(bridge.output()),
    stop: () => bridge.stop(),
  };
}

/** Telegraf on `topic`; ready once its consumer group is stable (it has its partitions). */
async function telegrafSubject(kind: 'metrics' | 'logs', topic: string, sink: TelegrafSink): Promise<Subject> {
  const groupId = `bench-telegraf-${kind}-lat-${id}`;
  const telegraf = launchTelegraf(kind, topic, groupId, sink, 'lat');
  const admin = kafkaClient.admin();
  await admin.connect();
  try {
    await until(`telegraf's consumer group ${groupId} to be stable`, async () => {
      if (telegraf.exited()) throw new Error(`telegraf exited; it logged: ${telegrafComplaints(telegraf.output())}`);
      const { groups } = await admin.describeGroups([groupId]);
      return groups[0]?.state === 'Stable';
    }, 60_000);
  } finally {
    await admin.disconnect();
  }
  return {
    pid: telegraf.pid,
    groupId,
    rss: () => telegraf.rss(),
    written: () => committedLines(groupId, topic),
    heap: async () => undefined,
    lastWarning: () => telegrafComplaints(telegraf.output()),
    stop: () => telegraf.stop(),
  };
}

interface LatencyPlan {
  kind: 'metrics' | 'logs';
  /** Who is measured, for messages. */
  name: string;
  topic: string;
  start(): Promise<Subject>;
  /** The i-th ordinary line, stamped now. */
  line(i: number, nowMs: number): string;
  /** Probe `seq`, stamped now. */
  probe(seq: number, nowMs: number): string;
  /** Sequence numbers of the probes the sink answers with now. */
  visibleProbes(): Promise<number[]>;
  sinkCount(): Promise<number>;
}

async function latencyPhase(plan: LatencyPlan, rate = S.rate, seconds = S.latencySeconds): Promise<Latency> {
  const subject = await plan.start();
  const idleRss = subject.rss() ?? Number.NaN;
  const groups = cpuGroups(subject);
  const producer = kafkaClient.producer({ allowAutoTopicCreation: false });
  await producer.connect();

  const sentAt = new Map<number, number>();
  const seenAt = new Map<number, number>();
  const rss: { t: number; bytes: number }[] = [];
  const started = performance.now();
  // Steady state starts after a warm-up (5 s, or a third of a short run).
  const warmup = Math.min(S.warmupSeconds, seconds / 3);

  // Poller: when each probe first answers from the sink (the time the answer arrived).
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const asked = performance.now();
      const seqs = await plan.visibleProbes().catch(() => []);
      const now = performance.now();
      for (const s of seqs) if (!seenAt.has(s)) seenAt.set(s, now);
      await sleep(Math.max(0, S.pollMs - (now - asked)));
    }
  })();
  // Sampler: VmRSS every 500 ms, and the V8 heap and external memory (from /metrics) every second.
  const heap: { t: number; heapTotal: number; heapUsed: number; external: number }[] = [];
  const sampler = (async () => {
    for (let i = 0; polling; i++) {
      const bytes = subject.rss();
      const t = performance.now() - started;
      if (bytes !== undefined) rss.push({ t, bytes });
      if (i % 2 === 0) {
        const h = await subject.heap();
        if (h) heap.push({ t, ...h });
      }
      await sleep(500);
    }
  })();

  // Producer: paced by the clock (lines due so far minus lines sent), 20 sends a second, gzip like the
  // receivers; a probe every 1/5 s rides in an ordinary send at a random place.
  const tickMs = 50;
  const inFlight = new Set<Promise<unknown>>();
  let sent = 0;
  let seq = 0;
  let writtenAtWindowStart = 0;
  let windowStart = 0;
  let cpuStart: CpuSnapshot | undefined;
  for (let tick = 0; ; tick++) {
    const now = performance.now();
    const secs = (now - started) / 1000;
    // Before the end check: a send stalled past the whole run (an overloaded machine) must still
    // leave a measurement window, if an empty one.
    if (!cpuStart && secs >= warmup) {
      cpuStart = cpuSnapshot(groups);
      windowStart = now;
      writtenAtWindowStart = await subject.written();
    }
    if (secs >= seconds) break;
    const dueLines = Math.floor(secs * rate) - sent;
    const dueProbes = Math.floor(secs * S.probesPerSecond) + 1 - seq;
    if (dueLines > 0) {
      const wallMs = Date.now();
      const messages: { value: string }[] = [];
      for (let k = 0; k < dueLines; k++) messages.push({ value: plan.line(sent + k, wallMs) });
      for (let p = 0; p < dueProbes && messages.length > 0; p++) {
        const at = Math.floor(Math.random() * messages.length);
        messages[at] = { value: plan.probe(seq, wallMs) };
        sentAt.set(seq++, performance.now());
      }
      sent += messages.length;
      // At most 2000 lines a request (a catch-up after a stall must not exceed the broker's message size).
      for (let from = 0; from < messages.length; from += 2000) {
        const send = producer
          .send({ topic: plan.topic, acks: -1, compression: CompressionTypes.GZIP, messages: messages.slice(from, from + 2000) })
          .finally(() => inFlight.delete(send));
        inFlight.add(send);
        if (inFlight.size >= 10) await Promise.race(inFlight);
      }
    }
    if (tick % 100 === 0) say(`  ${plan.kind}: ${fmt(sent)} lines sent, ${seenAt.size}/${seq} probes seen`);
    await sleep(Math.max(0, started + (tick + 1) * tickMs - performance.now()));
  }
  await Promise.all(inFlight);
  const stopped = performance.now();
  const cpuEnd = cpuSnapshot(groups);
  const writtenAtStop = await subject.written();
  if (writtenAtStop === 0) {
    polling = false;
    await Promise.all([poller, sampler]);
    await producer.disconnect();
    throw new Error(`${plan.name} wrote nothing while ${fmt(sent)} lines were produced; its last warning: ${subject.lastWarning()}`);
  }
  const lagAtEnd = await groupLag(subject.groupId, plan.topic);
  say(`  ${plan.kind}: production stopped at ${fmt(sent)} lines; lag ${fmt(lagAtEnd)}; draining`);
  await until(`${plan.name} to write all ${sent} lines`, async () => (await subject.written()) >= sent, 120_000, 100);
  const drainSeconds = (performance.now() - stopped) / 1000;
  await until('every probe to be seen', async () => seenAt.size >= seq, 20_000, 100).catch((e: Error) => results.problems.push(`${plan.name} latency: ${e.message}`));
  polling = false;
  await Promise.all([poller, sampler]);
  await producer.disconnect();
  const sinkCount = await plan.sinkCount();
  const code = await subject.stop();
  if (code !== 0) results.problems.push(`${plan.name} (latency) exited with ${code}`);

  const latencies = [...seenAt.entries()].map(([s, at]) => at - sentAt.get(s)!).sort((a, b) => a - b);
  const steady = rss.filter((r) => r.t >= warmup * 1000 && r.t <= stopped - started).map((r) => r.bytes).sort((a, b) => a - b);
  const windowSeconds = (stopped - windowStart) / 1000;
  return {
    targetRate: rate,
    seconds: (stopped - started) / 1000,
    produced: sent,
    producedPerSecond: sent / ((stopped - started) / 1000),
    writtenPerSecond: (writtenAtStop - writtenAtWindowStart) / windowSeconds,
    lagAtEnd,
    drainSeconds,
    sinkCount,
    probes: seq,
    probesSeen: seenAt.size,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    rss: {
      medianBytes: percentile(steady, 50),
      maxBytes: steady[steady.length - 1] ?? Number.NaN,
      phaseMaxBytes: Math.max(...rss.map((r) => r.bytes)),
      idleBytes: idleRss,
      ...(() => {
        const w = heap.filter((h) => h.t >= warmup * 1000 && h.t <= stopped - started);
        const med = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
        return { heapTotalMedianBytes: med(w.map((h) => h.heapTotal)), heapUsedMedianBytes: med(w.map((h) => h.heapUsed)), externalMedianBytes: med(w.map((h) => h.external)) };
      })(),
      samples: steady.length,
    },
    cpuCores: round2(cpuShares(cpuStart!, cpuEnd)),
  };
}

/** `cdnkit simulate --to kafka`, in process: unpaced, then at S.rate lines/s. */
async function simulatorRate(): Promise<SimulatorRate> {
  const admin = kafkaClient.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: Object.values(names.sim).map((topic) => ({ topic, numPartitions: S.partitions })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const config = kitConfigSchema.parse({
    ...referenceConfig,
    kafka: { brokers: kafka.brokers, topics: { logs: { name: names.sim.logs }, metrics: { name: names.sim.metrics } } },
  });
  const measure = async (rate: number, count: number): Promise<RunSummary> => {
    const options = { config, seed: 12, startMs: Date.now() - 60_000, rate, requestsPerSecond: rate || S.rate, count, format: 'blank' as const };
    const { summary } = await runSimulation(options, await kafkaDestination(config));
    const lines = summary.metricLines + summary.errorLines;
    return { requests: summary.requests, lines, seconds: summary.elapsedSeconds, linesPerSecond: lines / summary.elapsedSeconds, waitedSeconds: summary.waitedSeconds, behindSeconds: summary.behindSeconds };
  };
  const reached = await measure(0, S.simulatorRequests);
  const held = { ...(await measure(S.rate, S.rate * S.simulatorSeconds)), targetRate: S.rate };
  return { reached, held };
}

function metricsPlan(peer: 'bridge' | 'telegraf' = 'bridge'): LatencyPlan {
  const bucket = peer === 'bridge' ? names.bucket.lat : names.bucket.latTelegraf;
  const topic = peer === 'bridge' ? names.lat.metrics : names.latTelegraf.metrics;
  const heads = metricHeads(7, 20_000);
  const startNs = BigInt(Date.now() - 60_000) * 1_000_000n;
  const probe = metricProbe(8);
  // Distinct timestamps: the send's wall-clock ms, plus 10 ns per line within the send.
  let lastMs = 0;
  let within = 0;
  const stamp = (nowMs: number) => {
    if (nowMs !== lastMs) (lastMs = nowMs), (within = 0);
    return BigInt(nowMs) * 1_000_000n + BigInt(within++ * 10);
  };
  return {
    kind: 'metrics',
    name: `${peer === 'bridge' ? 'metrics bridge' : 'telegraf'} (metrics)`,
    topic,
    start: async () => (peer === 'bridge' ? bridgeSubject('metrics', 'lat', names.lat, bucket, names.index.lat) : telegrafSubject('metrics', topic, await telegrafSink('metrics', bucket, ''))),
    line: (i, nowMs) => `${heads[i % heads.length]} ${stamp(nowMs)}`,
    probe: (seq, nowMs) => `${probe(seq)} ${stamp(nowMs)}`,
    async visibleProbes() {
      const rows = await influxQl(bucket, `SELECT elapsed_time FROM cdnmetrics WHERE api_name = '${PROBE_API}' AND time >= ${startNs}`);
      return rows.map((row) => Number(row[1]));
    },
    sinkCount: () => countPoints(bucket),
  };
}

/** A bridge build of its own for a latency run (BENCH_COMPARE_CLI): its label, topic and index. */
interface LatencyTarget {
  label: string;
  topic: string;
  index: string;
  cli: string;
  nodeFlags?: string;
}

function logsPlan(label: 'lat' | 'lat2' = 'lat', peer: 'bridge' | 'telegraf' = 'bridge', target?: LatencyTarget): LatencyPlan {
  const index = target?.index ?? (peer === 'telegraf' ? names.telegrafIndex.lat : label === 'lat' ? names.index.lat : names.index.lat2);
  const topic = target?.topic ?? (peer === 'bridge' ? names[label].logs : names.latTelegraf.logs);
  // Telegraf's document holds the line's fields under the measurement's name.
  const field = (key: string) => (peer === 'bridge' ? key : `cdn_error_log.${key}`);
  const marker = '"event_timestamp":"';
  // Documents made once, split around the event time so each line is stamped with "now" cheaply.
  const parts = logDocuments(9, 20_000, Date.now()).map((json) => {
    const at = json.indexOf(marker) + marker.length;
    return [json.slice(0, at), json.slice(json.indexOf('"', at))] as const;
  });
  const probe = logProbe(10);
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    kind: 'logs',
    name: `${peer === 'bridge' ? 'logs bridge' : 'telegraf'} (logs)`,
    topic,
    start: async () =>
      peer === 'telegraf'
        ? telegrafSubject('logs', topic, await telegrafSink('logs', '', index))
        : bridgeSubject('logs', target?.label ?? label, { ...names[label], logs: topic }, names.bucket.lat, index, target?.cli, target?.nodeFlags),
    line: (i, nowMs) => {
      const [a, b] = parts[i % parts.length]!;
      return a + iso(nowMs) + b;
    },
    probe,
    async visibleProbes() {
      const response = await esClient.search<Record<string, unknown>>({
        index: `${index}-*`,
        ignore_unavailable: true,
        allow_no_indices: true,
        size: 1000,
        _source: [field('request_url')],
        query: { match_phrase: { [field('api_name')]: PROBE_API } },
      });
      const url = (source: Record<string, unknown>) => String(peer === 'bridge' ? source.request_url : (source.cdn_error_log as Record<string, unknown>).request_url);
      return response.hits.hits.map((h) => Number(url(h._source!).slice('/probe/'.length)));
    },
    sinkCount: () => countDocuments(index),
  };
}

// ---------------------------------------------------------------------------------------------------------
// A malformed line among good ones (one partition, so the order is kept)

const MALFORMED = {
  metrics: 'cdnmetrics,pop=FRA elapsed_time=oops 1700000000000000000',
  logs: '{"api_name":"search","event_timestamp":',
};

async function malformedPhase(kind: 'metrics' | 'logs'): Promise<{ bridge?: Malformed; telegraf?: Malformed }> {
  const good = kind === 'metrics' ? metricLines(11, 10, BigInt(Date.now() - 600_000) * 1_000_000n) : logLines(12, 10, Date.now());
  const line = MALFORMED[kind];
  const topic = names.bad[kind];
  await produceAll(topic, [...good.slice(0, 5), line, ...good.slice(5)]);
  const total = good.length + 1;
  const out: { bridge?: Malformed; telegraf?: Malformed } = {};

  const { bridge } = await launchBridge(kind, writeConfig('bad', names.bad, names.bucket.bad, names.index.bad), 'bad', false);
  await bridge.waitJoined();
  await until(`the ${kind} bridge to handle all ${total} lines`, async () => {
    const m = await bridge.metrics(WRITTEN, 'cdnkit_bridge_dead_lettered_lines_total');
    return m[WRITTEN]! + m.cdnkit_bridge_dead_lettered_lines_total! >= total;
  }, 60_000).catch((e: Error) => results.notes.push(`malformed ${kind}, bridge: ${e.message}`));
  const dead = await bridge.metric('cdnkit_bridge_dead_lettered_lines_total');
  const count = kind === 'metrics' ? await countPoints(names.bucket.bad) : await countDocuments(names.index.bad);
  await bridge.stop();
  out.bridge = { line, good: good.length, sinkCount: count, outcome: `${dead} line dead-lettered to ${names.dead} (the next ones written)` };

  if (telegrafBin) {
    const groupId = `bench-telegraf-${kind}-bad-${id}`;
    const sink = await telegrafSink(kind, names.bucket.badTelegraf, names.telegrafIndex.bad);
    const telegraf = launchTelegraf(kind, topic, groupId, sink, 'bad');
    let committed = 0;
    await until(`telegraf to commit all ${total} lines`, async () => (committed = await committedLines(groupId, topic).catch(() => 0)) >= total, 30_000).catch(() => undefined);
    const telegrafCount = kind === 'metrics' ? await countPoints(names.bucket.badTelegraf) : await countDocuments(names.telegrafIndex.bad);
    await telegraf.stop();
    out.telegraf = { line, good: good.length, sinkCount: telegrafCount, outcome: `${committed} / ${total} lines committed; it logged: ${telegrafComplaints(telegraf.output())}` };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Report

function evaluate(): void {
  const c = results.checks;
  // A ratio is only as good as the quiet of the machine during both of its phases.
  const busy = (name: string, cpu: Cpu | undefined) => {
    if (cpu && (cpu.others ?? 0) > 0.3) results.notes.push(`${name}: other processes used ${cpu.others!.toFixed(2)} cores meanwhile; this number is skewed (run again on a quiet machine)`);
  };
  busy('raw ceiling, InfluxDB', results.ceiling.influxdb?.cpuCores);
  busy('raw ceiling, Elasticsearch', results.ceiling.elasticsearch?.cpuCores);
  busy('metrics bridge throughput', results.throughput.metrics?.cpuCores);
  busy('logs bridge throughput', results.throughput.logs?.cpuCores);
  busy('metrics latency', results.latency.metrics?.cpuCores);
  busy('logs latency', results.latency.logs?.cpuCores);
  busy('telegraf metrics throughput', results.telegraf.throughput.metrics?.cpuCores);
  busy('telegraf logs throughput', results.telegraf.throughput.logs?.cpuCores);
  for (const kind of ['metrics', 'logs'] as const) {
    const t = results.throughput[kind];
    if (t && t.ratioToCeiling > 1) results.notes.push(`${kind} bridge at ${(t.ratioToCeiling * 100).toFixed(0)} % of its raw ceiling: that ceiling is not a maximum (or the machine was busier while it ran)`);
    const peer = results.telegraf.throughput[kind];
    if (t && peer) {
      const times = t.linesPerSecond / peer.linesPerSecond;
      c.push({ name: `${kind} bridge throughput / telegraf's`, value: `${times.toFixed(2)}×`, target: `≥ ${TARGETS.overTelegraf}×`, pass: times >= TARGETS.overTelegraf });
      c.push({ name: `${kind} bridge CPU per million lines vs telegraf's`, value: `${t.cpuSecondsPerMillion.toFixed(1)} s vs ${peer.cpuSecondsPerMillion.toFixed(1)} s`, target: '≤ telegraf', pass: t.cpuSecondsPerMillion <= peer.cpuSecondsPerMillion });
    }
  }
  for (const kind of ['metrics', 'logs'] as const) {
    const l = results.latency[kind];
    const target = kind === 'metrics' ? TARGETS.p99MetricsMs : TARGETS.p99LogsMs;
    if (l) c.push({ name: `${kind} end-to-end p99 @ ${fmt(S.rate)}/s`, value: `${fmt(l.p99Ms)} ms`, target: `≤ ${fmt(target)} ms`, pass: l.p99Ms <= target && l.probesSeen === l.probes });
  }
  for (const kind of ['metrics', 'logs'] as const) {
    const l = results.latency[kind];
    if (l) c.push({ name: `${kind} bridge RSS, steady state (max)`, value: `${(l.rss.maxBytes / 2 ** 20).toFixed(0)} MB`, target: `≤ ${TARGETS.rssBytes / 2 ** 20} MB`, pass: l.rss.maxBytes <= TARGETS.rssBytes });
  }
}

function table(): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  const ms = (x: number) => (Number.isNaN(x) ? '—' : `${fmt(x)} ms`);
  const cores = (c: Cpu | undefined, keys: string[]) => (c ? keys.map((k) => `${k} ${(c[k] ?? 0).toFixed(2)}`).join(', ') : '—');
  const ci = results.ceiling.influxdb;
  const ce = results.ceiling.elasticsearch;
  const tm = results.throughput.metrics;
  const tl = results.throughput.logs;
  const lm = results.latency.metrics;
  const ll = results.latency.logs;
  const le = results.latency.errorLogs;
  const sim = results.simulator;
  const pm = results.telegraf.throughput.metrics;
  const pl = results.telegraf.throughput.logs;
  // The bridge's batch histogram counts nothing when no batch observed it: say so rather than "∞, NaN".
  const batches = (t: Throughput | undefined) => (!t ? '—' : t.batches ? `${fmt(t.linesPerBatch)}, ${t.meanBatchMs.toFixed(0)} ms` : 'none observed (cdnkit_bridge_batch_duration_seconds_count is 0)');
  const tried = (c: Ceiling | undefined) => (c ? c.tried.map((t) => `${fmt(t.batch)}×${t.concurrency}: ${fmt(t.linesPerSecond)}`).join(', ') : '—');
  const cc = (c: ConsumeCeiling | undefined) => (c ? `${fmt(c.linesPerSecond)}  (${fmt(c.lines)} in ${c.seconds.toFixed(1)} s)` : '—');
  const cost = (t: { cpuSecondsPerMillion: number; rssMaxBytes: number } | undefined) => (t ? `${t.cpuSecondsPerMillion.toFixed(1)} s, ${mb(t.rssMaxBytes)}` : '—');
  const peerRate = (t: PeerThroughput | undefined) => (t ? `${fmt(t.linesPerSecond)}  (${fmt(t.lines)} in ${t.seconds.toFixed(1)} s)` : results.telegraf.version ? 'failed (see notes)' : '—');
  // On a machine the sink shares, its CPU per line counts as much as the bridge's: whose writes
  // cost the sink more shows here.
  const sinkCost = (sink: string, ...runs: ({ cpuCores: Cpu; linesPerSecond: number } | undefined)[]) =>
    runs.map((t) => (t ? `${(((t.cpuCores[sink] ?? 0) / t.linesPerSecond) * 1e6).toFixed(1)} s` : '—')).join(' / ');
  const peerLatency = (l: Latency | undefined) => (l ? `${ms(l.p50Ms)} / ${ms(l.p99Ms)}, ${mb(l.rss.medianBytes)} / ${mb(l.rss.maxBytes)}` : '—');
  const rows: [string, string, string][] = [
    ['', 'metrics → InfluxDB', 'logs → Elasticsearch'],
    ['1 raw ceiling (best), lines/s', ci ? `${fmt(ci.linesPerSecond)}  (${fmt(ci.lines)} in ${ci.seconds.toFixed(1)} s)` : '—', ce ? `${fmt(ce.linesPerSecond)}  (${fmt(ce.lines)} in ${ce.seconds.toFixed(1)} s)` : '—'],
    ['  best setting (lines × at a time)', ci ? `${fmt(ci.batch)} × ${ci.concurrency}` : '—', ce ? `${fmt(ce.batch)} × ${ce.concurrency}` : '—'],
    ['  every setting, lines/s', tried(ci), tried(ce)],
    ['  Kafka consume ceiling (read, decode)', cc(results.consumeCeiling.metrics), cc(results.consumeCeiling.logs)],
    ['  sink holds', ci ? `${fmt(ci.sinkCount)} / ${fmt(ci.lines)}` : '—', ce ? `${fmt(ce.sinkCount)} / ${fmt(ce.lines)}` : '—'],
    ['2 bridge, lines/s', tm ? `${fmt(tm.linesPerSecond)}  (${fmt(tm.lines)} in ${tm.seconds.toFixed(1)} s)` : '—', tl ? `${fmt(tl.linesPerSecond)}  (${fmt(tl.lines)} in ${tl.seconds.toFixed(1)} s)` : '—'],
    ['  from first line consumed', tm ? `${fmt(tm.linesPerSecondFromFirstConsumed)}  (${((tm.linesPerSecondFromFirstConsumed / (ci?.linesPerSecond ?? NaN)) * 100).toFixed(0)} %)` : '—', tl ? `${fmt(tl.linesPerSecondFromFirstConsumed)}  (${((tl.linesPerSecondFromFirstConsumed / (ce?.linesPerSecond ?? NaN)) * 100).toFixed(0)} %)` : '—'],
    ['  ratio to ceiling (≥ 80 %)', tm ? `${(tm.ratioToCeiling * 100).toFixed(0)} %` : '—', tl ? `${(tl.ratioToCeiling * 100).toFixed(0)} %` : '—'],
    ['  sink holds', tm ? `${fmt(tm.sinkCount)} / ${fmt(tm.lines)}` : '—', tl ? `${fmt(tl.sinkCount)} / ${fmt(tl.lines)}` : '—'],
    ['  lines per batch, mean batch', batches(tm), batches(tl)],
    ['  CPU s per million lines, RSS max', cost(tm), cost(tl)],
    [`2 telegraf ${results.telegraf.version ?? ''}, lines/s`, peerRate(pm), peerRate(pl)],
    ['  CPU s per million lines, RSS max', cost(pm), cost(pl)],
    ['  sink holds', pm ? `${fmt(pm.sinkCount)} / ${fmt(pm.lines)}` : '—', pl ? `${fmt(pl.sinkCount)} / ${fmt(pl.lines)}` : '—'],
    ['  bridge / telegraf (≥ 1.2×)', tm && pm ? `${(tm.linesPerSecond / pm.linesPerSecond).toFixed(2)}×` : '—', tl && pl ? `${(tl.linesPerSecond / pl.linesPerSecond).toFixed(2)}×` : '—'],
    ["  sink's CPU s per million lines, bridge's / telegraf's writes", sinkCost('influxdb', tm, pm), sinkCost('elasticsearch', tl, pl)],
    ['3 latency p50 / p90 / p99 / max', lm ? `${ms(lm.p50Ms)} / ${ms(lm.p90Ms)} / ${ms(lm.p99Ms)} / ${ms(lm.maxMs)}` : '—', ll ? `${ms(ll.p50Ms)} / ${ms(ll.p90Ms)} / ${ms(ll.p99Ms)} / ${ms(ll.maxMs)}` : '—'],
    ['  target p99', `≤ 1,000 ms`, `≤ 2,000 ms`],
    ['  probes seen', lm ? `${lm.probesSeen} / ${lm.probes}` : '—', ll ? `${ll.probesSeen} / ${ll.probes}` : '—'],
    ['  produced / written, lines/s', lm ? `${fmt(lm.producedPerSecond)} / ${fmt(lm.writtenPerSecond)}` : '—', ll ? `${fmt(ll.producedPerSecond)} / ${fmt(ll.writtenPerSecond)}` : '—'],
    ['  lag at end, drain time', lm ? `${fmt(lm.lagAtEnd)} lines, ${lm.drainSeconds.toFixed(1)} s` : '—', ll ? `${fmt(ll.lagAtEnd)} lines, ${ll.drainSeconds.toFixed(1)} s` : '—'],
    ['  sink holds', lm ? `${fmt(lm.sinkCount)} / ${fmt(lm.produced)}` : '—', ll ? `${fmt(ll.sinkCount)} / ${fmt(ll.produced)}` : '—'],
    ['4 bridge RSS median / max', lm ? `${mb(lm.rss.medianBytes)} / ${mb(lm.rss.maxBytes)}` : '—', ll ? `${mb(ll.rss.medianBytes)} / ${mb(ll.rss.maxBytes)}` : '—'],
    ['  target', '≤ 150 MB', '≤ 150 MB'],
    ['  idle (joined, before traffic)', lm ? mb(lm.rss.idleBytes) : '—', ll ? mb(ll.rss.idleBytes) : '—'],
    [`3+4 telegraf p50 / p99, RSS median / max`, peerLatency(results.telegraf.latency.metrics), peerLatency(results.telegraf.latency.logs)],
    ['  V8 heap total / used, external', lm ? `${mb(lm.rss.heapTotalMedianBytes)} / ${mb(lm.rss.heapUsedMedianBytes)}, ${mb(lm.rss.externalMedianBytes)}` : '—', ll ? `${mb(ll.rss.heapTotalMedianBytes)} / ${mb(ll.rss.heapUsedMedianBytes)}, ${mb(ll.rss.externalMedianBytes)}` : '—'],
    ['5 cdnkit simulate → Kafka, lines/s', sim ? `${fmt(sim.reached.linesPerSecond)} unpaced (waited ${sim.reached.waitedSeconds.toFixed(1)} s for Kafka)` : '—', sim ? `${fmt(sim.held.linesPerSecond)} at --rate ${fmt(sim.held.targetRate)} (behind ${sim.held.behindSeconds.toFixed(1)} s)` : '—'],
    [`3+4 logs at ${fmt(S.errorLogRate)}/s (error rate)`, '', le ? `p50 ${ms(le.p50Ms)}, p99 ${ms(le.p99Ms)}, RSS ${mb(le.rss.medianBytes)} / ${mb(le.rss.maxBytes)}` : '—'],
    ['  produced / written, lag at end', '', le ? `${fmt(le.producedPerSecond)} / ${fmt(le.writtenPerSecond)} lines/s, ${fmt(le.lagAtEnd)} lines` : '—'],
    ['CPU, cores (of 2): ceiling', cores(ci?.cpuCores, ['influxdb', 'bench', 'others']), cores(ce?.cpuCores, ['elasticsearch', 'bench', 'others'])],
    ['  throughput', cores(tm?.cpuCores, ['bridge', 'kafka', 'influxdb', 'others']), cores(tl?.cpuCores, ['bridge', 'kafka', 'elasticsearch', 'others'])],
    ['  telegraf throughput', cores(pm?.cpuCores, ['telegraf', 'kafka', 'influxdb', 'others']), cores(pl?.cpuCores, ['telegraf', 'kafka', 'elasticsearch', 'others'])],
    ['  latency', cores(lm?.cpuCores, ['bridge', 'kafka', 'influxdb', 'bench', 'others']), cores(ll?.cpuCores, ['bridge', 'kafka', 'elasticsearch', 'bench', 'others'])],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const lines = rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  lines.splice(1, 0, '-'.repeat(w0 + w1 + 30));
  // Below the table: Telegraf's log line does not fit a column.
  const malformed = (['metrics', 'logs'] as const).flatMap((kind) =>
    (['bridge', 'telegraf'] as const).flatMap((who) => {
      const m = results.malformed[kind]?.[who];
      return m ? [`  ${kind}, ${who}: ${fmt(m.sinkCount)} / ${m.good} good lines in the sink; ${m.outcome}`] : [];
    }),
  );
  const checks = results.checks.map((c) => `${c.pass ? 'PASS' : 'MISS'}  ${c.name}: ${c.value} (target ${c.target})`);
  const profiles = (['metrics', 'logs'] as const).flatMap((kind) => {
    const p = results.throughput[kind]?.profile;
    if (!p) return [];
    return [
      '',
      `CPU profile of the ${kind} bridge during (2), ${fmt(p.totalMs)} ms on its main thread, by package / file:`,
      ...p.groups.slice(0, 10).map((g) => `  ${(g.share * 100).toFixed(1).padStart(5)} %  ${g.name}`),
      '  hottest functions (self time):',
      ...p.functions.slice(0, 10).map((f) => `  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.name}`),
    ];
  });
  return [
    `cdnkit bridge benchmark, run ${run}: ${results.machine.cores} cores (${results.machine.cpu}), Node ${process.version}, load average at start ${(results.machine.loadavgAtStart as number[]).map((x) => x.toFixed(2)).join(' ')}`,
    `bridge: ${CLI}${process.env.BENCH_NODE_FLAGS ? ` with ${process.env.BENCH_NODE_FLAGS}` : ''}; "others" below = CPU used by processes outside this benchmark (a busy machine skews every number)`,
    '',
    ...lines,
    ...(malformed.length ? ['', `a malformed line among ${results.malformed.metrics?.bridge?.good ?? 10} good ones (metrics: ${MALFORMED.metrics}; logs: ${MALFORMED.logs})`, ...malformed] : []),
    '',
    ...checks,
    ...costTable(),
    ...(results.problems.length ? ['', 'problems:', ...results.problems.map((p) => `  - ${p}`)] : []),
    ...(results.notes.length ? ['', 'notes:', ...[...new Set(results.notes)].map((p) => `  - ${p}`)] : []),
    ...profiles,
  ].join('\n');
}

/** How cost grows, the backlog's memory, and the two Kafka clients: one line each. */
function costTable(): string[] {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  const out: string[] = [];
  const drains = S.kinds.flatMap((k) => results.scaling[k] ?? []);
  if (drains.length > 0) {
    out.push('', 'how cost grows (pre-loaded topic, timed once the group is stable with every instance):', '  bridge   partitions  instances  lines/s    CPU s per million  RSS max (largest instance)  cores: bridge / sink / others  load average');
    for (const d of drains) {
      const sink = d.kind === 'metrics' ? 'influxdb' : 'elasticsearch';
      out.push(`  ${d.kind.padEnd(8)} ${String(d.partitions).padStart(10)}  ${String(d.instances).padStart(9)}  ${fmt(d.linesPerSecond).padStart(8)}   ${d.cpuSecondsPerMillion.toFixed(1).padStart(17)}  ${mb(d.rssMaxBytes).padStart(26)}  ${(d.cpuCores.bridge ?? 0).toFixed(2)} / ${(d.cpuCores[sink] ?? 0).toFixed(2)} / ${(d.cpuCores.others ?? 0).toFixed(2)}  ${d.loadavg.map((x) => x.toFixed(2)).join(' ')}${d.writtenTwice > 0 ? `  (${fmt(d.writtenTwice)} lines written twice at the rebalance)` : ''}`);
    }
  }
  for (const kind of S.kinds) {
    const b = results.backlog[kind];
    if (!b) continue;
    const at = (share: number) => b.rssTimeline.find((x) => x.written >= share * b.lines);
    const mark = (x: Drain['rssTimeline'][number] | undefined) => (x ? `${mb(x.bytes)}${x.heapTotal ? ` (heap ${mb(x.heapTotal)}, external ${mb(x.external ?? 0)})` : ''}` : '—');
    const marks = [0.1, 0.25, 0.5, 0.75, 1].map((q) => `${q * 100} % ${mark(at(q))}`).join(', ');
    out.push('', `${kind} bridge draining a backlog of ${fmt(b.lines)} lines: ${fmt(b.linesPerSecond)} lines/s, ${b.cpuSecondsPerMillion.toFixed(1)} CPU s per million, RSS max ${mb(b.rssMaxBytes)} (load ${b.loadavg.map((x) => x.toFixed(2)).join(' ')})`, `  RSS (V8 heap, external) when this share was written: ${marks}`);
  }
  if (results.compare.length > 0) {
    out.push('', `two builds, alternating (a: ${CLI}; b: ${COMPARE_CLI}${process.env.BENCH_COMPARE_NODE_FLAGS ? ` with node ${process.env.BENCH_COMPARE_NODE_FLAGS}` : ''}):`);
    for (const r of results.compare) out.push(`  round ${r.round}  ${r.kind.padEnd(8)} ${r.build}  ${fmt(r.linesPerSecond).padStart(8)} lines/s  ${r.cpuSecondsPerMillion.toFixed(1).padStart(5)} CPU s per million  RSS max ${mb(r.rssMaxBytes)}  others ${(r.cpuCores.others ?? 0).toFixed(2)} cores  load ${r.loadavg.map((x) => x.toFixed(2)).join(' ')}`);
  }
  if (results.latencyCompare.length > 0) {
    out.push('', `logs latency at ${fmt(S.rate)} lines/s, two builds alternating (a: ${CLI}; b: ${COMPARE_CLI}${process.env.BENCH_COMPARE_NODE_FLAGS ? ` with node ${process.env.BENCH_COMPARE_NODE_FLAGS}` : ''}):`);
    for (const { build, round, latency: l, loadavg: load } of results.latencyCompare) {
      out.push(
        `  round ${round}  ${build}  p50 / p99 ${fmt(l.p50Ms)} / ${fmt(l.p99Ms)} ms  produced / written ${fmt(l.producedPerSecond)} / ${fmt(l.writtenPerSecond)} lines/s  lag at end ${fmt(l.lagAtEnd)}  RSS median / max ${mb(l.rss.medianBytes)} / ${mb(l.rss.maxBytes)}  bridge ${(l.cpuCores.bridge ?? 0).toFixed(2)} others ${(l.cpuCores.others ?? 0).toFixed(2)} cores  load ${load.map((x) => x.toFixed(2)).join(' ')}`,
      );
    }
  }
  const c = results.clients;
  if (c) {
    out.push('', `Kafka clients, the same lines read and decoded (no sink; CPU of the reading process, all threads; librdkafka ${c.librdkafkaVersion}):`);
    for (const r of c.runs) out.push(`  round ${r.round}  ${r.kind.padEnd(8)} ${r.client.padEnd(26)} ${fmt(r.linesPerSecond).padStart(9)} lines/s  ${r.cpuSecondsPerMillion.toFixed(2).padStart(6)} CPU s per million  (others ${(r.cpuCores.others ?? 0).toFixed(2)} cores, load ${r.loadavg.map((x) => x.toFixed(2)).join(' ')})`);
  }
  return out;
}

function save(): string {
  const file = join(benchDir, 'last.json');
  writeFileSync(join(runDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  copyFileSync(join(runDir, 'results.json'), file);
  return file;
}

// ---------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  say(`cdnkit bridge benchmark; run files in ${runDir}`);
  if (S.telegraf && S.phases.some((p) => p === 'throughput' || p === 'latency' || p === 'malformed')) {
    // Before the servers start: a cold build takes ~1.5 min of CPU and must not overlap a measurement.
    telegrafBin = await ensureTelegraf();
    results.telegraf.version = TELEGRAF_VERSION;
  }
  say(`private servers: Kafka 127.0.0.1:${S.kafkaPort}, Elasticsearch 127.0.0.1:${S.esPort}, InfluxDB 127.0.0.1:${S.influxPort}`);
  const topics = Object.fromEntries([...Object.values(names.tput), ...Object.values(names.lat), names.lat2.logs, ...Object.values(names.latTelegraf)].map((t) => [t, S.partitions]));
  topics[names.dead] = 1;
  for (const t of Object.values(names.bad)) topics[t] = 1;
  const started = await step('bench: start private Kafka, Elasticsearch and InfluxDB', () =>
    // Each server's stop is registered as soon as it is up: a Ctrl-C while another still starts
    // must not leave the first one running (it left an influxd behind), nor one that comes up later.
    Promise.allSettled(
      [startKafka({ port: S.kafkaPort, partitions: topics }), startElasticsearch({ port: S.esPort }), startInfluxDB({ port: S.influxPort })].map((starting) =>
        starting.then((server: { stop(): Promise<unknown> }) => {
          if (cleaning) void server.stop().catch(() => undefined); // up after the clean-up ran
          else cleanups.push(() => server.stop());
          return server;
        }),
      ),
    ),
  );
  const failed = started.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  if (failed.length > 0) throw new AggregateError(failed, failed.map((e) => e.message).join('; '));
  [kafka, es, influx] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [RunningKafka, RunningElasticsearch, RunningInflux];
  for (const s of [kafka, es, influx]) {
    results.servers[s.name] = { url: s.url, started: s.started };
    if (!s.started) say(`WARNING: ${s.name} at ${s.url} was already running and is reused: it is not private to this run`);
  }
  results.servers.versions = { kafka: kafka.version, elasticsearch: es.version };
  esClient = new Client({ node: es.url, maxRetries: 0, requestTimeout: 60_000 });
  cleanups.push(() => esClient.close());
  kafkaClient = new Kafka({ clientId: 'cdnkit-bench', brokers: kafka.brokers, logLevel: logLevel.NOTHING });

  await step('bench: buckets and index templates', async () => {
    for (const b of Object.values(names.bucket)) await createBucket(b);
    for (const p of Object.values(names.index)) await putTemplate(p);
  });

  const { metrics, logs } = await step(`bench: generate ${fmt(S.metricLines)} metric lines and ${fmt(S.logLines)} error logs`, async () => ({
    metrics: S.kinds.includes('metrics') ? metricLines(1, S.metricLines, BigInt(Date.now() - 3_600_000) * 1_000_000n) : [],
    logs: S.kinds.includes('logs') ? logLines(2, S.logLines, Date.now()) : [],
  }));
  results.settings = { ...S };
  (results.machine as Record<string, unknown>).meanLineBytes = {
    metrics: Math.round(metrics.slice(0, 1000).reduce((s, l) => s + l.length, 0) / Math.max(1, Math.min(1000, metrics.length))),
    logs: Math.round(logs.slice(0, 1000).reduce((s, l) => s + l.length, 0) / Math.max(1, Math.min(1000, logs.length))),
  };

  if (S.phases.some((p) => p === 'ceilings' || p === 'throughput' || p === 'clients')) {
    await step('bench: pre-load the throughput topics (gzip, like the receivers)', async () => {
      await produceAll(names.tput.metrics, metrics);
      await produceAll(names.tput.logs, logs);
    });
  }

  // Each phase stands alone: one that fails is reported and the others still run.
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await step(name, work);
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      results.problems.push(`${name}: ${cause instanceof Error ? cause.message : String(cause)}`);
      say(`  FAILED: ${cause instanceof Error ? cause.message : String(cause)}`);
      return undefined;
    }
  };
  // Telegraf's failures are findings about the peer, not a failure of the run: they go to the notes.
  const peerPhase = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    if (!telegrafBin) return undefined;
    try {
      return await step(name, work);
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      results.notes.push(`${name}: ${cause instanceof Error ? cause.message : String(cause)}`);
      say(`  telegraf FAILED: ${cause instanceof Error ? cause.message : String(cause)}`);
      return undefined;
    }
  };
  const on = (p: (typeof PHASES)[number]) => S.phases.includes(p);
  const both = (kind: 'metrics' | 'logs') => S.kinds.includes(kind);
  if (on('ceilings')) {
    await phase('bench: warm up both sinks (JIT, first index and shard creation; not measured)', async () => {
      const w = Math.min(30_000, metrics.length);
      if (both('metrics')) await influxCeiling(metricLines(3, w, BigInt(Date.now() - 7_200_000) * 1_000_000n), 5000, 3, names.warmup);
      if (both('logs')) await elasticsearchCeiling(logLines(4, Math.min(w, logs.length), Date.now()), 5000, 3, names.warmup);
    });
    const settings = S.ceilingSettings.map(([b, c]) => `${b}×${c}`).join(', ');
    if (both('metrics')) {
      results.ceiling.influxdb = await phase(`bench 1/4: raw ceiling, ${fmt(metrics.length)} lines → InfluxDB, best of ${settings} (lines a request × at a time)`, () =>
        bestCeiling('InfluxDB', S.ceilingSettings, (b, c, bucket) => influxCeiling(metrics, b, c, bucket), names.ceiling),
      );
      if (results.ceiling.influxdb) say(`  InfluxDB ceiling: ${fmt(results.ceiling.influxdb.linesPerSecond)} lines/s`);
    }
    if (both('logs')) {
      results.ceiling.elasticsearch = await phase(`bench 1/4: raw ceiling, ${fmt(logs.length)} documents → Elasticsearch, best of ${settings}`, () =>
        bestCeiling('Elasticsearch', S.ceilingSettings, (b, c, prefix) => elasticsearchCeiling(logs, b, c, prefix), names.ceiling),
      );
      if (results.ceiling.elasticsearch) say(`  Elasticsearch ceiling: ${fmt(results.ceiling.elasticsearch.linesPerSecond)} lines/s`);
    }
    if (both('metrics')) results.consumeCeiling.metrics = await phase(`bench 1/4: consume ceiling, ${fmt(metrics.length)} metric lines read from Kafka and decoded`, () => consumeCeiling(names.tput.metrics, metrics.length));
    if (both('logs')) results.consumeCeiling.logs = await phase(`bench 1/4: consume ceiling, ${fmt(logs.length)} error logs read from Kafka and decoded`, () => consumeCeiling(names.tput.logs, logs.length));
  }

  if (on('throughput')) {
    if (both('metrics')) {
      results.throughput.metrics = await phase(`bench 2/4: metrics bridge drains ${fmt(metrics.length)} pre-loaded lines`, () =>
        bridgeThroughput('metrics', metrics.length, results.ceiling.influxdb),
      );
      if (results.throughput.metrics) say(`  metrics bridge: ${fmt(results.throughput.metrics.linesPerSecond)} lines/s`);
    }
    if (both('logs')) {
      results.throughput.logs = await phase(`bench 2/4: logs bridge drains ${fmt(logs.length)} pre-loaded lines`, () =>
        bridgeThroughput('logs', logs.length, results.ceiling.elasticsearch),
      );
      if (results.throughput.logs) say(`  logs bridge: ${fmt(results.throughput.logs.linesPerSecond)} lines/s`);
    }
    if (both('metrics')) {
      results.telegraf.throughput.metrics = await peerPhase(`bench 2/4: telegraf drains the same ${fmt(metrics.length)} metric lines into InfluxDB`, () =>
        telegrafThroughput('metrics', names.tput.metrics, metrics.length, () => countPoints(names.bucket.telegraf)),
      );
    }
    if (both('logs')) {
      results.telegraf.throughput.logs = await peerPhase(`bench 2/4: telegraf drains the same ${fmt(logs.length)} error logs into Elasticsearch`, () =>
        telegrafThroughput('logs', names.tput.logs, logs.length, () => countDocuments(names.telegrafIndex.tput)),
      );
    }
  }

  if (on('throughput') && (COMPARE_CLI || process.env.BENCH_COMPARE_NODE_FLAGS)) {
    // Two builds side by side: alternating, each S.compareRounds times, on the same pre-loaded topics.
    for (let round = 1; round <= S.compareRounds; round++) {
      for (const [who, cli, nodeFlags] of [['this build', CLI, undefined], ['the other build', COMPARE_CLI!, process.env.BENCH_COMPARE_NODE_FLAGS]] as const) {
        for (const kind of S.kinds) {
          const label = `cmp-r${round}-${who === 'this build' ? 'a' : 'b'}`;
          const target = { label, bucket: `bench-${label}-${id}`, index: `bench-${label}-${id}`, cli, nodeFlags };
          if (kind === 'metrics') await createBucket(target.bucket);
          else await putTemplate(target.index);
          const t = await phase(`bench 2b: ${who} (${cli}), ${kind} bridge, round ${round}`, () => bridgeThroughput(kind, kind === 'metrics' ? metrics.length : logs.length, undefined, target));
          if (t) {
            say(`  ${who}, ${kind}, round ${round}: ${fmt(t.linesPerSecond)} lines/s, ${t.cpuSecondsPerMillion.toFixed(1)} CPU s per million, RSS max ${(t.rssMaxBytes / 2 ** 20).toFixed(0)} MB, others ${(t.cpuCores.others ?? 0).toFixed(2)} cores`);
            results.compare.push({ build: who === 'this build' ? 'a' : 'b', cli, kind, round, linesPerSecond: t.linesPerSecond, cpuSecondsPerMillion: t.cpuSecondsPerMillion, rssMaxBytes: t.rssMaxBytes, cpuCores: t.cpuCores, loadavg: loadavg() });
          }
        }
      }
    }
  }

  if (on('scaling')) {
    for (const kind of S.kinds) {
      results.scaling[kind] = await phase(`bench 2c: how cost grows, ${kind} bridge over ${S.scalingPartitions.join(' / ')} partitions and ${S.scalingInstances.join(' / ')} instances`, () =>
        scalingPhase(kind, kind === 'metrics' ? metrics : logs),
      );
    }
  }
  if (on('backlog')) {
    for (const kind of S.kinds) {
      results.backlog[kind] = await phase(`bench 2c: one ${kind} bridge drains a backlog of ${fmt(S.backlogLines)} lines (its memory over time)`, () => backlogPhase(kind));
    }
  }
  if (on('clients')) results.clients = await phase(`bench 2d: kafkajs against @confluentinc/kafka-javascript ${CKJS_VERSION}, the same lines read and decoded`, clientsPhase);

  if (on('latency')) {
    if (both('metrics')) {
      results.latency.metrics = await phase(`bench 3/4: metrics at ${fmt(S.rate)} lines/s for ${S.latencySeconds} s, probes into InfluxDB`, () => latencyPhase(metricsPlan()));
      if (results.latency.metrics) say(`  metrics latency p50 ${fmt(results.latency.metrics.p50Ms)} ms, p99 ${fmt(results.latency.metrics.p99Ms)} ms`);
    }
    if (both('logs')) {
      results.latency.logs = await phase(`bench 3/4: logs at ${fmt(S.rate)} lines/s for ${S.latencySeconds} s, probes into Elasticsearch`, () => latencyPhase(logsPlan()));
      if (results.latency.logs) say(`  logs latency p50 ${fmt(results.latency.logs.p50Ms)} ms, p99 ${fmt(results.latency.logs.p99Ms)} ms`);
      results.latency.errorLogs = await phase(`bench 3/4 (supplementary): logs at ${fmt(S.errorLogRate)} lines/s, the error rate of 20k requests/s, for ${S.errorLogSeconds} s`, () =>
        latencyPhase(logsPlan('lat2'), S.errorLogRate, S.errorLogSeconds),
      );
      if (results.latency.errorLogs) say(`  logs latency at ${fmt(S.errorLogRate)}/s: p50 ${fmt(results.latency.errorLogs.p50Ms)} ms, p99 ${fmt(results.latency.errorLogs.p99Ms)} ms`);
    }
    if (COMPARE_CLI && S.kinds.includes('logs')) {
      // Two builds side by side: logs at S.rate, alternating, each round on a fresh topic and index.
      for (let round = 1; round <= S.compareRounds; round++) {
        for (const [build, cli, nodeFlags] of [['a', CLI, undefined], ['b', COMPARE_CLI, process.env.BENCH_COMPARE_NODE_FLAGS]] as const) {
          const label = `latcmp-r${round}-${build}`;
          const target: LatencyTarget = { label, topic: await preloadedTopic('logs', label, S.partitions, []), index: `bench-${label}-${id}`, cli, nodeFlags };
          await putTemplate(target.index);
          const latency = await phase(`bench 3b: build ${build} (${cli}), logs at ${fmt(S.rate)} lines/s for ${S.latencySeconds} s, round ${round}`, () => latencyPhase(logsPlan('lat', 'bridge', target)));
          if (latency) {
            say(`  build ${build}, round ${round}: p50 ${fmt(latency.p50Ms)} ms, p99 ${fmt(latency.p99Ms)} ms, written ${fmt(latency.writtenPerSecond)} of ${fmt(latency.producedPerSecond)} lines/s, RSS median ${(latency.rss.medianBytes / 2 ** 20).toFixed(0)} MB`);
            results.latencyCompare.push({ build, cli, round, latency, loadavg: loadavg() });
          }
        }
      }
    }
    if (both('metrics')) results.telegraf.latency.metrics = await peerPhase(`bench 3/4: telegraf, metrics at ${fmt(S.rate)} lines/s for ${S.latencySeconds} s, probes into InfluxDB`, () => latencyPhase(metricsPlan('telegraf')));
    if (both('logs')) results.telegraf.latency.logs = await peerPhase(`bench 3/4: telegraf, logs at ${fmt(S.rate)} lines/s for ${S.latencySeconds} s, probes into Elasticsearch`, () => latencyPhase(logsPlan('lat', 'telegraf')));
  }
  if (on('malformed')) {
    for (const kind of S.kinds) {
      results.malformed[kind] = await phase(`bench: a malformed ${kind} line among 10 good ones, through the bridge${telegrafBin ? ' and telegraf' : ''}`, () => malformedPhase(kind));
    }
  }
  if (on('simulator')) {
    results.simulator = await phase(`bench 5: cdnkit simulate into Kafka, ${fmt(S.simulatorRequests)} requests unpaced, then ${S.simulatorSeconds} s at ${fmt(S.rate)} lines/s`, simulatorRate);
    if (results.simulator) say(`  simulator: ${fmt(results.simulator.reached.linesPerSecond)} lines/s unpaced, ${fmt(results.simulator.held.linesPerSecond)} at ${fmt(S.rate)}`);
  }

  const { ceiling: c, throughput: t, latency: l } = results;
  for (const [what, expected, got] of [
    ['InfluxDB ceiling', c.influxdb?.lines, c.influxdb?.sinkCount],
    ['Elasticsearch ceiling', c.elasticsearch?.lines, c.elasticsearch?.sinkCount],
    ['metrics bridge throughput', t.metrics?.lines, t.metrics?.sinkCount],
    ['logs bridge throughput', t.logs?.lines, t.logs?.sinkCount],
    ['metrics bridge latency', l.metrics?.produced, l.metrics?.sinkCount],
    ['logs bridge latency', l.logs?.produced, l.logs?.sinkCount],
    ['logs bridge latency at the error-log rate', l.errorLogs?.produced, l.errorLogs?.sinkCount],
  ] as const) {
    if (expected !== got) results.problems.push(`${what}: the sink holds ${got} lines, expected ${expected}`);
  }
  const p = results.telegraf;
  for (const [what, expected, got] of [
    ['metrics', p.throughput.metrics?.lines, p.throughput.metrics?.sinkCount],
    ['logs', p.throughput.logs?.lines, p.throughput.logs?.sinkCount],
    ['metrics (latency)', p.latency.metrics?.produced, p.latency.metrics?.sinkCount],
    ['logs (latency)', p.latency.logs?.produced, p.latency.logs?.sinkCount],
  ] as const) {
    if (expected !== got) results.notes.push(`telegraf ${what}: the sink holds ${got} lines, ${expected} were consumed`);
  }
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  results.problems.push(`the benchmark could not run to the end: ${error instanceof Error ? error.message : String(error)}`);
  say(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await step('bench: stop bridges and servers', cleanUp).catch(() => undefined);
}
(results.machine as Record<string, unknown>).loadavgAtEnd = loadavg();
(results.machine as Record<string, unknown>).totalSeconds = (performance.now() - t0) / 1000;
evaluate();
if (results.problems.length > 0) exitCode = 1;
const file = save();
process.stdout.write(`\n${table()}\n\nnumbers: ${file}\n(run files, bridge logs${S.profile ? ', CPU profiles' : ''}: ${runDir})\n`);
process.exit(exitCode);
