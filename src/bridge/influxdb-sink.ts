// The metrics sink: line protocol into InfluxDB 2.x.
//
// Every line is checked strictly first (src/ilp), so a malformed line is dead-lettered with the
// parser's reason instead of failing a whole write. A line without a timestamp gets one derived
// from its Kafka coordinates (see timestampFor): InfluxDB overwrites a point with the same series
// and time, so a replay after a crash rewrites the same points instead of adding new ones.
import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { gzip as zlibGzip } from 'node:zlib';
import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import { checkLine } from '../ilp/line-protocol.js';
import { unwrapLine } from '../ingest/unwrap.js';
import { deadLetterKinds } from './dead-letter.js';
import {
  combine,
  NO_ANSWER,
  recordText,
  retryAfterMs,
  sortAnswer,
  written,
  type ResponseRule,
  type Sink,
  type SourceRecord,
  type WriteOutcome,
} from './sink.js';

/** Every answer to a write, sorted. The README's bridge section shows the same table. */
export const INFLUX_RESPONSES: readonly ResponseRule[] = [
  { status: [[200, 299]], verdict: 'written', meaning: 'written' },
  { status: [NO_ANSWER], verdict: 'retry', meaning: 'influxdb unreachable' },
  { status: [408, 429, [500, 599]], verdict: 'retry', meaning: 'busy or failing' },
  // Wrong token, org or bucket: no line is at fault, and dead-lettering them all would be worse
  // than waiting for an operator; the logs say why, as errors.
  { status: [401, 403], verdict: 'hold', meaning: 'check the token and its permissions' },
  { status: [404], verdict: 'hold', meaning: 'check org and bucket' },
  // A partial write (type conflict, beyond retention, unparsable) or a request too large: split
  // until the refused lines stand alone. Halves already written are written again harmlessly:
  // same series and time.
  { status: [400, 422], verdict: 'split', meaning: 'influxdb rejected the line' },
  { status: [413], verdict: 'split', meaning: 'influxdb rejected the line: larger than it takes in one request' },
  // A redirect, a proxy's 405: the URL is wrong, not the data.
  { verdict: 'hold', meaning: 'an answer the bridge does not expect from InfluxDB: check the URL' },
];

/** The kinds of reason the sink gives lines it refuses before InfluxDB sees them. */
const NOT_A_POINT = 'not a point';
const INVALID_LINE = 'invalid line protocol';

export interface InfluxSinkOptions {
  url: string;
  token: string;
  org: string;
  bucket: string;
  /** Request timeout, ms. */
  timeoutMs?: number;
}

interface Prepared {
  record: SourceRecord;
  /** The line to write when it is not the record's value byte for byte (unwrapped, or given a timestamp). */
  line?: string;
}

export function influxSink(options: InfluxSinkOptions): Sink {
  const influx = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs ?? 30_000 });

  async function send(batch: Prepared[]): Promise<WriteOutcome> {
    if (batch.length === 0) return written();
    try {
      await writeLines(influx, options, batch.map((p) => p.line ?? p.record.value!));
      return written();
    } catch (error) {
      return sortFailure(error, batch);
    }
  }

  /** A failed write: an HTTP error status, or no answer at all (refused, reset, timed out). */
  function sortFailure(error: unknown, batch: Prepared[]): Promise<WriteOutcome> {
    const http = error instanceof HttpError ? error : undefined;
    return sortAnswer({
      sink: 'influxdb',
      table: INFLUX_RESPONSES,
      answer: { status: http?.statusCode ?? NO_ANSWER },
      message: http ? influxMessage(http) : (error as Error).message,
      batch,
      resend: send,
      waitMs: retryAfterMs(http?.headers?.['retry-after']),
    });
  }

  return {
    name: 'influxdb',
    deadLetterKinds: deadLetterKinds(INFLUX_RESPONSES, [NOT_A_POINT, INVALID_LINE]),
    async write(records) {
      const valid: Prepared[] = [];
      const rejected: WriteOutcome['rejected'] = [];
      for (const record of records) {
        const text = recordText(record);
        const line = unwrapLine(text).payload;
        // influxd answers 204 to a comment (a commented-out point passes checkLine) and stores
        // nothing. Counted as written, it would make written_lines_total more than InfluxDB holds;
        // dead-lettered, it is counted under its own reason and kept for whoever sent it.
        if (COMMENT.test(line)) {
          rejected.push({ record, reason: `${NOT_A_POINT}: a comment line, which InfluxDB ignores` });
          continue;
        }
        try {
          if (!checkLine(line).timestamped) valid.push({ record, line: `${line.trimEnd()} ${timestampFor(record)}` });
          // Most lines go as they came: their bytes are copied into the body and the text, only
          // read for the check, is not kept while the write waits. Bytes that are not UTF-8 go as
          // the text they decoded to, as they always did.
          else if (line === text && isUtf8(record.value!)) valid.push({ record });
          else valid.push({ record, line });
        } catch (error) {
          rejected.push({ record, reason: `${INVALID_LINE}: ${(error as Error).message}` });
        }
      }
      return combine({ rejected, retry: [] }, await send(valid));
    },
    async ping() {
      try {
        const response = await fetch(new URL('/health', options.url), { signal: AbortSignal.timeout(2000) });
        return response.ok;
      } catch {
        return false;
      }
    },
    async close() {},
  };
}

