// The bridges, run as `cdnkit bridge metrics|logs` processes against the real Kafka, InfluxDB and
// Elasticsearch: every valid line lands exactly once, every bad one is dead-lettered with its
// reason, and neither a kill -9, a sink outage nor a lost group member changes the counts.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { InfluxDB } from '@influxdata/influxdb-client';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { indexTemplate } from '../../generators/elasticsearch.js';
import { DEAD_LETTER_HEADERS } from '../../src/bridge/dead-letter.js';
import type { KitConfigInput } from '../../src/config/schema.js';
import { parseLine } from '../../src/ilp/line-protocol.js';
import { unwrapLine } from '../../src/ingest/unwrap.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { startBridgeProcess, type BridgeProcess } from '../../src/local/bridge-process.js';
import { countDocuments } from './support/elasticsearch.js';
import { eventually } from './support/wait.js';
import { referenceKit, writeKitConfig } from './support/config.js';
import { fastlyTraffic, trafficPlan, varnishTraffic, type EdgeLines } from './support/edge-traffic.js';
import { countPoints as countPointsOf, influxQl as influxQlOf } from './support/influx.js';
import { freshTopics, produceLines, readMessages, testKafka } from './support/kafka.js';
import { startTcpProxy } from './support/tcp-proxy.js';

const { ConfigResourceTypes } = kafkajs;
const run = randomUUID().slice(0, 8);
/** A steady stream of about 10,000 lines a second. */
const STREAM = { chunk: 500, everyMs: 50 };
const es = () => new Client({ node: inject('services').elasticsearch.url });
let influx: RunningInflux;
const running: BridgeProcess[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  influx = await startInfluxDB();
});
afterAll(async () => {
  await Promise.all(running.map((b) => b.kill9()));
  for (const prefix of prefixes) {
    await es().indices.delete({ index: `${prefix}-*`, ignore_unavailable: true });
    await es().indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
  }
});

interface Stack {
  topics: { logs: string; metrics: string; dead: string };
  groups: { metrics: string; logs: string };
  bucket: string;
  indexPrefix: string;
  configFile: string;
  env: Record<string, string>;
  start(kind: 'metrics' | 'logs'): Promise<BridgeProcess>;
  points(): Promise<number>;
  documents(): Promise<number>;
}

type BridgeSettings = Partial<NonNullable<NonNullable<KitConfigInput['bridges']>['metrics']>>;

/** Fresh topics, bucket, index template and kit config for one test; sinks may sit behind proxies. */
async function stack(name: string, sinks: { influxUrl?: string; elasticsearchUrl?: string } = {}, bridgeSettings: BridgeSettings = {}): Promise<Stack> {
  const topics = await freshTopics(['logs', 'metrics', 'dead'] as const, 3);
  const bucket = `bridge-${name}-${run}`;
  await createBucket(influx, bucket);
  const indexPrefix = `bridge-${name}-${run}`;
  prefixes.push(indexPrefix);
  const groups = { metrics: `metrics-${name}-${run}`, logs: `logs-${name}-${run}` };
  const overrides: Partial<KitConfigInput> = {
    kafka: {
      brokers: inject('services').kafka.brokers,
      topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics }, deadLetter: { name: topics.dead } },
    },
    sinks: {
      influxdb: { url: sinks.influxUrl ?? influx.url, org: influx.org, bucket },
      elasticsearch: { url: sinks.elasticsearchUrl ?? inject('services').elasticsearch.url, indexPrefix },
    },
    bridges: {
      metrics: { groupId: groups.metrics, maxRetryDelayMs: 2000, ...bridgeSettings },
      logs: { groupId: groups.logs, maxRetryDelayMs: 2000, ...bridgeSettings },
    },
  };
  await es().indices.putIndexTemplate({ name: indexPrefix, ...(indexTemplate(referenceKit(overrides)) as object) });
  const configFile = writeKitConfig(overrides);
  const env = { CDNKIT_INFLUX_TOKEN: influx.token };
  return {
    topics,
    groups,
    bucket,
    indexPrefix,
    configFile,
    env,
    async start(kind) {
      const bridge = await startBridgeProcess(kind, configFile, env);
      running.push(bridge);
      await bridge.waitReady();
      return bridge;
    },
    points: () => countPoints(bucket),
    documents: () => countDocuments(es(), `${indexPrefix}-*`),
  };
}

