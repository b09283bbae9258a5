// The metrics sink's response table, row by row, against a throwaway server answering each status
// (tests/integration/sink-responses.test.ts holds the sink to the real influxd).
import { afterEach, describe, expect, it } from 'vitest';
import { INFLUX_RESPONSES, influxSink } from '../../src/bridge/influxdb-sink.js';
import { NO_ANSWER, ruleFor, type SourceRecord, type WriteOutcome } from '../../src/bridge/sink.js';
import { expectSorted, type Expected } from './support/outcome.js';
import { statusServer, type Responder, type StatusServer } from './support/status-server.js';

const LINE = 'cdnmetrics,pop=MDW elapsed_time=12i 1700000000000000000';
const servers: StatusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function record(line: string, offset = 0): SourceRecord {
  return { topic: 'cdn-metrics', partition: 0, offset: String(offset), timestamp: '1700000000000', key: null, value: Buffer.from(line) };
}

async function writeThrough(respond: Responder, records: SourceRecord[]): Promise<{ outcome: WriteOutcome; server: StatusServer }> {
  const server = await statusServer(respond);
  servers.push(server);
  const sink = influxSink({ url: server.url, token: 't', org: 'o', bucket: 'b' });
  return { outcome: await sink.write(records), server };
}

const influxError = (status: number, message: string, headers: Record<string, string> = {}): Responder => () => ({
  status,
  headers,
  body: { code: 'error', message },
});

/** One answer for one line: [status (NO_ANSWER: the connection is dropped), what must happen]. */
const ROWS: [number, Expected][] = [
  [204, 'written'],
  [NO_ANSWER, 'retry'],
  [408, 'retry'],
  [429, 'retry'],
  [500, 'retry'],
  [503, 'retry'],
  [401, 'hold'],
  [403, 'hold'],
  [404, 'hold'],
  [400, 'dead-letter'],
  [422, 'dead-letter'],
  [413, 'dead-letter'],
  [301, 'hold'],
  [405, 'hold'],
];

describe('the InfluxDB sink', () => {
  it.each(ROWS)('answered %s for one line (0: no answer): %s', async (status, expected) => {
    const one = record(LINE);
    const { outcome } = await writeThrough(status === NO_ANSWER ? () => 'drop' : influxError(status, `status ${status}`), [one]);
    const reason =
      expected === 'dead-letter'
        ? new RegExp(`^influxdb rejected the line: .*status ${status}$`)
        : status === NO_ANSWER
          ? /^influxdb unreachable: /
          : new RegExp(`^influxdb ${status} \\(.+\\): status ${status}$`);
    expectSorted(outcome, one, expected, reason);
  });

  it('has a test row for every row of its table', () => {
    const tested = new Set(ROWS.map(([status]) => ruleFor(INFLUX_RESPONSES, { status })));
    expect(INFLUX_RESPONSES.filter((rule) => !tested.has(rule))).toEqual([]);
  });

  it('waits as long as Retry-After says (seconds, not milliseconds)', async () => {
    const { outcome } = await writeThrough(influxError(429, 'slow down', { 'retry-after': '7' }), [record(LINE)]);
    expect(outcome.retryAfterMs).toBe(7000);
  });

  it('splits a batch InfluxDB finds too large until the lines go alone, and dead-letters a line too large alone', async () => {
    const lines = [0, 1, 2, 3].map((i) => record(LINE.replace('MDW', `P${i}`), i));
    const huge = record(`cdnmetrics,pop=HUGE elapsed_time=1i,note="${'x'.repeat(2000)}" 1`, 4);
    const { outcome, server } = await writeThrough(({ body }) => (body.includes('\n') || body.includes('HUGE') ? { status: 413, body: { message: 'request too large' } } : { status: 204 }), [...lines, huge]);
    expect(outcome.retry).toEqual([]);
    expect(outcome.rejected).toEqual([{ record: huge, reason: 'influxdb rejected the line: larger than it takes in one request: request too large' }]);
    // Every good line went alone, once.
    for (const line of lines) expect(server.requests.filter((r) => r.body === line.value!.toString())).toHaveLength(1);
  });

  it('splits a partial write until the refused line stands alone; its batch-mates are written', async () => {
    const lines = [0, 1, 2, 3, 4].map((i) => record(LINE.replace('MDW', i === 3 ? 'CONFLICT' : `P${i}`), i));
    const { outcome } = await writeThrough(({ body }) => (body.includes('CONFLICT') ? { status: 400, body: { message: 'partial write: field type conflict' } } : { status: 204 }), lines);
    expect(outcome).toEqual({ rejected: [{ record: lines[3], reason: 'influxdb rejected the line: partial write: field type conflict' }], retry: [] });
  });

  it('dead-letters comment lines (a commented-out point, a remark) as what they are, and sends nothing for them', async () => {
    const comments = [record(`  #${LINE}`, 1), record('\t# written by hand', 3)];
    const point = record(LINE, 2);
    const { outcome, server } = await writeThrough(() => ({ status: 204 }), [comments[0]!, point, comments[1]!]);
    expect(outcome).toEqual({ rejected: comments.map((c) => ({ record: c, reason: 'not a point: a comment line, which InfluxDB ignores' })), retry: [] });
    expect(server.requests.map((r) => r.body)).toEqual([LINE]);
  });

  it('gives a line without a timestamp its Kafka millisecond and, below it, its offset modulo a million', async () => {
    const bare = 'cdnmetrics,pop=MDW elapsed_time=12i';
    const { server } = await writeThrough(() => ({ status: 204 }), [record(bare, 41), record(bare, 12_345_678)]);
    expect(server.requests.map((r) => r.body)).toEqual([`${bare} 1700000000000000041\n${bare} 1700000000000345678`]);
  });

  // Most lines' bytes are copied into the body as they came; bytes that are not UTF-8 go as the
  // text they decode to (U+FFFD for each bad sequence), as they did when every line went as text.
  it('writes lines byte for byte, and bytes that are not UTF-8 as the text they decode to', async () => {
    const plain = record('cdnmetrics,pop=ZÜR elapsed_time=1i 1700000000000000000', 1);
    const bad = { ...record('', 2), value: Buffer.concat([Buffer.from('cdnmetrics,pop=A'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from(' elapsed_time=1i 1700000000000000000')]) };
    const { outcome, server } = await writeThrough(() => ({ status: 204 }), [plain, bad]);
    expect(outcome).toEqual({ rejected: [], retry: [] });
    expect(server.requests.map((r) => r.bytes)).toEqual([Buffer.from(`${plain.value!.toString()}\ncdnmetrics,pop=A\uFFFD elapsed_time=1i 1700000000000000000`)]);
  });
});
