// The logs sink: error-log JSON into Elasticsearch, one bulk request per batch.
//
// A document's id is where its Kafka message came from (documentId) and its index is chosen by
// its event time, so a replay after a crash overwrites the same documents instead of adding copies.
import { Client, errors } from '@elastic/elasticsearch';
import type { KitConfig } from '../config/schema.js';
import { fieldViews, logKeyOf } from '../config/model.js';
import { unwrapLine } from '../ingest/unwrap.js';
import { deadLetterKinds } from './dead-letter.js';
import {
  combine,
  NO_ANSWER,
  recordText,
  retryAfterMs,
  ruleFor,
  sortAnswer,
  written,
  type Answer,
  type Rejected,
  type ResponseRule,
  type Sink,
  type SourceRecord,
  type WriteOutcome,
} from './sink.js';

/**
 * Every answer to a bulk request, and to each of its items, sorted. The error type says what is
 * wrong better than the status (a read-only block is 429 or 403, a missing index 404), so the
 * rows naming types come first. The README's bridge section shows the same table.
 */
export const ELASTICSEARCH_RESPONSES: readonly ResponseRule[] = [
  // The flood-stage disk watermark makes indices read-only (429) until disk use falls below the
  // high watermark; an operator's block is 403.
  { errorType: ['cluster_block_exception'], verdict: 'hold', meaning: 'the index or cluster is read-only: free disk, or lift the block' },
  { errorType: ['index_not_found_exception'], verdict: 'hold', meaning: 'the index does not exist and may not be created: check action.auto_create_index' },
  { errorType: ['index_closed_exception', 'invalid_index_name_exception'], verdict: 'hold', meaning: 'the index cannot be written: check indexPrefix and the index' },
  // What is wrong with the document itself: its JSON against the mapping.
  {
    errorType: ['mapper_parsing_exception', 'document_parsing_exception', 'strict_dynamic_mapping_exception', 'illegal_argument_exception', 'x_content_parse_exception'],
    verdict: 'dead-letter',
    meaning: 'elasticsearch rejected the document',
  },
  // A 2xx that is not Elasticsearch's (the client checks the product header): a wrong URL.
  { errorType: ['ProductNotSupportedError', 'DeserializationError'], verdict: 'hold', meaning: 'the answer is not from Elasticsearch: check the URL' },
  { status: [[200, 299]], verdict: 'written', meaning: 'written' },
  { status: [NO_ANSWER], verdict: 'retry', meaning: 'elasticsearch unreachable' },
  { status: [408, 429, [500, 599]], verdict: 'retry', meaning: 'busy or failing' },
  { status: [401, 403], verdict: 'hold', meaning: 'check the credentials and their privileges' },
  // Larger than http.max_content_length: halves, until a document too large alone is dead-lettered.
  { status: [413], verdict: 'split', meaning: 'elasticsearch rejected the document: larger than it takes in one request' },
  // Anything else is not known to be the document's fault: never dead-letter the stream for it.
  { verdict: 'hold', meaning: 'an answer the bridge does not know' },
];

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
  /**
   * `source` is the line's own text with @timestamp put in front, not the parsed object written
   * out again (which costs as much as the parse). Elasticsearch refuses some JSON that JSON.parse
   * takes (a key twice), so a document refused as-is is sent once more rewritten (`rewritten`).
   */
  asIs: boolean;
}

/** The document as it is sent when its own text is not: parsed and written out again. */
function rewritten(prepared: Prepared): Prepared {
  return { ...prepared, source: JSON.stringify(JSON.parse(prepared.source)), asIs: false };
}