/** influxd skips a line whose first non-blank character is `#` (models.ParsePoints). */
const COMMENT = /^[ \t]*#/;

/**
 * Nanoseconds for a line that carries no timestamp: the Kafka millisecond, and for the six digits
 * below it the offset modulo a million, so that two lines of one series in one millisecond stay
 * two points, and a replay derives the same time again. (Two such lines on different partitions
 * whose offsets agree modulo a million would still meet; the edges send timestamps anyway.)
 */
export function timestampFor(record: SourceRecord): string {
  return `${record.timestamp}${record.offset.slice(-6).padStart(6, '0')}`;
}

function influxMessage(error: HttpError): string {
  const json = error.json as { message?: string } | undefined;
  return (json?.message ?? error.body ?? error.message).slice(0, 500);
}

/** Bodies up to this size go as they are: gzip would save little and cost a trip to the threadpool. */
const GZIP_OVER_BYTES = 1000;
/**
 * zlib's fastest level: on the reference lines it takes a third of the CPU of the default level
 * (6) for 18.6 instead of 14.0 compressed bytes a line, and influxd's CPU per line does not move
 * with it (bench/README.md, round four).
 */
const GZIP_LEVEL = 1;
const gzip = promisify(zlibGzip);

/**
 * One write request of line protocol (nanosecond timestamps; each line as text or as its UTF-8
 * bytes) through the client's transport: batching and retrying are the bridge's job, so the
 * client's write API, with its own buffer and retry loop, would only add work. The body is
 * gzip'd here, in the threadpool, at GZIP_LEVEL (the transport's own gzip uses zlib's default
 * level). Rejects with the client's HttpError on a non-2xx. The benchmark's raw ceiling writes
 * with this same function.
 */
export async function writeLines(influx: InfluxDB, target: { org: string; bucket: string }, lines: readonly (string | Uint8Array)[]): Promise<void> {
  const query = new URLSearchParams({ org: target.org, bucket: target.bucket, precision: 'ns' });
  const joined = joinLines(lines);
  const gzipped = joined.length > GZIP_OVER_BYTES;
  const body = gzipped ? await gzip(joined, { level: GZIP_LEVEL }) : joined;
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', ...(gzipped ? { 'content-encoding': 'gzip' } : {}) };
  await new Promise<void>((resolve, reject) => {
    // The Node transport sends the body with Buffer.from, which takes bytes as well as text; its
    // type says string because its other bodies are.
    influx.transport.send(`/api/v2/write?${query}`, body as unknown as string, { method: 'POST', headers }, { next() {}, error: reject, complete: resolve });
  });
}

/**
 * The lines, newline-separated, as one buffer: copied into it once, where a joined string would be
 * a large object for the old generation (a 5,000-line body is over a megabyte) and then encoded.
 */
function joinLines(lines: readonly (string | Uint8Array)[]): Buffer {
  let bytes = Math.max(0, lines.length - 1);
  for (const line of lines) bytes += typeof line === 'string' ? Buffer.byteLength(line) : line.length;
  const body = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (i > 0) body[at++] = NEWLINE;
    if (typeof line === 'string') at += body.write(line, at);
    else {
      body.set(line, at);
      at += line.length;
    }
  }
  return body;
}
const NEWLINE = '\n'.charCodeAt(0);
