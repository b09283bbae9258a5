// Every panel query of the generated dashboards, run by the check's runner (grafana/check) exactly as
// Grafana sends it, against the real InfluxDB and Elasticsearch loaded with simulated traffic
// (written through the bridges' own sink modules), compared with the simulator's ground truth.
//
// Percentiles: InfluxQL's percentile() takes the value at 0-based index floor(n·p/100 + 0.5) − 1,
// i.e. it rounds the rank where nearest rank (the ground truth's method) takes its ceiling; the two
// are never more than one rank apart, and that is the tolerance checked: InfluxDB's value is the
// value at rank ⌈p/100·n⌉ − 1, ⌈p/100·n⌉ or ⌈p/100·n⌉ + 1 of the minute's sorted values, and
// exactly the value at its own documented rank.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { indexTemplate } from '../../generators/elasticsearch.js';
import { checkDashboards, type PanelCheck } from '../../grafana/check/run.js';
import type { Series } from '../../grafana/check/frames.js';
import { grafanaResources } from '../../grafana/index.js';
import { elasticsearchSink } from '../../src/bridge/elasticsearch-sink.js';
import { influxSink } from '../../src/bridge/influxdb-sink.js';
import type { Sink, SourceRecord } from '../../src/bridge/sink.js';
import { referenceFields } from '../../src/config/preset.js';
import type { KitConfig, KitConfigInput } from '../../src/config/schema.js';
import { edgeTraffic } from '../../src/simulate/run.js';
import type { SimRequest } from '../../src/simulate/model.js';
import { GroundTruth, type Truth } from '../../src/simulate/truth.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { mustRun, runCommand } from '../../src/local/process.js';
import { stringify } from 'yaml';
import { referenceConfig } from '../../src/config/preset.js';
import { BUILT_CLI, referenceKit } from './support/config.js';

const id = randomUUID().slice(0, 8);
const es = () => new Client({ node: inject('services').elasticsearch.url });
const indexPrefix = `grafana-${id}`;
const bucket = `grafana-${id}`;
const MINUTE = 60_000;
/** Ten simulated minutes, starting on a minute, 30 requests a second of event time. */
const START = Date.parse('2026-03-02T08:00:00Z');
const TRAFFIC = { rps: 30, durationMs: 10 * MINUTE };
/** One dashboard time range around the traffic, sized so that $__interval is 1m (720 s / 12 points). */
const RANGE = { fromMs: START - MINUTE, toMs: START + 11 * MINUTE };
const MAX_DATA_POINTS = 12;

/** The reference fields, and a custom tag and a custom numeric field of the user's own. */
const overrides = {
  fields: [
    ...referenceFields,
    { name: 'tenant', roles: ['log', 'tag'], fastly: 'req.http.Tenant', varnish: 'req.http.Tenant', simulate: { values: { acme: 3, globex: 1 } } },
    { name: 'queue_ms', type: 'integer', roles: ['field'], fastly: 'req.http.Queue-Ms', varnish: 'req.http.Queue-Ms', simulate: { range: { min: 0, max: 400 } } },
  ],
  sinks: { elasticsearch: { indexPrefix } },
} satisfies Partial<KitConfigInput>;
const config: KitConfig = referenceKit(overrides);
const work = mkdtempSync(join(tmpdir(), 'cdnkit-grafana-check-'));
const tenantIndex = config.fields.findIndex((f) => f.name === 'tenant');
const queueIndex = config.fields.findIndex((f) => f.name === 'queue_ms');

let influx: RunningInflux;
let truth: Truth;
const requests: SimRequest[] = [];
let checks: PanelCheck[];

