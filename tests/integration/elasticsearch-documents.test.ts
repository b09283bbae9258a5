// The logs sink sends a line's own text with @timestamp put in front when nothing in it must change
// (elasticsearch-sink.ts prepare). Against the real Elasticsearch: what it stores is the document
// the line holds, and a line it refuses as sent but JSON.parse takes (a key twice) is written
// rewritten, as before, while a document it refuses either way is still dead-lettered.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { elasticsearchSink } from '../../src/bridge/elasticsearch-sink.js';
import type { SourceRecord } from '../../src/bridge/sink.js';
import { referenceKit } from './support/config.js';

const prefix = `documents-${randomUUID().slice(0, 8)}`;
const index = `${prefix}-2026.11.21`;

function record(line: string, offset: number): SourceRecord {
  return { topic: 'cdn-test', partition: 0, offset: String(offset), timestamp: '1700000000000', key: null, value: Buffer.from(line) };
}

describe("the Elasticsearch sink, a line's own text", () => {
  const es = () => new Client({ node: inject('services').elasticsearch.url });

  afterAll(async () => {
    await es().indices.delete({ index: `${prefix}*`, ignore_unavailable: true });
  });

  it('stores what the line holds, writes a line with a key twice as JSON.parse reads it, and dead-letters a document the mapping refuses', async () => {
    const sink = elasticsearchSink(referenceKit(), { url: inject('services').elasticsearch.url, indexPrefix: prefix });
    const spaced = ' { "product" : "api", "request_url":"/caf\\u00e9", "resp_status": 503 , "event_timestamp":"2026-11-21T03:44:11Z" } ';
    const twice = '{"product":"first","request_url":"/twice","product":"second","event_timestamp":"2026-11-21T03:44:12Z"}';
    const unmappable = '{"product":"api","request_url":"/bad","resp_status":"not a number","event_timestamp":"2026-11-21T03:44:13Z"}';
    const records = [record(spaced, 0), record(twice, 1), record(unmappable, 2)];
    const outcome = await sink.write(records);
    expect(outcome.retry).toEqual([]);
    expect(outcome.rejected).toEqual([{ record: records[2], reason: expect.stringMatching(/^elasticsearch rejected the document: /) }]);

    await es().indices.refresh({ index });
    const { hits } = await es().search<Record<string, unknown>>({ index, size: 10, sort: [{ '@timestamp': 'asc' }] });
    expect(hits.hits.map((h) => h._source)).toEqual([
      { '@timestamp': '2026-11-21T03:44:11.000Z', product: 'api', request_url: '/café', resp_status: 503, event_timestamp: '2026-11-21T03:44:11Z' },
      { '@timestamp': '2026-11-21T03:44:12.000Z', product: 'second', request_url: '/twice', event_timestamp: '2026-11-21T03:44:12Z' },
    ]);
    await sink.close();
  });
});
