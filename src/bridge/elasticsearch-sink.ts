// The logs sink: error-log JSON into Elasticsearch, one bulk request per batch.
//
// A document's id is its Kafka coordinates (topic, partition, offset) and its index is chosen by
// its event time, so a replay after a crash overwrites the same documents instead of adding copies.
import { Client, errors } from '@elastic/elasticsearch';
import type { KitConfig } from '../config/schema.js';
import { fieldViews, logKeyOf } from '../config/model.js';
import { unwrapLine } from '../ingest/unwrap.js';
import { combine, recordText, written, type Rejected, type Sink, type SourceRecord, type WriteOutcome } from './sink.js';

export interface ElasticsearchSinkOptions {
  url: string;
  indexPrefix: string;
  /** The base64 "encoded" API key; or basic auth with username and password. */
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed the node's HTTP certificate. */
  ca?: string;
  /** Request timeout, ms. */
  timeoutMs?: number;
}

/** What Logstash's json codec adds around an event; dropped unless the kit declares the key. */
const LOGSTASH_ENVELOPE = ['@version', 'host', 'port', 'type', 'tags', 'event', 'log'];

/** A document ready for the bulk body: serialized at once, so the parsed object is short-lived. */
interface Prepared {
  record: SourceRecord;
  action: string;
  source: string;
}

export function documentId(record: SourceRecord): string {
  return `${record.topic}:${record.partition}:${record.offset}`;
}

export function elasticsearchSink(config: KitConfig, options: ElasticsearchSinkOptions): Sink {
  const client = new Client({
    node: options.url,
    ...(options.apiKey ? { auth: { apiKey: options.apiKey } } : options.username ? { auth: { username: options.username, password: options.password ?? '' } } : {}),
    ...(options.ca ? { tls: { ca: options.ca } } : {}),
    requestTimeout: options.timeoutMs ?? 30_000,
    // Retrying is the bridge's job: it backs off, heartbeats and keeps the offsets uncommitted.
    maxRetries: 0,
  });
  const logFields = fieldViews(config).log;
  const declared = new Set(logFields.map(logKeyOf));
  const typedKeys = logFields.filter((f) => f.type !== 'string').map(logKeyOf);
  const eventTimeKey = logFields.find((f) => f.type === 'timestamp');

  function prepare(record: SourceRecord): Prepared | Rejected {
    const text = unwrapLine(recordText(record)).payload;
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      return { record, reason: `invalid JSON: ${(error as Error).message}` };
    }
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      return { record, reason: 'invalid JSON: the line is not a JSON object' };
    }
    const doc = document as Record<string, unknown>;
    if ('@version' in doc) for (const key of LOGSTASH_ENVELOPE) if (!declared.has(key)) delete doc[key];
    // varnishncsa cannot write null: an unset value arrives as "", which an ip, date or number
    // mapping refuses. For typed fields "" means "no value".
    for (const key of typedKeys) if (doc[key] === '') doc[key] = null;
    const eventTime = eventTimeKey ? Date.parse(String(doc[logKeyOf(eventTimeKey)] ?? '')) : Number.NaN;
    const timestamp = new Date(Number.isNaN(eventTime) ? Number(record.timestamp) : eventTime).toISOString();
    doc['@timestamp'] = timestamp;
    const index = `${options.indexPrefix}-${timestamp.slice(0, 10).replaceAll('-', '.')}`;
    return { record, action: JSON.stringify({ index: { _index: index, _id: documentId(record) } }), source: JSON.stringify(doc) };
  }

  async function send(batch: Prepared[]): Promise<WriteOutcome> {
    if (batch.length === 0) return written();
    let response;
    try {
      response = await client.bulk({
        operations: batch.flatMap((p) => [p.action, p.source]),
        // Only what sorting the items needs: a full answer is ~200 bytes an item to parse.
        filter_path: ['errors', 'items.*.status', 'items.*.error'],
      });
    } catch (error) {
      return sortRequestFailure(error, batch);
    }
    if (!response.errors) return written();
    const outcome: WriteOutcome = { rejected: [], retry: [] };
    response.items.forEach((item, i) => {
      const result = item.index!;
      const prepared = batch[i]!;
      // One switch sorts every item: written, retry later, or refused for good.
      switch (true) {
        case result.status < 300:
          break;
        case result.status === 429 || result.status >= 500:
          outcome.retry.push(prepared.record);
          outcome.retryReason = `elasticsearch ${result.status}: ${result.error?.type ?? 'unavailable'}`;
          break;
        default:
          outcome.rejected.push({
            record: prepared.record,
            reason: `elasticsearch rejected the document: ${result.error?.type ?? result.status}: ${result.error?.reason ?? ''}`.slice(0, 1000),
          });
      }
    });
    return outcome;
  }

  async function sortRequestFailure(error: unknown, batch: Prepared[]): Promise<WriteOutcome> {
    const records = batch.map((p) => p.record);
    if (error instanceof errors.ResponseError) {
      const status = error.statusCode ?? 0;
      if (status === 413 && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        return combine(await send(batch.slice(0, half)), await send(batch.slice(half)));
      }
      const retryAfter = Number(error.headers?.['retry-after']);
      return {
        rejected: [],
        retry: records,
        retryReason: `elasticsearch ${status}: ${error.message.slice(0, 300)}`,
        ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      };
    }
    return { rejected: [], retry: records, retryReason: `elasticsearch unreachable: ${(error as Error).message}` };
  }

  return {
    name: 'elasticsearch',
    async write(records) {
      const prepared: Prepared[] = [];
      const rejected: Rejected[] = [];
      for (const record of records) {
        const result = prepare(record);
        if ('reason' in result) rejected.push(result);
        else prepared.push(result);
      }
      return combine({ rejected, retry: [] }, await send(prepared));
    },
    async ping() {
      // Cluster health, not HEAD /: some distributions (the integ-test one) refuse the root path.
      try {
        const health = await client.cluster.health({ timeout: '1s' }, { requestTimeout: 2000 });
        return health.status !== 'red';
      } catch {
        return false;
      }
    },
    close: () => client.close(),
  };
}
