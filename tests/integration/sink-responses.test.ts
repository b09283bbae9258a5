// The sinks' response tables against the real InfluxDB and Elasticsearch, for the answers these
// servers can be made to give (tests/unit/*-sink.test.ts go through every row with a throwaway
// server): a wrong token or bucket, a read-only index and a missing index that may not be
// created are held, never dead-lettered, and written once mended; a comment line is not counted
// as a point; lines without timestamps in one millisecond stay distinct points.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { elasticsearchSink } from '../../src/bridge/elasticsearch-sink.js';
import { influxSink } from '../../src/bridge/influxdb-sink.js';
import type { SourceRecord, WriteOutcome } from '../../src/bridge/sink.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { referenceKit } from './support/config.js';

const run = randomUUID().slice(0, 8);
const SERIES = 'cdnmetrics,pop=MDW,product=api';
const LINE = `${SERIES} elapsed_time=12i`;

function record(line: string, offset: number, timestamp = '1700000000000'): SourceRecord {
  return { topic: 'cdn-test', partition: 0, offset: String(offset), timestamp, key: null, value: Buffer.from(line) };
}

const writtenAll: WriteOutcome = { rejected: [], retry: [] };

describe('the InfluxDB sink against influxd', () => {
  let influx: RunningInflux;
  beforeAll(async () => {
    influx = await startInfluxDB();
  });

  async function count(bucket: string, what = 'count(elapsed_time)'): Promise<number> {
    const url = new URL('/query', influx.url);
    url.search = new URLSearchParams({ db: bucket, q: `SELECT ${what} FROM cdnmetrics` }).toString();
    const body = (await (await fetch(url, { headers: { Authorization: `Token ${influx.token}` } })).json()) as { results: { series?: { values: unknown[][] }[] }[] };
    return Number(body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0);
  }

  it('holds on a bucket that does not exist and on a wrong token, and writes once they are right', async () => {
    const bucket = `responses-hold-${run}`;
    const records = [record(`${LINE} 1700000000000000001`, 0), record(`${LINE} 1700000000000000002`, 1)];
    const missing = await influxSink({ url: influx.url, token: influx.token, org: influx.org, bucket }).write(records);
    expect(missing).toEqual({ rejected: [], retry: records, hold: true, retryReason: expect.stringMatching(/^influxdb 404 \(check org and bucket\): bucket .* not found/) });

    await createBucket(influx, bucket);
    const unauthorized = await influxSink({ url: influx.url, token: 'not-the-token', org: influx.org, bucket }).write(records);
    expect(unauthorized).toEqual({ rejected: [], retry: records, hold: true, retryReason: expect.stringMatching(/^influxdb 401 \(check the token and its permissions\): unauthorized/) });

    expect(await influxSink({ url: influx.url, token: influx.token, org: influx.org, bucket }).write(records)).toEqual(writtenAll);
    expect(await count(bucket)).toBe(2);
  });

  it('dead-letters a comment line, which influxd accepts and does not store, and writes the point beside it', async () => {
    const bucket = `responses-comment-${run}`;
    await createBucket(influx, bucket);
    const comment = record(`#${LINE} 1700000000000000001`, 0);
    const point = record(`${LINE} 1700000000000000002`, 1);
    // What influxd does with the comment alone: 204, and nothing stored.
    const direct = await fetch(new URL(`/api/v2/write?${new URLSearchParams({ org: influx.org, bucket, precision: 'ns' })}`, influx.url), {
      method: 'POST',
      headers: { Authorization: `Token ${influx.token}` },
      body: comment.value!.toString(),
    });
    expect(direct.status).toBe(204);
    expect(await count(bucket)).toBe(0);

    const outcome = await influxSink({ url: influx.url, token: influx.token, org: influx.org, bucket }).write([comment, point]);
    expect(outcome).toEqual({ rejected: [{ record: comment, reason: 'not a point: a comment line, which InfluxDB ignores' }], retry: [] });
    expect(await count(bucket)).toBe(1);
  });

  it('keeps two lines of one series without timestamps, taken by Kafka in one millisecond, as two points, also when replayed', async () => {
    const bucket = `responses-notime-${run}`;
    await createBucket(influx, bucket);
    const sink = influxSink({ url: influx.url, token: influx.token, org: influx.org, bucket });
    const sameMillisecond = [record(`${SERIES} elapsed_time=1i`, 1_000_041), record(`${SERIES} elapsed_time=2i`, 1_000_042)];
    expect(await sink.write(sameMillisecond)).toEqual(writtenAll);
    expect(await sink.write(sameMillisecond)).toEqual(writtenAll);
    expect(await count(bucket)).toBe(2);
    expect(await count(bucket, 'sum(elapsed_time)')).toBe(3);
  });
});