async function writeAll(sink: Sink, topic: string, lines: string[]): Promise<void> {
  for (let at = 0; at < lines.length; at += 5000) {
    const records: SourceRecord[] = lines.slice(at, at + 5000).map((line, i) => ({
      topic,
      partition: 0,
      offset: String(at + i),
      timestamp: String(START),
      key: null,
      value: Buffer.from(line, 'utf8'),
    }));
    const outcome = await sink.write(records);
    expect(outcome.rejected).toEqual([]);
    expect(outcome.retry).toEqual([]);
  }
  await sink.close();
}

beforeAll(async () => {
  influx = await startInfluxDB();
  // A unique bucket with its DBRP mapping (POST /api/v2/dbrps: database = bucket, rp autogen).
  await createBucket(influx, bucket);
  await es().indices.putIndexTemplate({ name: indexPrefix, ...(indexTemplate(config) as object) });

  const ground = new GroundTruth(config);
  const metrics: string[] = [];
  const logs: string[] = [];
  for (const sent of edgeTraffic({
    config,
    seed: 9,
    startMs: START,
    requestsPerSecond: TRAFFIC.rps,
    durationMs: TRAFFIC.durationMs,
    format: 'blank',
    // A 401/403 storm, so the auth panel has something to show.
    scenarios: [{ type: 'auth', start: 2 * MINUTE, duration: 2 * MINUTE, api: 'users', pop: 'IAD', share: 0.8 }],
  })) {
    ground.add(sent.request);
    requests.push(sent.request);
    metrics.push(sent.metric);
    if (sent.log !== undefined) logs.push(sent.log);
  }
  truth = ground.toJSON();
  await writeAll(influxSink({ url: influx.url, token: influx.token, org: influx.org, bucket }), 'cdn-metrics', metrics);
  await writeAll(elasticsearchSink(config, { url: inject('services').elasticsearch.url, indexPrefix }), 'cdn-logs', logs);
  await es().indices.refresh({ index: `${indexPrefix}-*` });

  checks = await checkDashboards(
    grafanaResources(config).dashboards.map((d) => d.dashboard),
    {
      influxdb: { url: influx.url, token: influx.token, database: bucket, retentionPolicy: 'autogen' },
      elasticsearch: { url: inject('services').elasticsearch.url, index: `${indexPrefix}-*` },
    },
    { range: RANGE, maxDataPoints: MAX_DATA_POINTS },
  );
}, 240_000);

