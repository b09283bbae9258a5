// The metrics sink: line protocol into InfluxDB 2.x.
//
// Every line is checked strictly first (src/ilp), so a malformed line is dead-lettered with the
// parser's reason instead of failing a whole write. A line without a timestamp gets its Kafka
// timestamp: InfluxDB overwrites a point with the same series and time, so a replay after a crash
// rewrites the same points instead of adding new ones.
import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import { checkLine } from '../ilp/line-protocol.js';
import { unwrapLine } from '../ingest/unwrap.js';
import { combine, recordText, written, type Sink, type SourceRecord, type WriteOutcome } from './sink.js';

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
  line: string;
}

export function influxSink(options: InfluxSinkOptions): Sink {
  const influx = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs ?? 30_000 });

  async function send(batch: Prepared[]): Promise<WriteOutcome> {
    if (batch.length === 0) return written();
    try {
      await writeLines(influx, options, batch.map((p) => p.line));
      return written();
    } catch (error) {
      return sortFailure(error, batch);
    }
  }

  /** Every InfluxDB answer that is not a success, sorted into what happens to the batch. */
  async function sortFailure(error: unknown, batch: Prepared[]): Promise<WriteOutcome> {
    const records = batch.map((p) => p.record);
    if (!(error instanceof HttpError)) {
      // Network errors, timeouts, aborted connections: the sink is unreachable for now.
      return { rejected: [], retry: records, retryReason: `influxdb unreachable: ${(error as Error).message}` };
    }
    const reason = influxMessage(error);
    switch (true) {
      case error.statusCode === 429 || error.statusCode >= 500:
        return { rejected: [], retry: records, retryReason: `influxdb ${error.statusCode}: ${reason}`, retryAfterMs: error.retryAfter() || undefined };
      case error.statusCode === 401 || error.statusCode === 403 || error.statusCode === 404:
        // Wrong token, org or bucket: no line is at fault, and dropping them all would be worse
        // than waiting for an operator; /readyz and the logs say why.
        return { rejected: [], retry: records, retryReason: `influxdb ${error.statusCode} (check token, org and bucket): ${reason}` };
      case batch.length === 1 && (error.statusCode === 400 || error.statusCode === 422):
        return { rejected: [{ record: batch[0]!.record, reason: `influxdb rejected the line: ${reason}` }], retry: [] };
      case error.statusCode === 400 || error.statusCode === 413 || error.statusCode === 422: {
        // A partial write (type conflict, beyond retention) or a batch too large: split until the
        // refused lines stand alone. Halves already written are written again harmlessly — same
        // series and time.
        const half = Math.ceil(batch.length / 2);
        return combine(await send(batch.slice(0, half)), await send(batch.slice(half)));
      }
      default:
        return { rejected: batch.map((p) => ({ record: p.record, reason: `influxdb ${error.statusCode}: ${reason}` })), retry: [] };
    }
  }

  return {
    name: 'influxdb',
    async write(records) {
      const valid: Prepared[] = [];
      const rejected: WriteOutcome['rejected'] = [];
      for (const record of records) {
        const line = unwrapLine(recordText(record)).payload;
        try {
          valid.push({ record, line: checkLine(line).timestamped ? line : `${line.trimEnd()} ${record.timestamp}000000` });
        } catch (error) {
          rejected.push({ record, reason: `invalid line protocol: ${(error as Error).message}` });
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

function influxMessage(error: HttpError): string {
  const json = error.json as { message?: string } | undefined;
  return (json?.message ?? error.body ?? error.message).slice(0, 500);
}

/**
 * One write request of line protocol (nanosecond timestamps), gzip'd, through the client's
 * transport: batching and retrying are the bridge's job, so the client's write API, with its own
 * buffer and retry loop, would only add work. Rejects with the client's HttpError on a non-2xx.
 * The benchmark's raw ceiling writes with this same function.
 */
export async function writeLines(influx: InfluxDB, target: { org: string; bucket: string }, lines: string[]): Promise<void> {
  const query = new URLSearchParams({ org: target.org, bucket: target.bucket, precision: 'ns' });
  await influx.transport.request(`/api/v2/write?${query}`, lines.join('\n'), {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    gzipThreshold: 1000,
  });
}