describe('the Elasticsearch sink against Elasticsearch', () => {
  const url = () => inject('services').elasticsearch.url;
  const es = () => new Client({ node: url() });
  const prefix = `responses-${run}`;
  const config = referenceKit({ sinks: { elasticsearch: { indexPrefix: prefix } } });
  /** The event time of the test documents puts them all in this daily index. */
  const daily = (p: string) => `${p}-2026.11.21`;
  const docs = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => record(JSON.stringify({ product: 'api', request_url: `/items/${from + i}`, resp_status: 503, event_timestamp: '2026-11-21T03:44:11Z' }), from + i));
  const count = async (index: string) => {
    await es().indices.refresh({ index });
    return (await es().count({ index })).count;
  };

  afterAll(async () => {
    await es().indices.delete({ index: `${prefix}*`, ignore_unavailable: true });
  });

  it('holds while the index is read-only (the flood-stage block) and writes once the block is lifted', async () => {
    const indexPrefix = `${prefix}-blocked`;
    const sink = elasticsearchSink(config, { url: url(), indexPrefix });
    expect(await sink.write(docs(3))).toEqual(writtenAll);
    // What Elasticsearch sets itself when a disk passes the flood-stage watermark.
    await es().indices.putSettings({ index: daily(indexPrefix), settings: { 'index.blocks.read_only_allow_delete': true } });
    try {
      const more = docs(4, 3);
      const held = await sink.write(more);
      expect(held).toEqual({ rejected: [], retry: more, hold: true, retryReason: expect.stringMatching(/^elasticsearch 429 \(the index or cluster is read-only.*\): cluster_block_exception: .*read-only-allow-delete/) });
    } finally {
      await es().indices.putSettings({ index: daily(indexPrefix), settings: { 'index.blocks.read_only_allow_delete': null } });
    }
    expect(await sink.write(docs(4, 3))).toEqual(writtenAll);
    expect(await count(daily(indexPrefix))).toBe(7);
    await sink.close();
  });

  it('holds while the index does not exist and may not be created, and writes once it may', async () => {
    const indexPrefix = `${prefix}-noauto`;
    const sink = elasticsearchSink(config, { url: url(), indexPrefix });
    const { persistent } = await es().cluster.getSettings({ flat_settings: true });
    const before = (persistent as Record<string, string | undefined>)['action.auto_create_index'] ?? null;
    // Only this test's indices may not be created; every other name may, as before.
    await es().cluster.putSettings({ persistent: { 'action.auto_create_index': `-${indexPrefix}-*,+*` } });
    try {
      const records = docs(5);
      const held = await sink.write(records);
      expect(held).toEqual({ rejected: [], retry: records, hold: true, retryReason: expect.stringMatching(/^elasticsearch 404 \(the index does not exist and may not be created.*\): index_not_found_exception: /) });
    } finally {
      await es().cluster.putSettings({ persistent: { 'action.auto_create_index': before } });
    }
    expect(await sink.write(docs(5))).toEqual(writtenAll);
    expect(await count(daily(indexPrefix))).toBe(5);
    await sink.close();
  });
});