afterAll(async () => {
  await es().indices.delete({ index: `${indexPrefix}-*`, ignore_unavailable: true });
  await es().indices.deleteIndexTemplate({ name: indexPrefix }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

const panel = (dashboardUid: string, title: string): PanelCheck => {
  const found = checks.find((c) => c.dashboardUid === dashboardUid && c.title === title);
  if (!found) throw new Error(`no panel "${title}" on ${dashboardUid}: ${checks.map((c) => `${c.dashboardUid}/${c.title}`).join(', ')}`);
  return found;
};
const minuteKey = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', ':00.000Z');
/** A series' points keyed by minute (ISO, as the truth writes them), zeros left out. */
const perMinute = (series: Series | undefined) =>
  Object.fromEntries((series?.points ?? []).filter((p) => p.value !== 0 && p.value !== null).map((p) => [minuteKey(p.time!), p.value]));
/** The truth per minute for one group of one dimension, zeros left out. */
const truthPerMinute = (value: (m: Truth['minutes'][number]) => number | undefined) =>
  Object.fromEntries(truth.minutes.map((m) => [m.minute, value(m) ?? 0]).filter(([, v]) => v !== 0));
/** Per-minute counts of the requests matching a predicate, grouped by a key. */
function recount(keyOf: (q: SimRequest) => string | undefined): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const q of requests) {
    const key = keyOf(q);
    if (key === undefined) continue;
    const minute = minuteKey(Math.floor(q.endUs / 1000 / MINUTE) * MINUTE);
    (out[key] ??= {})[minute] = (out[key]![minute] ?? 0) + 1;
  }
  return out;
}
const only = (check: PanelCheck, name: string) => check.results.flatMap((r) => r.series).filter((s) => s.name === name);

describe('grafana check on the generated dashboards', () => {
  it('finds data on every InfluxDB and Elasticsearch panel; the Prometheus panels are reported as not checked', () => {
    expect(truth.totals.requests).toBe(requests.length);
    expect(requests.length).toBeGreaterThan(15_000);
    const problems = checks.filter((c) => c.status !== 'ok' && !(c.dashboardUid === 'cdnkit-pipeline-health' && c.status === 'not checked'));
    expect(problems.map((c) => `${c.dashboardUid}/${c.title}: ${c.status} ${c.reason ?? ''}`)).toEqual([]);
    expect(checks.filter((c) => c.status === 'ok').length).toBeGreaterThan(25);
  });

  it('sends InfluxQL with $timeFilter, $__interval and every variable expanded as Grafana does', () => {
    const sent = panel('cdnkit-product-detail', 'elapsed_time p95 and p99 by api_name').results[0]!.sent;
    expect(sent).toContain(`WHERE time >= ${RANGE.fromMs}ms and time <= ${RANGE.toMs}ms AND "product" =~ /^api$/`);
    expect(sent).toContain('GROUP BY time(1m), "api_name"');
    expect(sent).toMatch(/"tenant" =~ \/\^\((acme\|globex|globex\|acme)\)\$\//);
    expect(sent).not.toMatch(/\$\w/);
  });

  it('counts requests per minute and per status class exactly as sent', () => {
    const total = only(panel('cdnkit-overview', 'Requests per minute'), 'requests');
    expect(total).toHaveLength(1);
    expect(perMinute(total[0])).toEqual(truthPerMinute((m) => m.all.requests));
    const classes = panel('cdnkit-overview', 'Status classes').results;
    for (const [i, cls] of ['1xx', '2xx', '3xx', '4xx', '5xx'].entries()) {
      expect(perMinute(classes[i]!.series[0]), cls).toEqual(truthPerMinute((m) => m.by.statusClass[cls]?.requests));
    }
    const errors = panel('cdnkit-overview', '4xx and 5xx per minute').results;
    expect(perMinute(errors[0]!.series.find((s) => s.labels.product === 'api'))).toEqual(truthPerMinute((m) => m.by.statusClass['4xx']?.requests));
    expect(perMinute(errors[1]!.series.find((s) => s.labels.product === 'api'))).toEqual(truthPerMinute((m) => m.by.statusClass['5xx']?.requests));
  });

  it('computes the cache hit ratio per minute from the same requests', () => {
    const ratio = panel('cdnkit-overview', 'Cache hit ratio').results;
    expect(ratio).toHaveLength(1);
    const values = Object.fromEntries(ratio[0]!.series[0]!.points.filter((p) => p.value !== null).map((p) => [minuteKey(p.time!), p.value!]));
    for (const m of truth.minutes) expect(values[m.minute], m.minute).toBeCloseTo((m.by.cacheStatus.HIT?.requests ?? 0) / m.all.requests, 12);
  });

  it('counts errors per minute by API, requested and actual backend, as the truth does', () => {
    const byTag = { api_name: 'api', request_backend: 'requestBackend', actual_backend: 'actualBackend' } as const;
    for (const [tag, dimension] of Object.entries(byTag)) {
      const series = panel('cdnkit-product-detail', `Errors by ${tag}`).results[0]!.series;
      const groups = Object.entries(truth.minutes.reduce<Record<string, number>>((all, m) => {
        for (const [k, g] of Object.entries(m.by[dimension])) if (g.errors > 0) all[k] = (all[k] ?? 0) + g.errors;
        return all;
      }, {}));
      expect(series.map((s) => s.labels[tag]).sort(), tag).toEqual(groups.map(([k]) => k).sort());
      for (const [key] of groups) expect(perMinute(series.find((s) => s.labels[tag] === key)), `${tag}=${key}`).toEqual(truthPerMinute((m) => m.by[dimension][key]?.errors));
    }
  });

  it('slices requests by every tag, the custom tag included', () => {
    const byTag = { api_name: 'api', request_backend: 'requestBackend', actual_backend: 'actualBackend', pop: 'pop', region: 'region', resp_status: 'status' } as const;
    for (const [tag, dimension] of Object.entries(byTag)) {
      const series = panel('cdnkit-product-detail', `Requests by ${tag}`).results[0]!.series;
      for (const s of series) expect(perMinute(s), `${tag}=${s.labels[tag]}`).toEqual(truthPerMinute((m) => m.by[dimension][s.labels[tag]!]?.requests));
      expect(series.length).toBe(new Set(truth.minutes.flatMap((m) => Object.keys(m.by[dimension]))).size);
    }
    const tenants = panel('cdnkit-product-detail', 'Requests by tenant').results[0]!.series;
    const expected = recount((q) => String(q.values[tenantIndex]));
    expect(tenants.map((s) => s.labels.tenant).sort()).toEqual(['acme', 'globex']);
    for (const s of tenants) expect(perMinute(s)).toEqual(expected[s.labels.tenant!]);
  });

  it('shows the 401/403 storm by POP, API and status', () => {
    const series = panel('cdnkit-product-detail', '401 and 403 by pop and api_name').results[0]!.series;
    const expected = recount((q) => (q.status === 401 || q.status === 403 ? `${q.pop} ${q.api} ${q.status}` : undefined));
    expect(Object.keys(expected)).toContain('IAD users 401');
    expect(Object.fromEntries(series.map((s) => [`${s.labels.pop} ${s.labels.api_name} ${s.labels.resp_status}`, perMinute(s)]))).toEqual(expected);
  });

  it("gives percentiles within InfluxQL's one-rank tolerance of nearest rank, and exactly at InfluxQL's own rank", () => {
    const cases = [
      { title: 'elapsed_time p95 and p99', value: (q: SimRequest) => q.elapsedMs, scale: 1 },
      { title: 'time_to_first_byte p95 and p99', value: (q: SimRequest) => q.ttfbMs, scale: 1000 },
      { title: 'queue_ms p95 and p99', value: (q: SimRequest) => Number(q.values[queueIndex]), scale: 1 },
    ];
    for (const { title, value, scale } of cases) {
      const series = panel('cdnkit-overview', title).results[0]!.series;
      for (const p of [95, 99]) {
        const got = perMinute(series.find((s) => s.name === `p${p}`));
        for (const m of truth.minutes) {
          const sorted = requests.filter((q) => minuteKey(Math.floor(q.endUs / 1000 / MINUTE) * MINUTE) === m.minute).map(value).sort((a, b) => a - b);
          const nearest = Math.ceil((p / 100) * sorted.length) - 1;
          if (title.startsWith('elapsed')) expect(sorted[nearest]).toBe(m.all.elapsedMs[`p${p}` as 'p95']);
          const influxRank = Math.floor((sorted.length * p) / 100 + 0.5) - 1;
          expect(Math.abs(influxRank - nearest)).toBeLessThanOrEqual(1);
          expect(Math.round(got[m.minute]! * scale), `${title} p${p} ${m.minute}`).toBe(sorted[influxRank]);
        }
      }
    }
  });

  it('counts error logs in Elasticsearch per minute and status, and by URL, API, backend and POP', () => {
    const byStatus = panel('cdnkit-error-logs', 'Errors per minute by status').results[0]!.series;
    for (const s of byStatus) expect(perMinute(s), s.labels.resp_status).toEqual(truthPerMinute((m) => m.by.status[s.labels.resp_status!]?.errors));
    const sum = (pick: (m: Truth['minutes'][number]) => Record<string, { errors: number }>) =>
      truth.minutes.reduce<Record<string, number>>((all, m) => {
        for (const [k, g] of Object.entries(pick(m))) if (g.errors > 0) all[k] = (all[k] ?? 0) + g.errors;
        return all;
      }, {});
    const top = (title: string, key: string) => Object.fromEntries(panel('cdnkit-error-logs', title).results[0]!.series.map((s) => [s.labels[key], s.points[0]!.value]));
    const topOf = (counts: Record<string, number>) => Object.values(counts).sort((a, b) => b - a).slice(0, 20);
    const expectTop = (got: Record<string, number | null>, all: Record<string, number>) => {
      for (const [k, v] of Object.entries(got)) expect(v, k).toBe(all[k]);
      expect(Object.values(got).sort((a, b) => b! - a!)).toEqual(topOf(all));
    };
    expectTop(top('Top error statuses', 'resp_status'), sum((m) => m.by.status));
    expectTop(top('Top error APIs', 'api_name'), sum((m) => m.by.api));
    expectTop(top('Top error backends', 'request_backend'), truth.errors.byRequestBackend);
    expectTop(top('Top error POPs', 'fastly_pop'), truth.errors.byPop);
    // URLs carry their query string; summed by path they are the truth's errors by path.
    const byUrl: Record<string, number> = {};
    for (const q of requests) if (q.status >= config.errors.minStatus) byUrl[q.url] = (byUrl[q.url] ?? 0) + 1;
    const byPath: Record<string, number> = {};
    for (const [url, n] of Object.entries(byUrl)) byPath[url.split('?')[0]!] = (byPath[url.split('?')[0]!] ?? 0) + n;
    expect(byPath).toEqual(truth.errors.byPath);
    expectTop(top('Top error URLs', 'request_url'), byUrl);
  });

  it('lists the latest errors newest first', () => {
    const documents = panel('cdnkit-error-logs', 'Latest errors').results[0]!.documents;
    expect(documents).toHaveLength(100);
    const times = documents.map((d) => Date.parse(String(d['@timestamp'])));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const newest = Math.max(...requests.filter((q) => q.status >= config.errors.minStatus).map((q) => Math.floor(q.endUs / 1000)));
    expect(Math.abs(times[0]! - newest)).toBeLessThan(1000);
  });

  it('cdnkit grafana check (the built CLI) runs the same panels from the config and the environment, and says so', async () => {
    const file = join(work, 'cdnkit.yaml');
    writeFileSync(file, stringify({ ...referenceConfig, ...overrides, sinks: { influxdb: { url: influx.url, org: influx.org, bucket }, elasticsearch: { url: inject('services').elasticsearch.url, indexPrefix } } }));
    const range = ['--from', new Date(RANGE.fromMs).toISOString(), '--to', new Date(RANGE.toMs).toISOString(), '--max-data-points', String(MAX_DATA_POINTS)];
    const { stdout } = await mustRun(process.execPath, [BUILT_CLI, 'grafana', 'check', '-c', file, ...range], { env: { ...process.env, CDNKIT_INFLUX_TOKEN: influx.token } });
    expect(stdout).toContain(`${checks.length} panels: ${checks.length} answered, 0 with an error or no data`);
    expect(stdout).toContain('not checked cdnkit-pipeline-health / Consumer lag: no Prometheus to query');
    // The traffic is months before now: the pipeline rule sees nothing in its window and fires.
    expect(stdout).toContain('rule firing  cdnkit-no-data: all');
    expect(stdout).toContain('rule nodata  cdnkit-traffic-drop');
    // An empty window: every InfluxDB and Elasticsearch panel has no data, and the command fails.
    const empty = ['--from', '2020-01-01T00:00:00Z', '--to', '2020-01-01T01:00:00Z'];
    const failed = await runCommand(process.execPath, [BUILT_CLI, 'grafana', 'check', '-c', file, ...empty], { env: { ...process.env, CDNKIT_INFLUX_TOKEN: influx.token } });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('no data     cdnkit-overview / Requests per minute');
  });
});
