// The pipeline-health dashboard's PromQL, run by the check against a real Prometheus (built by the
// harness from the Go module proxy) scraping a real metrics bridge that consumed simulated lines
// and one malformed line from Kafka.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkDashboards, type PanelCheck } from '../../grafana/check/run.js';
import { grafanaResources } from '../../grafana/index.js';
import type { KitConfigInput } from '../../src/config/schema.js';
import { edgeTraffic } from '../../src/simulate/run.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { freePort } from '../../src/local/process.js';
import { bridgeScrapeConfig, startPrometheus, type RunningPrometheus } from '../../src/local/prometheus.js';
import { startBridgeProcess, type BridgeProcess } from '../../src/local/bridge-process.js';
import { referenceKit, writeKitConfig } from './support/config.js';
import { freshTopics, produceLines } from './support/kafka.js';
import { eventually } from './support/wait.js';
import { scratchDir } from '../support/scratch.js';

const id = randomUUID().slice(0, 8);
const LINES = 3000;
const SCRAPE_MS = 1000;
let influx: RunningInflux;
let bridge: BridgeProcess | undefined;
let prometheus: RunningPrometheus | undefined;
let topics: Record<'logs' | 'metrics' | 'dead', string>;

const promQuery = (query: string) => prometheus!.query(query);

beforeAll(async () => {
  influx = await startInfluxDB();
  const bin = inject('tools').prometheus;
  topics = await freshTopics(['logs', 'metrics', 'dead'] as const, 1);
  const bucket = `pipeline-${id}`;
  await createBucket(influx, bucket);
  const overrides: Partial<KitConfigInput> = {
    kafka: { brokers: inject('services').kafka.brokers, topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics }, deadLetter: { name: topics.dead } } },
    sinks: { influxdb: { url: influx.url, org: influx.org, bucket } },
    bridges: { metrics: { groupId: `pipeline-${id}` } },
  };
  const configFile = writeKitConfig(overrides);
  bridge = await startBridgeProcess('metrics', configFile, { CDNKIT_INFLUX_TOKEN: influx.token });
  await bridge.waitReady();

  prometheus = await startPrometheus({
    bin,
    dir: scratchDir('cdnkit-grafana-pipeline-'),
    listen: `127.0.0.1:${await freePort()}`,
    config: bridgeScrapeConfig([new URL(bridge.operations).host], SCRAPE_MS / 1000),
  });
  await eventually('Prometheus scrapes the bridge', async () => (await promQuery('up').catch(() => []))[0]?.value[1] === '1', 60_000);

  const config = referenceKit(overrides);
  const lines = [...edgeTraffic({ config, seed: 4, startMs: Date.now() - 60_000, requestsPerSecond: 50, count: LINES, format: 'blank' })].map((r) => r.metric);
  await produceLines(topics.metrics, [...lines, 'not line protocol at all']);
  await eventually(`Prometheus sees ${LINES} lines written`, async () => Number((await promQuery('cdnkit_bridge_written_lines_total'))[0]?.value[1]) === LINES, 60_000);
  // The dead-letter counters exist at 0 from the bridge's start (src/bridge/telemetry.ts), so the
  // first dead letter is an increase rate() sees, not the birth of a series at 1.
  await eventually(
    'Prometheus sees the first dead letter as an increase',
    async () => Number((await promQuery('sum(increase(cdnkit_bridge_dead_lettered_lines_total{reason="invalid line protocol"}[1m]))'))[0]?.value[1] ?? 0) > 0,
    60_000,
  );
}, 1_800_000);

afterAll(async () => {
  await prometheus?.stop();
  await bridge?.stop();
});

describe('pipeline-health dashboard on a real Prometheus', () => {
  let checks: PanelCheck[];
  beforeAll(async () => {
    const dashboard = grafanaResources(referenceKit()).dashboards.find((d) => d.name === 'pipeline-health')!.dashboard;
    const now = Date.now();
    checks = await checkDashboards(
      [dashboard],
      {
        influxdb: { url: influx.url, token: influx.token, database: 'unused', retentionPolicy: 'autogen' },
        elasticsearch: { url: inject('services').elasticsearch.url, index: 'unused-*' },
        prometheus: { url: prometheus!.url, scrapeIntervalMs: SCRAPE_MS },
      },
      { range: { fromMs: now - 120_000, toMs: now }, maxDataPoints: 120 },
    );
  });

  it('answers every panel with data', () => {
    expect(checks.map((c) => `${c.title}: ${c.status} ${c.reason ?? ''}`.trim())).toEqual(checks.map((c) => `${c.title}: ok`));
  });

  it('sends PromQL with $__rate_interval expanded from the scrape interval, and labels series by bridge, reason and topic', () => {
    const panel = (title: string) => checks.find((c) => c.title === title)!.results[0]!;
    expect(panel('Lines written').sent).toBe('sum by (bridge) (rate(cdnkit_bridge_written_lines_total[4s]))');
    expect(panel('Lines written').series.map((s) => s.labels)).toEqual([{ bridge: 'metrics' }]);
    expect(panel('Lines written').series[0]!.points.some((p) => (p.value ?? 0) > 0)).toBe(true);
    const deadLettered = panel('Lines dead-lettered').series;
    expect(deadLettered.map((s) => `${s.labels.bridge} ${s.labels.reason}`).sort()).toEqual(['metrics influxdb rejected the line', 'metrics invalid line protocol', 'metrics not a point']);
    // The one bad line shows on the panel: its series was there, at 0, before it came.
    expect(deadLettered.find((s) => s.labels.reason === 'invalid line protocol')!.points.some((p) => (p.value ?? 0) > 0)).toBe(true);
    expect(deadLettered.find((s) => s.labels.reason === 'not a point')!.points.every((p) => (p.value ?? 0) === 0)).toBe(true);
    expect(panel('Consumer lag').series.map((s) => s.labels)).toEqual([{ bridge: 'metrics', topic: topics.metrics }]);
  });
});