/**
 * Where the document's message sits in Kafka, so that a replay overwrites it. A topic deleted and
 * created again numbers its offsets from 0 once more, and two clusters writing one index have the
 * same offsets, so the id also holds the broker timestamp (a replay reads the same one again; a
 * recreated topic's message at that offset almost surely has another) and the cluster's id. Kafka's
 * topic id would name the topic's incarnation exactly, but kafkajs 2.2.4 speaks Metadata up to v6
 * and topic ids came with v10.
 *
 *   <first 8 characters of the cluster id>:<topic>:<partition>:<offset>:<timestamp, base 36>
 *
 * Ids are stored with every document: 8 random base64 characters (48 bits) tell clusters apart,
 * and base 36 writes a millisecond timestamp in 8 characters instead of 13.
 */
export function documentId(record: SourceRecord): string {
  const coordinates = `${record.topic}:${record.partition}:${record.offset}:${Number(record.timestamp).toString(36)}`;
  return record.clusterId ? `${record.clusterId.slice(0, 8)}:${coordinates}` : coordinates;
}

function isEmpty(doc: Record<string, unknown>): boolean {
  for (const _ in doc) return false;
  return true;
}

/** Logstash's json codec could not parse the line: it sends the line in `message`, tagged so. */
function isLogstashParseFailure(doc: Record<string, unknown>): doc is { message: string } {
  return '@version' in doc && Array.isArray(doc.tags) && doc.tags.includes('_jsonparsefailure') && typeof doc.message === 'string';
}

/** The kind of reason of a line that is not a JSON object. */
const INVALID_JSON = 'invalid JSON';