const influxQl = (bucket: string, q: string) => influxQlOf(influx, bucket, q);
const countPoints = (bucket: string) => countPointsOf(influx, bucket);

/** Distinct synthetic points from a template line: the same tags, a timestamp each. */
function manyPoints(template: string, count: number, offset = 0): string[] {
  const line = unwrapLine(template).payload;
  const head = line.slice(0, line.lastIndexOf(' '));
  const base = 1_700_000_000_000_000_000n;
  return Array.from({ length: count }, (_, i) => `${head} ${base + BigInt((offset + i) * 1000)}`);
}

/** Distinct synthetic error logs: the reference JSON with a unique URL each. */
function manyLogs(template: string, count: number, offset = 0): string[] {
  const doc = JSON.parse(unwrapLine(template).payload) as Record<string, unknown>;
  return Array.from({ length: count }, (_, i) => JSON.stringify({ ...doc, request_url: `/items/${offset + i}` }));
}

describe('bridges, end to end', () => {
  const config = referenceKit();
  const plan = trafficPlan();
  let edges: EdgeLines[];

  beforeAll(async () => {
    edges = [await fastlyTraffic(config, plan), await varnishTraffic(config, plan)];
  }, 180_000);

  it('write exactly the valid lines of both edges, and dead-letter exactly the malformed ones with their reasons', async () => {
    const s = await stack('exact');
    const ilp = edges.flatMap((e) => e.ilp);
    const json = edges.flatMap((e) => e.json);
    // Receivers pass lines on untouched, so some arrive behind a syslog header (Fastly "Classic").
    const wrapped = ilp.map((l, i) => (i % 3 === 1 ? `<134>2026-11-21T03:44:11Z cache-mdw1 cdn-metrics[42]: ${l}` : i % 3 === 2 ? `<134>1 2026-11-21T03:44:11Z edge app - - - ${l}` : l));
    const badMetrics = ['cdnmetrics,pop= elapsed_time=1i 1', 'not line protocol at all', 'cdnmetrics elapsed_time=12x 1', json[0]!];
    const badLogs = ['{"product":"api", "truncated', '[1,2,3]', 'plain text', ilp[0]!];
    // Through Logstash, a line its json codec cannot parse comes inside an event of Logstash's:
    // the line itself is what must be dead-lettered.
    const unparsedByLogstash = '{"product":"api", "cut short by the CDN';
    const logstashEvent = JSON.stringify({ message: unparsedByLogstash, tags: ['_jsonparsefailure', 'cdn', 'logs'], '@version': '1', '@timestamp': '2026-11-21T03:44:12.000Z', type: 'cdn-logs' });
    await produceLines(s.topics.metrics, shuffle([...wrapped, ...badMetrics]));
    await produceLines(s.topics.logs, shuffle([...json, ...badLogs, logstashEvent]));

    const bridges = [await s.start('metrics'), await s.start('logs')];
    await eventually('every valid point in InfluxDB', async () => (await s.points()) >= ilp.length);
    await eventually('every valid document in Elasticsearch', async () => (await s.documents()) >= json.length);

    const dead = await readMessages(s.topics.dead, badMetrics.length + badLogs.length + 1);
    expect(dead.map((m) => m.value).sort()).toEqual([...badMetrics, ...badLogs, unparsedByLogstash].sort());
    for (const message of dead) {
      expect(message.headers[DEAD_LETTER_HEADERS.reason]).toMatch(/^invalid (line protocol|JSON): ./);
      expect([s.topics.metrics, s.topics.logs]).toContain(message.headers[DEAD_LETTER_HEADERS.topic]);
    }

    const series = (await influxQl(s.bucket, 'SELECT * FROM cdnmetrics'))!;
    const rows = series.values.map((v) => JSON.stringify(Object.fromEntries(series.columns.map((c, i) => [c, v[i]]))));
    expect(rows).toHaveLength(ilp.length);
    for (const line of ilp) {
      const point = parseLine(unwrapLine(line).payload);
      const expected: Record<string, unknown> = { time: Number(point.timestamp), ...point.tags };
      for (const [k, f] of Object.entries(point.fields)) expected[k] = typeof f.value === 'bigint' ? Number(f.value) : f.value;
      expect(rows).toContain(JSON.stringify(Object.fromEntries(series.columns.map((c) => [c, expected[c] ?? null]))));
    }
    expect(await s.documents()).toBe(json.length);
    // Each committed chunk is timed, from its hand-over to its commit (the pipeline dashboard's batch latency).
    for (const bridge of bridges) {
      await eventually(`${bridge.kind} timing its batches`, async () => (await bridge.metric('cdnkit_bridge_batch_duration_seconds_count')) > 0);
    }
  });

  it('lose nothing and duplicate nothing when both bridges are killed with SIGKILL mid-stream and restarted', async () => {
    const s = await stack('kill');
    const total = 30_000;
    const points = manyPoints(edges[0]!.ilp[0]!, total);
    const logs = manyLogs(edges[0]!.json[0]!, total);
    const first = [await s.start('metrics'), await s.start('logs')];
    // A stream, not a backlog: lines keep arriving while the bridges work, die and come back.
    const producing = Promise.all([produceLines(s.topics.metrics, points, STREAM), produceLines(s.topics.logs, logs, STREAM)]);
    await eventually('both bridges writing', async () => (await first[0]!.metric('cdnkit_bridge_written_lines_total')) > 0 && (await first[1]!.metric('cdnkit_bridge_written_lines_total')) > 0);
    await Promise.all(first.map((b) => b.kill9()));
    const landedBeforeKill = [await s.points(), await s.documents()];
    await producing;
    expect(landedBeforeKill[0]).toBeLessThan(total);
    expect(landedBeforeKill[1]).toBeLessThan(total);

    await s.start('metrics');
    await s.start('logs');
    await eventually('all points', async () => (await s.points()) >= total, 120_000);
    await eventually('all documents', async () => (await s.documents()) >= total, 120_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await s.points()).toBe(total);
    expect(await s.documents()).toBe(total);
  });

  it('on SIGTERM finish the batches in flight, commit them and exit 0: the committed offsets match what the sinks hold', async () => {
    const s = await stack('term');
    const total = 30_000;
    const first = [await s.start('metrics'), await s.start('logs')];
    const producing = Promise.all([
      produceLines(s.topics.metrics, manyPoints(edges[0]!.ilp[0]!, total), STREAM),
      produceLines(s.topics.logs, manyLogs(edges[0]!.json[0]!, total), STREAM),
    ]);
    await eventually('both bridges writing', async () => (await first[0]!.metric('cdnkit_bridge_written_lines_total')) > 0 && (await first[1]!.metric('cdnkit_bridge_written_lines_total')) > 0);
    expect(await Promise.all(first.map((b) => b.stop()))).toEqual([0, 0]);
    // Every line written is committed and every line committed is written: a restart neither
    // writes anything twice nor skips anything.
    const points = await s.points();
    const documents = await s.documents();
    expect(points).toBeLessThan(total);
    expect(await committedLines(s.groups.metrics, s.topics.metrics)).toBe(points);
    expect(await committedLines(s.groups.logs, s.topics.logs)).toBe(documents);

    await producing;
    await s.start('metrics');
    await s.start('logs');
    await eventually('all points', async () => (await s.points()) >= total, 120_000);
    await eventually('all documents', async () => (await s.documents()) >= total, 120_000);
    expect(await s.points()).toBe(total);
    expect(await s.documents()).toBe(total);
  });

  it('pause while a sink is down for 30 s, holding no more than its settings allow, report the growing lag, and catch up with nothing lost', async () => {
    const [influxProxy, esProxy] = [await startTcpProxy(influx.url), await startTcpProxy(inject('services').elasticsearch.url)];
    // Bounds well below what is produced during the outage, so they are what stops consumption.
    const bounds = { maxBatchLines: 2000, maxBatchBytes: 256 << 10, maxHeldLines: 8000, maxHeldBytes: 2 << 20, maxConcurrentWrites: 2 };
    const s = await stack('outage', { influxUrl: influxProxy.url, elasticsearchUrl: esProxy.url }, bounds);
    const metrics = await s.start('metrics');
    const logs = await s.start('logs');
    const bridges = [metrics, logs];
    const template = { ilp: edges[0]!.ilp[0]!, json: edges[0]!.json[0]! };

    await Promise.all([produceLines(s.topics.metrics, manyPoints(template.ilp, 5000)), produceLines(s.topics.logs, manyLogs(template.json, 5000))]);
    await eventually(
      'the first 5000 written and committed',
      async () => (await committedLines(s.groups.metrics, s.topics.metrics)) === 5000 && (await committedLines(s.groups.logs, s.topics.logs)) === 5000,
    );
    const rssBefore = Math.max(metrics.rss() ?? 0, logs.rss() ?? 0);

    await Promise.all([influxProxy.cut(), esProxy.cut()]);
    const outageStarted = Date.now();
    const consumedAtCut = await Promise.all(bridges.map((b) => b.metric('cdnkit_bridge_consumed_lines_total')));
    const during = 40_000;
    const producing = Promise.all([
      produceLines(s.topics.metrics, manyPoints(template.ilp, during, 5000)),
      produceLines(s.topics.logs, manyLogs(template.json, during, 5000)),
    ]);
    let rssPeak = 0;
    const peak = { held: 0, heldBytes: 0, writes: 0 };
    while (Date.now() - outageStarted < 30_000) {
      rssPeak = Math.max(rssPeak, metrics.rss() ?? 0, logs.rss() ?? 0);
      for (const bridge of bridges) {
        const m = await bridge.metrics('cdnkit_bridge_held_lines', 'cdnkit_bridge_held_bytes', 'cdnkit_bridge_sink_writes_in_flight');
        peak.held = Math.max(peak.held, m.cdnkit_bridge_held_lines!);
        peak.heldBytes = Math.max(peak.heldBytes, m.cdnkit_bridge_held_bytes!);
        peak.writes = Math.max(peak.writes, m.cdnkit_bridge_sink_writes_in_flight!);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await producing;
    // The lag gauge follows the committed offsets, which stand still: it counts every line
    // produced during the outage, read ahead or not.
    for (const bridge of bridges) {
      await eventually(`${bridge.kind} reporting a lag of ${during}`, async () => (await bridge.metric('cdnkit_bridge_consumer_lag_lines')) === during, 30_000);
    }
    // Paused, not buffering: what was read during the outage is what the settings let it hold.
    const consumedDuringOutage = await Promise.all(bridges.map(async (b, i) => (await b.metric('cdnkit_bridge_consumed_lines_total')) - consumedAtCut[i]!));
    for (const consumed of consumedDuringOutage) {
      expect(consumed).toBeGreaterThan(0);
      expect(consumed).toBeLessThanOrEqual(bounds.maxHeldLines);
    }
    expect(peak.held).toBeLessThanOrEqual(bounds.maxHeldLines);
    expect(peak.heldBytes).toBeLessThanOrEqual(bounds.maxHeldBytes);
    expect(peak.writes).toBeLessThanOrEqual(bounds.maxConcurrentWrites);
    expect(rssPeak).toBeLessThan(Math.max(rssBefore * 1.5, rssBefore + 64 * 2 ** 20));
    expect(await fetch(`${metrics.operations}/readyz`).then((r) => r.status)).toBe(503);

    await Promise.all([influxProxy.restore(), esProxy.restore()]);
    await eventually('the backlog written', async () => (await s.points()) >= 5000 + during && (await s.documents()) >= 5000 + during, 180_000);
    expect(await s.points()).toBe(5000 + during);
    expect(await s.documents()).toBe(5000 + during);
    expect(await metrics.metric('cdnkit_bridge_retried_lines_total')).toBeGreaterThan(0);
    for (const bridge of bridges) {
      await eventually(`${bridge.kind} reporting no lag`, async () => (await bridge.metric('cdnkit_bridge_consumer_lag_lines')) === 0, 30_000);
    }
    await Promise.all([influxProxy.close(), esProxy.close()]);
  });

  it('keep exact counts when one of two instances in a group is killed: the survivor takes its partitions', async () => {
    const s = await stack('group');
    const total = 20_000;
    const a = await s.start('metrics');
    const b = await s.start('metrics');
    const producing = produceLines(s.topics.metrics, manyPoints(edges[1]!.ilp[0]!, total), STREAM);
    await eventually('both instances working', async () => (await a.metric('cdnkit_bridge_written_lines_total')) > 0 && (await b.metric('cdnkit_bridge_written_lines_total')) > 0);
    await a.kill9();
    await producing;
    await eventually('all points through the survivor', async () => (await s.points()) >= total, 120_000);
    expect(await s.points()).toBe(total);
  });

  it('keep exact counts when a second instance joins mid-stream, and never commit a partition after losing it', async () => {
    const proxy = await startTcpProxy(influx.url);
    const s = await stack('join', { influxUrl: proxy.url });
    const template = edges[0]!.ilp[0]!;
    const phase = 10_000;
    const a = await s.start('metrics');
    await produceLines(s.topics.metrics, manyPoints(template, phase));
    await eventually('the first lines committed', async () => (await committedLines(s.groups.metrics, s.topics.metrics)) === phase);

    // A's writes hang (no answer, no error), so its chunks are still in flight when the group
    // rebalances under it.
    proxy.hold();
    // In one request: one record batch a partition, which A reads whole, whatever it may hold.
    await produceLines(s.topics.metrics, manyPoints(template, phase, phase), { chunk: phase });
    await eventually('A reading the second lines', async () => (await a.metric('cdnkit_bridge_consumed_lines_total')) >= 2 * phase, 60_000, a.output);
    const b = await startBridgeProcess('metrics', s.configFile, { ...s.env, CDNKIT_INFLUX_URL: influx.url });
    running.push(b);
    await b.waitJoined();
    await eventually('A joining again with fewer partitions', () => assignments(a).length === 2, 60_000, a.output);
    const kept = assignments(a)[1]!;
    const revoked = [0, 1, 2].filter((p) => !kept.includes(p));
    expect(revoked.length).toBeGreaterThan(0);
    await produceLines(s.topics.metrics, manyPoints(template, phase, 2 * phase));
    await eventually('B committing the partitions A lost up to their end', async () => {
      const offsets = await partitionOffsets(s.groups.metrics, s.topics.metrics);
      return revoked.every((p) => offsets[p]!.committed === offsets[p]!.high);
    });

    proxy.release();
    await eventually(
      'A letting its chunks of the lost partitions go',
      () => revoked.every((p) => logEntries(a).some((e) => e.partition === p && e.msg === 'partition no longer ours: its chunk is left uncommitted to its new owner')),
      60_000,
      a.output,
    );
    await eventually('every line committed', async () => (await committedLines(s.groups.metrics, s.topics.metrics)) === 3 * phase);
    await eventually('every point written', async () => (await s.points()) >= 3 * phase);
    expect(await s.points()).toBe(3 * phase);
    // B's commits of the lost partitions stand: A, whose writes to them finished after it lost
    // them, committed nothing there.
    const offsets = await partitionOffsets(s.groups.metrics, s.topics.metrics);
    for (const p of revoked) expect(offsets[p]!.committed).toBe(offsets[p]!.high);
    expect(a.output()).not.toMatch(/writing a batch failed/);
    await proxy.close();
  });

  it('hold the offset while the dead-letter topic cannot be written, and go on with nothing lost once it can', async () => {
    const s = await stack('dlq');
    const admin = testKafka().admin();
    await admin.connect();
    // kafkajs retries a send to a missing topic: the chunk holding the bad line waits in its lane.
    await admin.deleteTopics({ topics: [s.topics.dead] });
    await throughBrokenDeadLetter(s, edges[0]!.ilp[0]!, 'cdnmetrics,pop= elapsed_time=1i 1', {
      whileBroken: async () => {
        await eventually('the bridge committing', async () => (await committedLines(s.groups.metrics, s.topics.metrics)) > 0);
        await new Promise((r) => setTimeout(r, 3000));
      },
      mend: () => admin.createTopics({ topics: [{ topic: s.topics.dead, numPartitions: 1 }], waitForLeaders: true }),
    });
    await admin.disconnect();
  });

  it('replay a chunk whose dead letter the topic refuses for good, commit nothing past it, and go on once it fits', async () => {
    const s = await stack('replay');
    const admin = testKafka().admin();
    await admin.connect();
    const limit = (bytes: number) =>
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: s.topics.dead, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] }],
      });
    // MESSAGE_TOO_LARGE is not retriable: the chunk fails, and the runner seeks back to replay it.
    await limit(1024);
    await throughBrokenDeadLetter(s, edges[0]!.ilp[0]!, `cdnmetrics,pop=${'x'.repeat(4000)},region= elapsed_time=1i 1`, {
      whileBroken: (bridge) =>
        eventually('a replay of the failed chunk', () => (bridge.output().match(/writing a batch failed; replaying it/g) ?? []).length >= 2, 30_000, bridge.output),
      mend: () => limit(1_048_576),
    });
    await admin.disconnect();
  });

  it('keep the documents of a topic deleted and created again: the same offsets hold other messages, and both are indexed', async () => {
    const s = await stack('recreate');
    const admin = testKafka().admin();
    await admin.connect();
    const first = manyLogs(edges[0]!.json[0]!, 200);
    await produceLines(s.topics.logs, first);
    const bridge = await s.start('logs');
    await eventually('the first topic indexed', async () => (await s.documents()) >= first.length);
    expect(await bridge.stop()).toBe(0);

    await admin.deleteTopics({ topics: [s.topics.logs] });
    await eventually('the topic deleted', async () => !(await admin.listTopics()).includes(s.topics.logs));
    await admin.createTopics({ topics: [{ topic: s.topics.logs, numPartitions: 3 }], waitForLeaders: true });
    // As an operator would: the group starts the new topic from its beginning.
    await admin.resetOffsets({ groupId: s.groups.logs, topic: s.topics.logs, earliest: true });
    const second = manyLogs(edges[0]!.json[0]!, 200, 200);
    await produceLines(s.topics.logs, second);
    await s.start('logs');
    await eventually('the second topic indexed beside the first', async () => (await s.documents()) >= first.length + second.length, 60_000);
    await eventually('every line of the second topic committed', async () => (await committedLines(s.groups.logs, s.topics.logs)) === second.length);
    expect(await s.documents()).toBe(first.length + second.length);
    // The ids name the cluster too, so a second cluster's topic of the same name is kept apart.
    const { clusterId } = await admin.describeCluster();
    await admin.disconnect();
    const { hits } = await es().search({ index: `${s.indexPrefix}-*`, size: 1 });
    expect(hits.hits[0]!._id).toMatch(new RegExp(`^${clusterId.slice(0, 8)}:${s.topics.logs}:[0-2]:\\d+:[0-9a-z]+$`));
  });

  it('hold the stream while the bucket is missing, logging it as an error and dead-lettering nothing, and write it all once the bucket exists', async () => {
    const s = await stack('hold');
    const points = manyPoints(edges[0]!.ilp[0]!, 300);
    await produceLines(s.topics.metrics, points);
    const bucket = `${s.bucket}-later`;
    const bridge = await startBridgeProcess('metrics', s.configFile, { ...s.env, CDNKIT_INFLUX_BUCKET: bucket });
    running.push(bridge);
    await bridge.waitJoined();
    const holds = () =>
      bridge
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; hold?: boolean; reason?: string })
        .filter((entry) => entry.hold);
    await eventually('a hold logged as an error', () => holds().length >= 2, 30_000, bridge.output);
    for (const entry of holds()) {
      expect(entry.level).toBe(50);
      expect(entry.reason).toMatch(/^influxdb 404 \(check org and bucket\): bucket .* not found/);
    }
    expect(await committedLines(s.groups.metrics, s.topics.metrics)).toBe(0);
    expect(await bridge.metric('cdnkit_bridge_dead_lettered_lines_total')).toBe(0);

    await createBucket(influx, bucket);
    await eventually('every line committed', async () => (await committedLines(s.groups.metrics, s.topics.metrics)) === points.length, 120_000, bridge.output);
    // Once a fresh CI run counted 200 of 300 right after the commit (not reproduced alone): wait,
    // so that a late point reads as late and a lost one still fails here, with the bridge's output.
    await eventually('every committed point readable in the new bucket', async () => (await countPoints(bucket)) >= points.length, 30_000, bridge.output);
    expect(await countPoints(bucket)).toBe(points.length);
    expect(await bridge.metric('cdnkit_bridge_dead_lettered_lines_total')).toBe(0);
    // Longer than its waits together, so that a wait that runs out fails with the bridge's output.
  }, 240_000);

  it('dead-letter only the line InfluxDB rejects and only the document Elasticsearch cannot map; their batch-mates are written', async () => {
    const s = await stack('reject');
    const good = manyPoints(edges[0]!.ilp[0]!, 10);
    // elapsed_time is an integer field: the same field as a float is a type conflict for InfluxDB
    // (types are kept per shard, so the point stays in the same week as the others).
    const conflicting = manyPoints(edges[0]!.ilp[0]!, 1, 10)[0]!.replace(/elapsed_time=(\d+)i/, 'elapsed_time=$1.5');
    const docs = manyLogs(edges[1]!.json[0]!, 10);
    const unmappable = JSON.stringify({ ...JSON.parse(docs[0]!), request_url: '/unmappable', resp_status: 'not a number' });
    // A first point fixes the field's type, as earlier traffic would have.
    const seed = new InfluxDB({ url: influx.url, token: influx.token }).getWriteApi(influx.org, s.bucket, 'ns', { maxRetries: 0 });
    seed.writeRecord(good[0]!);
    await seed.close();

    await produceLines(s.topics.metrics, [...good.slice(0, 5), conflicting, ...good.slice(5)]);
    await produceLines(s.topics.logs, [...docs.slice(0, 5), unmappable, ...docs.slice(5)]);
    await s.start('metrics');
    await s.start('logs');
    const dead = await readMessages(s.topics.dead, 2);
    expect(dead.map((m) => m.value).sort(), JSON.stringify(dead)).toEqual([conflicting, unmappable].sort());
    const reasons = dead.map((m) => m.headers[DEAD_LETTER_HEADERS.reason]).join('\n');
    expect(reasons).toMatch(/influxdb rejected the line: .*field type conflict/);
    expect(reasons).toMatch(/elasticsearch rejected the document: .*(mapper_parsing_exception|document_parsing_exception)/);
    await eventually('the good lines written', async () => (await s.points()) >= 10 && (await s.documents()) >= 10);
    expect(await s.points()).toBe(10);
    expect(await s.documents()).toBe(10);
  });
});

