// `cdnkit simulate` end to end through the real pieces: the built CLI sends Fastly "Classic"
// syslog to the generated rsyslog receivers (real rsyslogd), which produce to Kafka; both bridges
// (`cdnkit bridge` processes) write to InfluxDB and Elasticsearch. With few series and many
// requests a second, requests of one series end in the same microsecond, and yet the InfluxQL
// counts per minute and status class and the Elasticsearch error counts equal the ground truth,
// and custom fields of every type (one with a simulate hint) are taken by both sinks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { indexTemplate } from '../../generators/elasticsearch.js';
import { referenceFields } from '../../src/config/preset.js';
import type { KitConfigInput } from '../../src/config/schema.js';
import { parseLine } from '../../src/ilp/line-protocol.js';
import { unwrapLine } from '../../src/ingest/unwrap.js';
import type { Truth } from '../../src/simulate/truth.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { freePort, mustRun } from '../../src/local/process.js';
import { scratchDir } from '../support/scratch.js';
import { startBridgeProcess, type BridgeProcess } from '../../src/local/bridge-process.js';
import { BUILT_CLI, referenceKit, writeKitConfig } from './support/config.js';
import { freshTopics, readMessages } from './support/kafka.js';
import { startRsyslog, type Rsyslogd } from './support/rsyslog.js';
import { countDocuments } from './support/elasticsearch.js';
import { eventually } from './support/wait.js';

const id = randomUUID().slice(0, 8);
const es = () => new Client({ node: inject('services').elasticsearch.url });

/** The reference fields with a handful of values each: few series, so collisions are frequent. */
const FEW_SERIES: Record<string, KitConfigInput['fields'][number]['simulate']> = {
  api_name: { values: { orders: 3, stock: 1 } },
  pop: { values: ['IAD'] },
  cache_status: { values: ['MISS'] },
  info_state: { values: ['MISS'] },
  resp_status: { values: { 200: 8, 404: 1, 503: 1 } },
};
/** And custom fields of every type, one with a hint: the sinks must take what the simulator makes of them. */
const fields: KitConfigInput['fields'] = [
  ...referenceFields.map((f) => (FEW_SERIES[f.name] ? { ...f, simulate: FEW_SERIES[f.name] } : f)),
  { name: 'tenant', roles: ['log', 'tag'], fastly: 'req.http.Tenant', varnish: 'req.http.Tenant', simulate: { values: ['acme corp'] } },
  { name: 'retries', type: 'integer', roles: ['log', 'field'], fastly: 'req.restarts', varnish: 'req.restarts', simulate: { range: { min: 0, max: 3 } } },
  { name: 'note', roles: ['log', 'field'], fastly: 'req.http.Note', varnish: 'req.http.Note' },
  { name: 'weight', type: 'float', roles: ['log', 'field'], fastly: 'req.http.Weight', varnish: 'req.http.Weight' },
  { name: 'shielded', type: 'boolean', roles: ['log', 'field'], fastly: 'fastly.ff.visits_this_service', varnish: 'req.http.Shielded' },
  { name: 'seen_at', type: 'timestamp', roles: ['log'], fastly: 'now', varnish: 'req.http.Seen-At' },
  { name: 'origin_ip', type: 'ip', roles: ['log'], fastly: 'req.http.Origin-IP', varnish: 'req.http.Origin-IP' },
];
/** Simulated requests per second of event time, and how many. Starting 5 s before a minute ends. */
const SIMULATED = { rps: 5000, count: 60_000, start: '2026-02-03T10:14:55Z' };

let influx: RunningInflux;
let rsyslog: Rsyslogd | undefined;
const bridges: BridgeProcess[] = [];
const indexPrefix = `simulate-e2e-${id}`;
const work = scratchDir('cdnkit-simulate-e2e-');

beforeAll(async () => {
  influx = await startInfluxDB();
});
afterAll(async () => {
  await rsyslog?.stop();
  await Promise.all(bridges.map((b) => b.stop()));
  await es().indices.delete({ index: `${indexPrefix}-*`, ignore_unavailable: true });
  await es().indices.deleteIndexTemplate({ name: indexPrefix }).catch(() => undefined);
});

