// The logs sink's response table, row by row, against a throwaway server answering each status or
// bulk item error (tests/integration/sink-responses.test.ts holds the sink to the real Elasticsearch).
import { afterEach, describe, expect, it } from 'vitest';
import { documentId, ELASTICSEARCH_RESPONSES, elasticsearchSink } from '../../src/bridge/elasticsearch-sink.js';
import { NO_ANSWER, ruleFor, type Answer, type SourceRecord, type WriteOutcome } from '../../src/bridge/sink.js';
import { referenceConfig } from '../../src/config/preset.js';
import { kitConfigSchema } from '../../src/config/schema.js';
import { expectSorted, type Expected } from './support/outcome.js';
import { statusServer, type Reply, type Request, type Responder, type StatusServer } from './support/status-server.js';

const config = kitConfigSchema.parse(referenceConfig);
const DOC = { product: 'api', request_url: '/items/1', resp_status: 503, event_timestamp: '2026-11-21T03:44:11Z' };
/** Elasticsearch's clients refuse a 2xx without this header. */
const PRODUCT = { 'x-elastic-product': 'Elasticsearch' };
const servers: StatusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function record(line: string, offset = 0, more: Partial<SourceRecord> = {}): SourceRecord {
  return { topic: 'cdn-logs', partition: 0, offset: String(offset), timestamp: '1700000000000', key: null, value: Buffer.from(line), ...more };
}

async function writeThrough(respond: Responder, records: SourceRecord[]): Promise<{ outcome: WriteOutcome; server: StatusServer }> {
  const server = await statusServer(respond);
  servers.push(server);
  const sink = elasticsearchSink(config, { url: server.url, indexPrefix: 'cdn-logs' });
  return { outcome: await sink.write(records), server };
}

/** A bulk answer with one item per document: `item(i)` gives its status and error type. */
function bulkAnswer(item: (source: Record<string, unknown>) => Answer): Responder {
  return ({ body }) => {
    const sources = body.trimEnd().split('\n').filter((_, i) => i % 2 === 1).map((l) => JSON.parse(l) as Record<string, unknown>);
    const items = sources.map((source) => {
      const { status, errorType } = item(source);
      return { index: { status, ...(errorType ? { error: { type: errorType, reason: `${errorType} on ${String(source.request_url)}` } } : {}) } };
    });
    return { status: 200, headers: PRODUCT, body: { errors: items.some((i) => i.index.status >= 300), items } };
  };
}

/** The ids in bulk request bodies' action lines. */
const idsIn = (requests: Request[]) =>
  requests.flatMap((r) => r.body.trimEnd().split('\n').filter((_, i) => i % 2 === 0).map((l) => (JSON.parse(l) as { index: { _id: string } }).index._id));

/** One bulk item's answer: [status, error type, what must happen to its document]. */
const ITEM_ROWS: [number, string | undefined, Expected][] = [
  [201, undefined, 'written'],
  [400, 'mapper_parsing_exception', 'dead-letter'],
  [400, 'document_parsing_exception', 'dead-letter'],
  [400, 'strict_dynamic_mapping_exception', 'dead-letter'],
  [400, 'illegal_argument_exception', 'dead-letter'],
  [400, 'x_content_parse_exception', 'dead-letter'],
  [404, 'index_not_found_exception', 'hold'],
  [429, 'cluster_block_exception', 'hold'],
  [403, 'cluster_block_exception', 'hold'],
  [400, 'index_closed_exception', 'hold'],
  [400, 'invalid_index_name_exception', 'hold'],
  [401, 'security_exception', 'hold'],
  [403, 'security_exception', 'hold'],
  [429, 'es_rejected_execution_exception', 'retry'],
  [503, 'unavailable_shards_exception', 'retry'],
  [500, 'illegal_state_exception', 'retry'],
  [409, 'version_conflict_engine_exception', 'hold'],
];

