// Checks the Elasticsearch node the harness provides with the client cdnkit ships (@elastic/elasticsearch 8.19):
// a composable index template with the field types the error-log index needs, bulk writes with explicit
// ids, term/range queries on every mapped type, and idempotent re-indexing (a replay must not duplicate).
import { readdirSync, readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progress } from '../../src/local/progress.js';
import { startElasticsearch, type RunningElasticsearch } from '../../src/local/services/elasticsearch.js';

let es: RunningElasticsearch;
let client: Client;

beforeAll(async () => {
  const started = Date.now();
  es = await startElasticsearch();
  progress(`elasticsearch: ready at ${es.url} (${es.version}) in ${((Date.now() - started) / 1000).toFixed(1)} s (started: ${es.started})`);
  client = new Client({ node: es.url });
});

afterAll(async () => {
  if (es?.pid) progress(`elasticsearch: resident memory ${treeRssMiB(es.pid)} MiB (launcher + server JVM)`);
  if (es && !es.started) {
    // A reused node outlives this run: leave it as we found it.
    await client.indices.delete({ index: INDEX, ignore_unavailable: true }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: TEMPLATE }).catch(() => {});
  }
  await client?.close();
  await es?.stop();
});

/** Resident memory of a process and its descendants, in MiB. */
function treeRssMiB(pid: number): number {
  const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
  // A JVM forks from any of its threads: read the children of every task.
  const kids = (p: number) =>
    readdirSync(`/proc/${p}/task`).flatMap((t) =>
      readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  const walk = (p: number): number => rss(p) + kids(p).reduce((sum, k) => sum + walk(k), 0);
  return Math.round(walk(pid) / 1024);
}

// Unique names per run: the node may be a reused, long-running one that has seen earlier runs.
const TEMPLATE = `cdnkit-test-${Date.now().toString(36)}-errors`;
const INDEX = `${TEMPLATE}-2024.05.01`;

const docs = [
  { product: 'checkout', api_name: 'cart', client_ip: '203.0.113.7', resp_status: 503, elapsed_time: 812.5, event_timestamp: '2024-05-01T10:00:00.000Z', fastly_pop: 'LHR' },
  { product: 'checkout', api_name: 'pay', client_ip: '198.51.100.23', resp_status: 404, elapsed_time: 12.25, event_timestamp: '2024-05-01T10:00:05.000Z', fastly_pop: 'FRA' },
  { product: 'search', api_name: 'query', client_ip: '2001:db8::1', resp_status: 429, elapsed_time: 3.5, event_timestamp: '2024-05-01T10:00:09.000Z', fastly_pop: 'LHR' },
];
// Ids derived from topic/partition/offset, as the Kafka → ES bridge does: a replay overwrites, never duplicates.
const idOf = (i: number) => `cdn-logs-0-${100 + i}`;

describe('Elasticsearch node with @elastic/elasticsearch 8.19', () => {
  it('accepts a composable index template with keyword/long/float/date/ip mappings', async () => {
    await client.indices.putIndexTemplate({
      name: TEMPLATE,
      index_patterns: [`${TEMPLATE}-*`],
      priority: 200,
      template: {
        settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
        mappings: {
          dynamic: 'strict',
          properties: {
            product: { type: 'keyword' },
            api_name: { type: 'keyword' },
            fastly_pop: { type: 'keyword' },
            client_ip: { type: 'ip' },
            resp_status: { type: 'long' },
            elapsed_time: { type: 'float' },
            event_timestamp: { type: 'date', format: 'strict_date_optional_time' },
          },
        },
      },
    });
    const { index_templates } = await client.indices.getIndexTemplate({ name: TEMPLATE });
    expect(index_templates[0]?.index_template.index_patterns).toEqual([`${TEMPLATE}-*`]);
  });

  it('bulk-indexes documents with explicit ids into an index that takes the template mapping', async () => {
    const result = await client.bulk({
      refresh: 'wait_for',
      operations: docs.flatMap((doc, i) => [{ index: { _index: INDEX, _id: idOf(i) } }, doc]),
    });
    expect(result.errors).toBe(false);
    expect(result.items.map((item) => item.index?.result)).toEqual(['created', 'created', 'created']);

    const mapping = await client.indices.getMapping({ index: INDEX });
    const properties = mapping[INDEX]!.mappings.properties!;
    const types = Object.fromEntries(Object.entries(properties).map(([field, m]) => [field, (m as { type?: string }).type]));
    expect(types).toEqual({
      product: 'keyword',
      api_name: 'keyword',
      fastly_pop: 'keyword',
      client_ip: 'ip',
      resp_status: 'long',
      elapsed_time: 'float',
      event_timestamp: 'date',
    });
    // dynamic: strict — a field the template does not know is rejected, not silently mapped.
    const bad = await client.bulk({ refresh: 'wait_for', operations: [{ index: { _index: INDEX, _id: 'bad' } }, { surprise: 1 }] });
    expect(bad.errors).toBe(true);
    expect(bad.items[0]?.index?.error?.type).toBe('strict_dynamic_mapping_exception');
  });

  it('finds documents with term and range queries on each mapped type', async () => {
    const ids = async (query: object) => {
      const r = await client.search({ index: INDEX, query, sort: [{ event_timestamp: 'asc' }], size: 10 });
      return r.hits.hits.map((h) => h._id);
    };
    expect(await ids({ term: { product: 'checkout' } })).toEqual([idOf(0), idOf(1)]); // keyword
    expect(await ids({ term: { client_ip: '203.0.113.7' } })).toEqual([idOf(0)]); // ip
    expect(await ids({ term: { client_ip: '198.51.100.0/24' } })).toEqual([idOf(1)]); // ip, CIDR
    expect(await ids({ term: { client_ip: '2001:db8::/32' } })).toEqual([idOf(2)]); // ip, IPv6
    expect(await ids({ range: { resp_status: { gte: 500 } } })).toEqual([idOf(0)]); // long
    expect(await ids({ term: { resp_status: 404 } })).toEqual([idOf(1)]); // long, term
    expect(await ids({ range: { elapsed_time: { gt: 10, lt: 100 } } })).toEqual([idOf(1)]); // float
    expect(await ids({ range: { event_timestamp: { gte: '2024-05-01T10:00:04Z', lt: '2024-05-01T10:00:10Z' } } })).toEqual([idOf(1), idOf(2)]); // date
    const agg = await client.search({
      index: INDEX,
      size: 0,
      aggs: { by_pop: { terms: { field: 'fastly_pop' } }, slowest: { max: { field: 'elapsed_time' } } },
    });
    const buckets = (agg.aggregations!.by_pop as { buckets: { key: string; doc_count: number }[] }).buckets;
    expect(buckets).toEqual([
      { key: 'LHR', doc_count: 2 },
      { key: 'FRA', doc_count: 1 },
    ]);
    expect((agg.aggregations!.slowest as { value: number }).value).toBeCloseTo(812.5);
  });

  it('re-indexing the same ids (a replay) updates in place and never duplicates', async () => {
    const replay = await client.bulk({
      refresh: 'wait_for',
      operations: docs.flatMap((doc, i) => [{ index: { _index: INDEX, _id: idOf(i) } }, { ...doc, api_name: `${doc.api_name}-v2` }]),
    });
    expect(replay.errors).toBe(false);
    expect(replay.items.map((item) => [item.index?.result, item.index?._version])).toEqual([
      ['updated', 2],
      ['updated', 2],
      ['updated', 2],
    ]);
    expect((await client.count({ index: INDEX })).count).toBe(3);
    const doc = await client.get<{ api_name: string }>({ index: INDEX, id: idOf(0) });
    expect(doc._source?.api_name).toBe('cart-v2');
    // `create` with an existing id is refused (409) — the other way to make replays safe.
    const create = await client.bulk({ refresh: 'wait_for', operations: [{ create: { _index: INDEX, _id: idOf(0) } }, docs[0]!] });
    expect(create.items[0]?.create?.status).toBe(409);
    expect((await client.count({ index: INDEX })).count).toBe(3);
  });
});