async function influxQl(bucket: string, q: string): Promise<{ tags?: Record<string, string>; values: [number, number][] }[]> {
  const url = new URL('/query', influx.url);
  url.search = new URLSearchParams({ db: bucket, q, epoch: 'ms' }).toString();
  const body = (await (await fetch(url, { headers: { Authorization: `Token ${influx.token}` } })).json()) as {
    results: { series?: { tags?: Record<string, string>; values: [number, number][] }[] }[];
  };
  return body.results[0]?.series ?? [];
}

async function termCounts(index: string, aggregation: object): Promise<Record<string, number>> {
  const response = await es().search({ index, size: 0, ...aggregation });
  const buckets = (response.aggregations!.counted as { buckets: { key: string; doc_count: number }[] }).buckets;
  return Object.fromEntries(buckets.map((b) => [b.key, b.doc_count]));
}

describe('cdnkit simulate, end to end', () => {
  it('sinks hold exactly the ground truth, even for requests of one series in one microsecond', { timeout: 300_000 }, async () => {
    const topics = await freshTopics(['logs', 'metrics', 'dead'] as const, 3);
    const bucket = `simulate-e2e-${id}`;
    await createBucket(influx, bucket);
    const [logsPort, metricsPort] = [await freePort(), await freePort()];
    const overrides: Partial<KitConfigInput> = {
      fields,
      receivers: { host: '127.0.0.1', logsPort, metricsPort },
      kafka: {
        brokers: inject('services').kafka.brokers,
        topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics }, deadLetter: { name: topics.dead } },
        producer: { lingerMs: 10 },
      },
      sinks: { influxdb: { url: influx.url, org: influx.org, bucket }, elasticsearch: { url: inject('services').elasticsearch.url, indexPrefix } },
      bridges: { metrics: { groupId: `simulate-metrics-${id}` }, logs: { groupId: `simulate-logs-${id}` } },
    };
    const config = referenceKit(overrides);
    const configFile = writeKitConfig(overrides);
    await es().indices.putIndexTemplate({ name: indexPrefix, ...(indexTemplate(config) as object) });
    rsyslog = await startRsyslog(config);
    for (const kind of ['metrics', 'logs'] as const) {
      const bridge = await startBridgeProcess(kind, configFile, { CDNKIT_INFLUX_TOKEN: influx.token });
      bridges.push(bridge);
      await bridge.waitReady();
    }

    const simulate = (...args: string[]) =>
      mustRun(process.execPath, [BUILT_CLI, 'simulate', '-c', configFile, '--seed', '5', '--start', SIMULATED.start, '--rps', String(SIMULATED.rps), '--count', String(SIMULATED.count), '--format', 'classic', '--rate', '0', '-q', ...args]);
    const sent = await simulate('--to', 'syslog', '--truth', join(work, 'truth.json'));
    const truth = JSON.parse(readFileSync(join(work, 'truth.json'), 'utf8')) as Truth;
    expect(truth.totals.requests).toBe(SIMULATED.count);
    expect(sent.stderr).toContain(`sent ${SIMULATED.count} requests`);

    // The same bytes again, to a file: the precondition that made exact counts hard did happen.
    await simulate('--to', join(work, 'lines.txt'));
    const points = readFileSync(join(work, 'lines.txt'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => unwrapLine(l).payload)
      .filter((l) => !l.startsWith('{'))
      .map(parseLine);
    const sameMicrosecond = new Set<string>();
    let collisions = 0;
    for (const p of points) {
      const key = `${JSON.stringify(p.tags)} ${p.timestamp! / 1000n}`;
      if (sameMicrosecond.has(key)) collisions++;
      sameMicrosecond.add(key);
    }
    expect(collisions).toBeGreaterThan(10);
    expect(truth.minutes.length).toBeGreaterThan(1);

    const index = `${indexPrefix}-*`;
    const countPoints = async () => (await influxQl(bucket, 'SELECT count(elapsed_time) FROM cdnmetrics'))[0]?.values[0]?.[1] ?? 0;
    const documents = () => countDocuments(es(), index);
    const diagnostics = () => bridges.map((b) => b.output().slice(-3000)).join('\n') + rsyslog!.output();
    // Wait for the bridges to have had every line written, then count what the sinks kept.
    const [metricsBridge, logsBridge] = bridges as [BridgeProcess, BridgeProcess];
    const written = (bridge: BridgeProcess) => bridge.metric('cdnkit_bridge_written_lines_total');
    await eventually(`the metrics bridge to write ${truth.totals.requests} lines`, async () => (await written(metricsBridge)) >= truth.totals.requests, 120_000, diagnostics);
    await eventually(`the logs bridge to write ${truth.totals.errors} lines`, async () => (await written(logsBridge)) >= truth.totals.errors, 120_000, diagnostics);
    expect(await written(metricsBridge)).toBe(truth.totals.requests);
    expect(await written(logsBridge)).toBe(truth.totals.errors);
    for (const bridge of bridges) expect(await bridge.metric('cdnkit_bridge_dead_lettered_lines_total')).toBe(0);
    // One point per request: none overwrote another of its series.
    expect(await countPoints()).toBe(truth.totals.requests);
    expect(await documents()).toBe(truth.totals.errors);

    // InfluxQL: requests per minute and status class.
    const series = await influxQl(bucket, `SELECT count(elapsed_time) FROM cdnmetrics WHERE time >= '2026-02-03T10:00:00Z' AND time < '2026-02-03T11:00:00Z' GROUP BY time(1m), resp_status`);
    const fromInflux: Record<string, number> = {};
    for (const s of series) {
      for (const [ms, count] of s.values) {
        if (!count) continue;
        const key = `${new Date(ms).toISOString()} ${s.tags!.resp_status![0]}xx`;
        fromInflux[key] = (fromInflux[key] ?? 0) + count;
      }
    }
    const fromTruth: Record<string, number> = {};
    for (const m of truth.minutes) for (const [cls, stats] of Object.entries(m.by.statusClass)) fromTruth[`${m.minute} ${cls}`] = stats.requests;
    expect(fromInflux).toEqual(fromTruth);

    // Elasticsearch: errors per URL (the test's Elasticsearch has no scripting module for a
    // runtime "path" field), added up per path, the URL without its query; per backend; per POP.
    const perPath: Record<string, number> = {};
    for (const [url, count] of Object.entries(await termCounts(index, { aggs: { counted: { terms: { field: 'request_url', size: 10_000 } } } }))) {
      const urlPath = url.split('?')[0]!;
      perPath[urlPath] = (perPath[urlPath] ?? 0) + count;
    }
    expect(perPath).toEqual(truth.errors.byPath);
    expect(await termCounts(index, { aggs: { counted: { terms: { field: 'request_backend', size: 1000 } } } })).toEqual(truth.errors.byRequestBackend);
    expect(await termCounts(index, { aggs: { counted: { terms: { field: 'fastly_pop', size: 1000 } } } })).toEqual(truth.errors.byPop);
  });

  it('--to kafka produces the same lines to the two topics as --to a file writes', async () => {
    const topics = await freshTopics(['logs', 'metrics'] as const, 3);
    const overrides: Partial<KitConfigInput> = {
      fields,
      kafka: { brokers: inject('services').kafka.brokers, topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics } } },
    };
    const configFile = writeKitConfig(overrides);
    const simulate = (...args: string[]) =>
      mustRun(process.execPath, [BUILT_CLI, 'simulate', '-c', configFile, '--seed', '11', '--start', SIMULATED.start, '--rate', '0', '--count', '3000', '-q', ...args]);
    await simulate('--to', 'kafka');
    await simulate('--to', join(work, 'kafka-lines.txt'));
    const lines = readFileSync(join(work, 'kafka-lines.txt'), 'utf8').trimEnd().split('\n');
    const logs = lines.filter((l) => l.startsWith('{'));
    const metrics = lines.filter((l) => !l.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    expect((await readMessages(topics.metrics, metrics.length)).map((m) => m.value).sort()).toEqual(metrics.sort());
    expect((await readMessages(topics.logs, logs.length)).map((m) => m.value).sort()).toEqual(logs.sort());
  });
});