/** The bulk request as a whole: [status (NO_ANSWER: the connection is dropped), the reply, what must happen]. */
const REQUEST_ROWS: [number, Reply | 'drop', Expected][] = [
  [NO_ANSWER, 'drop', 'retry'],
  [401, { status: 401, body: { error: { type: 'security_exception', reason: 'missing authentication credentials' }, status: 401 } }, 'hold'],
  [403, { status: 403, body: { error: { type: 'cluster_block_exception', reason: 'blocked by: [FORBIDDEN/6/cluster read-only (api)]' }, status: 403 } }, 'hold'],
  [408, { status: 408, body: 'request timeout' }, 'retry'],
  [429, { status: 429, body: { error: { type: 'es_rejected_execution_exception', reason: 'rejected' }, status: 429 } }, 'retry'],
  [502, { status: 502, body: 'bad gateway' }, 'retry'],
  [404, { status: 404, body: 'no such path' }, 'hold'],
  [413, { status: 413, body: 'request entity too large' }, 'dead-letter'],
];

describe('the Elasticsearch sink', () => {
  it.each(ITEM_ROWS)('sorts a bulk item answered %s %s: %s', async (status, errorType, expected) => {
    const one = record(JSON.stringify(DOC));
    const { outcome } = await writeThrough(bulkAnswer(() => ({ status, ...(errorType ? { errorType } : {}) })), [one]);
    const reason = expected === 'dead-letter' ? `^elasticsearch rejected the document: ${errorType}: ` : `^elasticsearch ${status} \\(.+\\): ${errorType}: `;
    expectSorted(outcome, one, expected, new RegExp(reason));
  });

  it.each(REQUEST_ROWS.map(([status, reply, expected]) => [status, expected, reply] as const))('sorts a bulk request answered %s (0: no answer): %s', async (status, expected, reply) => {
    const one = record(JSON.stringify(DOC));
    const { outcome } = await writeThrough(() => reply, [one]);
    const reason = status === NO_ANSWER ? '^elasticsearch unreachable: ' : expected === 'dead-letter' ? '^elasticsearch rejected the document: larger' : `^elasticsearch ${status} \\(`;
    expectSorted(outcome, one, expected, new RegExp(reason));
  });

  it.each([
    ['without the product header', { status: 200, body: { errors: false, items: [] } }],
    ['with a body that is not JSON', { status: 200, headers: { ...PRODUCT, 'content-type': 'application/json' }, body: '<html>' }],
  ] satisfies [string, Reply][])('holds on a 2xx that is not from Elasticsearch: %s', async (_why, reply) => {
    const one = record(JSON.stringify(DOC));
    const { outcome } = await writeThrough(() => reply, [one]);
    expectSorted(outcome, one, 'hold', /^elasticsearch 200 \(the answer is not from Elasticsearch: check the URL\): (ProductNotSupportedError|DeserializationError): /);
  });

  it('has a test row for every row of its table', () => {
    const answers: Answer[] = [
      ...ITEM_ROWS.map(([status, errorType]) => ({ status, ...(errorType ? { errorType } : {}) })),
      ...REQUEST_ROWS.map(([status, reply]) => ({ status, ...(typeof reply === 'object' && typeof reply.body === 'object' ? { errorType: (reply.body as { error: { type: string } }).error.type } : {}) })),
      { status: 200, errorType: 'ProductNotSupportedError' },
    ];
    const tested = new Set(answers.map((answer) => ruleFor(ELASTICSEARCH_RESPONSES, answer)));
    expect(ELASTICSEARCH_RESPONSES.filter((rule) => !tested.has(rule))).toEqual([]);
  });

  it('honours Retry-After on a whole request', async () => {
    const { outcome } = await writeThrough(() => ({ status: 503, headers: { 'retry-after': '12' }, body: 'maintenance' }), [record(JSON.stringify(DOC))]);
    expect(outcome.retryAfterMs).toBe(12_000);
  });

  it('sorts each item of one bulk on its own: written, dead-lettered and held side by side, the hold named first', async () => {
    const records = ['/ok', '/unmappable', '/blocked', '/busy'].map((url, i) => record(JSON.stringify({ ...DOC, request_url: url }), i));
    const item = (source: Record<string, unknown>): Answer =>
      ({ '/ok': { status: 201 }, '/unmappable': { status: 400, errorType: 'document_parsing_exception' }, '/blocked': { status: 429, errorType: 'cluster_block_exception' }, '/busy': { status: 429, errorType: 'es_rejected_execution_exception' } })[String(source.request_url)]!;
    const { outcome } = await writeThrough(bulkAnswer(item), records);
    expect(outcome.rejected).toEqual([{ record: records[1], reason: 'elasticsearch rejected the document: document_parsing_exception: document_parsing_exception on /unmappable' }]);
    expect(outcome.retry).toEqual([records[2], records[3]]);
    expect(outcome.hold).toBe(true);
    expect(outcome.retryReason).toMatch(/^elasticsearch 429 \(the index or cluster is read-only/);
  });

  it('splits a bulk request that is too large until each document goes alone, and dead-letters a document too large alone', async () => {
    const records = [0, 1, 2].map((i) => record(JSON.stringify({ ...DOC, request_url: `/items/${i}` }), i));
    const huge = record(JSON.stringify({ ...DOC, request_url: `/${'x'.repeat(5000)}` }), 3);
    const tooLarge = (body: string) => body.trimEnd().split('\n').length > 2 || body.length > 5000;
    const { outcome, server } = await writeThrough(
      (request) => (tooLarge(request.body) ? { status: 413, body: 'request entity too large' } : bulkAnswer(() => ({ status: 201 }))(request)),
      [...records, huge],
    );
    expect(outcome.retry).toEqual([]);
    expect(outcome.rejected).toEqual([{ record: huge, reason: expect.stringMatching(/^elasticsearch rejected the document: larger than it takes in one request/) }]);
    expect(idsIn(server.requests.filter((r) => !tooLarge(r.body)))).toEqual(records.map(documentId));
  });

  describe("Logstash's parse-failure events", () => {
    const envelope = (message: string) => JSON.stringify({ message, tags: ['_jsonparsefailure', 'cdn', 'logs'], '@version': '1', '@timestamp': '2026-11-21T03:44:12.000Z', type: 'cdn-logs', host: '10.0.0.1' });

    it('dead-letters the line the json codec could not parse, not the event around it, with the reason', async () => {
      const line = '{"product":"api", "truncated';
      const one = record(envelope(line));
      const { outcome, server } = await writeThrough(bulkAnswer(() => ({ status: 201 })), [one]);
      expect(outcome.retry).toEqual([]);
      expect(outcome.rejected).toEqual([{ record: one, value: line, reason: expect.stringMatching(/^invalid JSON: .+ \(Logstash's json codec tagged it _jsonparsefailure\)$/) }]);
      expect(server.requests).toEqual([]);
    });

    it('indexes the line when it is JSON behind a syslog header (Fastly "Classic" through Logstash)', async () => {
      const one = record(envelope(`<134>2026-11-21T03:44:11Z cache-mdw4120 cdn-logs[9]: ${JSON.stringify(DOC)}`));
      const { outcome, server } = await writeThrough(bulkAnswer(() => ({ status: 201 })), [one]);
      expect(outcome).toEqual({ rejected: [], retry: [] });
      const source = JSON.parse(server.requests[0]!.body.split('\n')[1]!) as Record<string, unknown>;
      expect(source).toEqual({ ...DOC, '@timestamp': '2026-11-21T03:44:11.000Z' });
    });
  });

  describe('document ids', () => {
    const line = JSON.stringify(DOC);

    it('are the same for the same message read again (a replay overwrites)', () => {
      const at = { clusterId: 'MkU3OEVBNTcwNTJENDM2Qk' };
      expect(documentId(record(line, 5, at))).toBe(documentId(record(line, 5, at)));
    });

    it('differ for the same coordinates in a recreated topic (another timestamp) or in another cluster', () => {
      const ids = [
        documentId(record(line, 5, { clusterId: 'MkU3OEVBNTcwNTJENDM2Qk' })),
        documentId(record(line, 5, { clusterId: 'MkU3OEVBNTcwNTJENDM2Qk', timestamp: '1700000000001' })),
        documentId(record(line, 5, { clusterId: 'Zx9QwErTyUiOpAsDfGhJkL' })),
      ];
      expect(new Set(ids).size).toBe(3);
    });

    it('name the cluster, topic, partition, offset and timestamp, briefly', () => {
      expect(documentId(record(line, 123_456, { clusterId: 'MkU3OEVBNTcwNTJENDM2Qk' }))).toBe(`MkU3OEVB:cdn-logs:0:123456:${(1_700_000_000_000).toString(36)}`);
    });
  });
});