/** The JSON object a line's payload (out of its envelope) holds; else why not. */
function parseObject(payload: string): Record<string, unknown> | string {
  let document: unknown;
  try {
    document = JSON.parse(payload);
  } catch (error) {
    return `${INVALID_JSON}: ${(error as Error).message}`;
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return `${INVALID_JSON}: the line is not a JSON object`;
  return document as Record<string, unknown>;
}

/** A client for the node, as whom and trusting what the options say; it never retries on its own. */
export function elasticsearchClient(options: ElasticsearchSinkOptions): Client {
  return new Client({
    node: options.url,
    ...(options.apiKey ? { auth: { apiKey: options.apiKey } } : options.username ? { auth: { username: options.username, password: options.password ?? '' } } : {}),
    ...(options.ca ? { tls: { ca: options.ca } } : {}),
    requestTimeout: options.timeoutMs ?? 30_000,
    // Retrying is the bridge's job: it backs off, heartbeats and keeps the offsets uncommitted.
    maxRetries: 0,
  });
}

export function elasticsearchSink(config: KitConfig, options: ElasticsearchSinkOptions): Sink {
  const client = elasticsearchClient(options);
  const logFields = fieldViews(config).log;
  const declared = new Set(logFields.map(logKeyOf));
  const typedKeys = logFields.filter((f) => f.type !== 'string').map(logKeyOf);
  const eventTimeField = logFields.find((f) => f.type === 'timestamp');
  const eventTimeKey = eventTimeField && logKeyOf(eventTimeField);

  /** The last event time read and what it gave: the lines of a batch mostly share their second. */
  let lastStamp: { eventTime: string; timestamp: string; actionHead: string } | undefined;

  /** @timestamp, and the start of the bulk action (the index is the event's day), for a line's event time. */
  function stampOf(eventTime: string, record: SourceRecord): { timestamp: string; actionHead: string } {
    if (lastStamp?.eventTime === eventTime) return lastStamp;
    const eventMs = Date.parse(eventTime);
    const timestamp = new Date(Number.isNaN(eventMs) ? Number(record.timestamp) : eventMs).toISOString();
    const index = `${options.indexPrefix}-${timestamp.slice(0, 10).replaceAll('-', '.')}`;
    const stamp = { eventTime, timestamp, actionHead: `{"index":{"_index":${JSON.stringify(index)},"_id":` };
    // Without an event time the broker's timestamp counts, which differs from message to message.
    if (!Number.isNaN(eventMs)) lastStamp = stamp;
    return stamp;
  }

  function prepare(record: SourceRecord): Prepared | Rejected {
    let payload = unwrapLine(recordText(record)).payload;
    let doc = parseObject(payload);
    if (typeof doc === 'object' && isLogstashParseFailure(doc)) {
      // The line gets what it would get reaching Kafka untouched (rsyslog): parsed from its own
      // text (JSON behind a syslog header, which the codec cannot parse, is indexed), or else
      // dead-lettered as the line itself rather than Logstash's event around it.
      const line = doc.message;
      payload = unwrapLine(line).payload;
      doc = parseObject(payload);
      if (typeof doc === 'string') return { record, reason: `${doc} (Logstash's json codec tagged it _jsonparsefailure)`, value: line };
    }
    if (typeof doc === 'string') return { record, reason: doc };
    // A line on several lines would break the bulk body, which is one JSON text per line.
    let asIs = !('@timestamp' in doc) && !payload.includes('\n');
    if ('@version' in doc) {
      asIs = false;
      for (const key of LOGSTASH_ENVELOPE) if (!declared.has(key)) delete doc[key];
    }
    // varnishncsa cannot write null: an unset value arrives as "", which an ip, date or number
    // mapping refuses. For typed fields "" means "no value".
    for (const key of typedKeys) {
      if (doc[key] === '') {
        doc[key] = null;
        asIs = false;
      }
    }
    const { timestamp, actionHead } = stampOf(eventTimeKey ? String(doc[eventTimeKey] ?? '') : '', record);
    const action = `${actionHead}${JSON.stringify(documentId(record))}}}`;
    if (!asIs) {
      doc['@timestamp'] = timestamp;
      return { record, action, source: JSON.stringify(doc), asIs };
    }
    const rest = payload.slice(payload.indexOf('{') + 1);
    return { record, action, source: `{"@timestamp":"${timestamp}"${isEmpty(doc) ? '' : ','}${rest}`, asIs };
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
    const refusedAsIs: Prepared[] = [];
    const items = response.items.map((item, i) => {
      const { status, error } = item.index!;
      const answer: Answer = { status, ...(error ? { errorType: error.type } : {}) };
      if (batch[i]!.asIs && ruleFor(ELASTICSEARCH_RESPONSES, answer).verdict === 'dead-letter') {
        refusedAsIs.push(rewritten(batch[i]!));
        return written();
      }
      return sorted(answer, error?.reason ?? '', [batch[i]!]);
    });
    return combine(...(await Promise.all(items)), await send(refusedAsIs));
  }

  /** A failed bulk request as a whole: an HTTP error status, or no answer at all. */
  function sortRequestFailure(error: unknown, batch: Prepared[]): Promise<WriteOutcome> {
    if (error instanceof errors.ResponseError) {
      const body = error.body as { error?: { type?: string; reason?: string } } | string | undefined;
      const cause = typeof body === 'object' ? body.error : undefined;
      const answer: Answer = { status: error.statusCode ?? NO_ANSWER, ...(cause?.type ? { errorType: cause.type } : {}) };
      return sorted(answer, cause?.reason ?? error.message, batch, retryAfterMs(error.headers?.['retry-after']));
    }
    if (error instanceof errors.ProductNotSupportedError || error instanceof errors.DeserializationError) {
      return sorted({ status: 200, errorType: error.name }, error.message, batch);
    }
    // Refused, reset, timed out: ConnectionError, TimeoutError, NoLivingConnectionsError.
    return sorted({ status: NO_ANSWER }, (error as Error).message, batch);
  }

  /** What ELASTICSEARCH_RESPONSES says to do with `batch` (one item, or a whole request). */
  function sorted(answer: Answer, reason: string, batch: Prepared[], waitMs?: number): Promise<WriteOutcome> {
    const message = answer.errorType ? `${answer.errorType}: ${reason}` : reason;
    return sortAnswer({ sink: 'elasticsearch', table: ELASTICSEARCH_RESPONSES, answer, message, batch, resend: send, waitMs });
  }

  return {
    name: 'elasticsearch',
    deadLetterKinds: deadLetterKinds(ELASTICSEARCH_RESPONSES, [INVALID_JSON]),
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
