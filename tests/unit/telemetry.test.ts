// The dead-letter counter exists at 0 for every kind of reason from the start: rate() over a series
// born at 1 sees no increase, so the pipeline-health panel would miss the first dead letter of a
// kind. The kinds a sink declares must be the kinds it gives, checked here by making each sink
// refuse lines for every reason it has (throwaway servers answer what the real ones would refuse;
// tests/integration/grafana-pipeline.test.ts has Prometheus see the first one).
import { afterEach, describe, expect, it } from 'vitest';
import { reasonKind } from '../../src/bridge/dead-letter.js';
import { elasticsearchSink } from '../../src/bridge/elasticsearch-sink.js';
import { influxSink } from '../../src/bridge/influxdb-sink.js';
import type { SourceRecord } from '../../src/bridge/sink.js';
import { bridgeMetrics } from '../../src/bridge/telemetry.js';
import { referenceConfig } from '../../src/config/preset.js';
import { kitConfigSchema } from '../../src/config/schema.js';
import { statusServer, type StatusServer } from './support/status-server.js';

const servers: StatusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const record = (line: string, offset = 0): SourceRecord => ({ topic: 't', partition: 0, offset: String(offset), timestamp: '1700000000000', key: null, value: Buffer.from(line) });

describe('dead-letter counter', () => {
  it('counts every kind the sink declares from 0, before any dead letter', async () => {
    const metrics = bridgeMetrics('metrics', ['invalid line protocol', 'not a point']);
    const text = await metrics.registry.metrics();
    expect(text).toContain('cdnkit_bridge_dead_lettered_lines_total{reason="invalid line protocol",bridge="metrics"} 0');
    expect(text).toContain('cdnkit_bridge_dead_lettered_lines_total{reason="not a point",bridge="metrics"} 0');
    metrics.deadLettered.inc({ reason: 'not a point' });
    expect(await metrics.registry.metrics()).toContain('cdnkit_bridge_dead_lettered_lines_total{reason="not a point",bridge="metrics"} 1');
  });

  it('the InfluxDB sink declares every kind it gives: a comment, invalid line protocol, a line InfluxDB refuses', async () => {
    const server = await statusServer(() => ({ status: 400, body: { code: 'invalid', message: 'partial write: field type conflict' } }));
    servers.push(server);
    const sink = influxSink({ url: server.url, token: 't', org: 'o', bucket: 'b' });
    const outcome = await sink.write([record('# a comment', 0), record('not line protocol', 1), record('m,t=a f=1i 1700000000000000000', 2)]);
    const given = outcome.rejected.map((r) => reasonKind(r.reason));
    expect(given).toEqual(['not a point', 'invalid line protocol', 'influxdb rejected the line']);
    expect([...sink.deadLetterKinds].sort()).toEqual([...new Set(given)].sort());
  });

  it('the Elasticsearch sink declares every kind it gives: not JSON, a document Elasticsearch refuses', async () => {
    const server = await statusServer(() => ({
      status: 200,
      headers: { 'x-elastic-product': 'Elasticsearch' },
      body: { errors: true, items: [{ index: { status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse' } } }] },
    }));
    servers.push(server);
    const sink = elasticsearchSink(kitConfigSchema.parse(referenceConfig), { url: server.url, indexPrefix: 'cdn-logs' });
    const doc = JSON.stringify({ product: 'api', request_url: '/x', resp_status: 503, event_timestamp: '2026-11-21T03:44:11Z' });
    const outcome = await sink.write([record('{not json', 0), record(doc, 1)]);
    const given = outcome.rejected.map((r) => reasonKind(r.reason));
    expect(given).toEqual(['invalid JSON', 'elasticsearch rejected the document']);
    expect([...sink.deadLetterKinds].sort()).toEqual([...new Set(given)].sort());
  });
});
