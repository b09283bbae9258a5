// What the generated edges emit must be accepted by the real sinks: every line-protocol line from
// the Fastly snippet (in falco) and the Varnish files (in varnishd), hostile header values
// included, written to InfluxDB and read back with InfluxQL; every error log indexed into
// Elasticsearch under the generated index template and found again through its mapped types.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { InfluxDB } from '@influxdata/influxdb-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { indexTemplate } from '../../generators/elasticsearch.js';
import { elasticsearchSink } from '../../src/bridge/elasticsearch-sink.js';
import type { SourceRecord } from '../../src/bridge/sink.js';
import { fieldViews, logKeyOf } from '../../src/config/model.js';
import { parseLine, type IlpPoint } from '../../src/ilp/line-protocol.js';
import { unwrapLine } from '../../src/ingest/unwrap.js';
import { createBucket, startInfluxDB } from '../../src/local/services/influxdb.js';
import { referenceKit } from './support/config.js';
import { fastlyTraffic, trafficPlan, varnishTraffic, type EdgeLines } from './support/edge-traffic.js';

const run = randomUUID().slice(0, 8);
const config = referenceKit({ sinks: { elasticsearch: { indexPrefix: `gen-${run}` } } });
const plan = trafficPlan();
let edges: EdgeLines[];

beforeAll(async () => {
  edges = [await fastlyTraffic(config, plan), await varnishTraffic(config, plan)];
}, 180_000);

describe('InfluxDB', () => {
  it('stores every line-protocol line from both edges, and InfluxQL reads back the same tags and fields', async () => {
    const influx = await startInfluxDB();
    const bucket = `gen-${run}`;
    await createBucket(influx, bucket);
    const lines = edges.flatMap((e) => e.ilp.map((l) => unwrapLine(l).payload));
    expect(lines).toHaveLength(2 * plan.length);
    const points = lines.map(parseLine);

    const writer = new InfluxDB({ url: influx.url, token: influx.token }).getWriteApi(influx.org, bucket, 'ns', { maxRetries: 0 });
    writer.writeRecords(lines);
    await writer.close();

    const query = new URL('/query', influx.url);
    query.search = new URLSearchParams({ db: bucket, q: `SELECT * FROM ${config.metrics.measurement}`, epoch: 'ns' }).toString();
    const response = await fetch(query, { headers: { Authorization: `Token ${influx.token}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { results: { series?: { columns: string[]; values: unknown[][] }[] }[] };
    const series = body.results[0]!.series![0]!;
    const rows = series.values.map((v) => Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
    expect(rows).toHaveLength(points.length);
    for (const point of points) expect(rows, JSON.stringify(point.tags)).toContainEqual(asRow(point, series.columns));
  });
});

/** A point as InfluxQL's SELECT * returns it: time, every tag and field column, null where absent. */
function asRow(point: IlpPoint, columns: string[]): Record<string, unknown> {
  const values: Record<string, unknown> = { time: Number(point.timestamp), ...point.tags };
  for (const [key, field] of Object.entries(point.fields)) values[key] = typeof field.value === 'bigint' ? Number(field.value) : field.value;
  return Object.fromEntries(columns.map((c) => [c, values[c] ?? null]));
}

describe('Elasticsearch', () => {
  const es = () => new Client({ node: inject('services').elasticsearch.url });
  const index = `${config.sinks.elasticsearch.indexPrefix}-*`;

  beforeAll(async () => {
    await es().indices.putIndexTemplate({ name: config.sinks.elasticsearch.indexPrefix, ...(indexTemplate(config) as object) });
  });
  afterAll(async () => {
    await es().indices.delete({ index, ignore_unavailable: true });
    await es().indices.deleteIndexTemplate({ name: config.sinks.elasticsearch.indexPrefix });
  });

  it('indexes every error log from both edges under the generated template, searchable through the mapped types', async () => {
    const lines = edges.flatMap((e) => e.json);
    const errors = plan.filter((r) => r.status >= config.errors.minStatus);
    expect(lines).toHaveLength(2 * errors.length);
    const records: SourceRecord[] = lines.map((line, i) => ({
      topic: 'cdn-logs',
      partition: 0,
      offset: String(i),
      timestamp: String(Date.now()),
      key: null,
      value: Buffer.from(line, 'utf8'),
    }));
    const sink = elasticsearchSink(config, { url: inject('services').elasticsearch.url, indexPrefix: config.sinks.elasticsearch.indexPrefix });
    const outcome = await sink.write(records);
    await sink.close();
    expect(outcome.rejected).toEqual([]);
    expect(outcome.retry).toEqual([]);
    await es().indices.refresh({ index });

    const mapping = Object.values(await es().indices.getMapping({ index }))[0]!.mappings.properties!;
    for (const field of fieldViews(config).log) {
      const expected = (indexTemplate(config) as { template: { mappings: { properties: Record<string, { type: string }> } } }).template.mappings.properties[logKeyOf(field)]!;
      expect(mapping[logKeyOf(field)]?.type, logKeyOf(field)).toBe(expected.type);
    }
    const count = async (query: object) => (await es().count({ index, query })).count;
    expect(await count({ match_all: {} })).toBe(lines.length);
    // keyword: an exact value; long: a range; ip: a CIDR block; date: a time range.
    expect(await count({ term: { api_name: 'orders-v2' } })).toBe(2 * errors.filter((r) => r.hostile.value === 'orders-v2').length);
    expect(await count({ range: { resp_status: { gte: 500 } } })).toBe(2 * errors.filter((r) => r.status >= 500).length);
    expect(await count({ term: { actual_backend_ip: '10.0.0.0/8' } })).toBe(lines.length);
    expect(await count({ range: { event_timestamp: { gte: 'now-1h', lte: 'now+1h' } } })).toBe(lines.length);
  });
});