/**
 * 300 good points (from `template`) with one malformed line among them, through a metrics bridge whose dead letter
 * cannot be written until `mend`: meanwhile the chunk holding the bad line is never acknowledged,
 * so its partition's offset stays before it; once mended, every line is committed, the bad one is
 * dead-lettered and the good ones are in InfluxDB, exactly.
 */
async function throughBrokenDeadLetter(
  s: Stack,
  template: string,
  bad: string,
  steps: { whileBroken: (bridge: BridgeProcess) => Promise<void>; mend: () => Promise<unknown> },
): Promise<void> {
  const good = manyPoints(template, 300);
  await produceLines(s.topics.metrics, [...good.slice(0, 150), bad, ...good.slice(150)]);
  const bridge = await startBridgeProcess('metrics', s.configFile, s.env);
  running.push(bridge);
  await bridge.waitJoined();
  await steps.whileBroken(bridge);
  expect(await committedLines(s.groups.metrics, s.topics.metrics)).toBeLessThan(good.length + 1);

  await steps.mend();
  await eventually('every line committed', async () => (await committedLines(s.groups.metrics, s.topics.metrics)) === good.length + 1, 60_000);
  expect((await readMessages(s.topics.dead, 1)).map((m) => m.value)).toEqual([bad]);
  expect(await s.points()).toBe(good.length);
}

/** A bridge's JSON log entries so far. */
function logEntries(bridge: BridgeProcess): Record<string, unknown>[] {
  return bridge
    .output()
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return []; // stderr text, or the cut-off start of the kept output
      }
    });
}

/** The partitions a bridge was assigned, each time it joined its group. */
function assignments(bridge: BridgeProcess): number[][] {
  return logEntries(bridge)
    .filter((e) => e.msg === 'joined the consumer group')
    .map((e) => Object.values(e.assigned as Record<string, number[]>).flat().sort());
}

/** Per partition: the group's committed offset and the high watermark. */
async function partitionOffsets(groupId: string, topic: string): Promise<Record<number, { committed: number; high: number }>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const watermarks = await admin.fetchTopicOffsets(topic);
    return Object.fromEntries(
      watermarks.map((w) => [w.partition, { high: Number(w.high), committed: Number(committed!.partitions.find((p) => p.partition === w.partition)?.offset ?? -1) }]),
    );
  } finally {
    await admin.disconnect();
  }
}

/** Lines a group has committed on a fresh topic: its committed offsets, summed over partitions. */
async function committedLines(groupId: string, topic: string): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return committed!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
