// The InfluxDB service harness, and what a real influxd (2.7.x) does with the line protocol that
// cdnkit's ILP rules must produce. Writes go through @influxdata/influxdb-client (as a bridge would)
// or raw HTTP (to see the exact status and body); reads go through InfluxQL on /query, as the
// dashboards and alerts do. Every expected value here was observed on influxd v2.7.12.

import { HttpError, InfluxDB, Point, setLogger, type Logger } from '@influxdata/influxdb-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLine } from '../../src/ilp/line-protocol.js';
import { ILP_ACCEPTED, ILP_REJECTED } from '../fixtures/ilp-lines.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';

let influx: RunningInflux;
let bucket: string;

beforeAll(async () => {
  influx = await startInfluxDB();
  // A bucket of our own per run: field types are fixed once written, so a reused server must not
  // carry types over from an earlier run.
  bucket = `ilp_${Date.now().toString(36)}_${process.pid}`;
  await createBucket(influx, bucket);
}, 60 * 60_000); // the first run on a machine builds influxd

afterAll(async () => {
  await influx?.stop();
});

/** Writes lines the way a bridge would: the official client, no retries. */
async function clientWrite(lines: string[]): Promise<void> {
  const writeApi = new InfluxDB({ url: influx.url, token: influx.token, timeout: 10_000 }).getWriteApi(
    influx.org,
    bucket,
    'ns',
    { maxRetries: 0, batchSize: lines.length + 1, flushInterval: 0 },
  );
  writeApi.writeRecords(lines);
  await writeApi.close();
}

/** Writes a body over plain HTTP and returns the status and parsed JSON body (if any). */
async function rawWrite(body: string, into = bucket): Promise<{ status: number; body: unknown }> {
  const params = new URLSearchParams({ org: influx.org, bucket: into, precision: 'ns' });
  const res = await fetch(`${influx.url}/api/v2/write?${params}`, {
    method: 'POST',
    headers: { authorization: `Token ${influx.token}`, 'content-type': 'text/plain; charset=utf-8' },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** One InfluxQL statement through the 1.x-compatible /query (DBRP: database = bucket). */
async function influxql(q: string): Promise<Series[]> {
  const res = await fetch(`${influx.url}/query?${new URLSearchParams({ db: bucket, q })}`, {
    headers: { authorization: `Token ${influx.token}` },
  });
  expect(res.status).toBe(200);
  const json = (await res.json()) as { results: { series?: Series[]; error?: string }[] };
  const result = json.results[0];
  if (result?.error) throw new Error(`InfluxQL error: ${result.error}`);
  return result?.series ?? [];
}

/** Rows of one series as objects, e.g. [{ time: '…Z', f: 1 }]. */
function rows(series: Series | undefined): Record<string, unknown>[] {
  if (!series) return [];
  return series.values.map((v) => Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
}

// 2023-11-14T22:13:20.123456789Z; the Target seed builds such values as time.end.usec + "000".
const T = 1700000000123456789n;

describe('InfluxDB service harness', () => {
  it('answers /health and InfluxQL through the DBRP mapping', async () => {
    expect(influx.name).toBe('influxdb');
    const health = (await (await fetch(`${influx.url}/health`)).json()) as { status: string; version: string };
    expect(health.status).toBe('pass');
    const dbrps = (await (
      await fetch(`${influx.url}/api/v2/dbrps?${new URLSearchParams({ org: influx.org, db: bucket })}`, {
        headers: { authorization: `Token ${influx.token}` },
      })
    ).json()) as { content: { database: string; retention_policy: string; default: boolean }[] };
    expect(dbrps.content).toEqual([
      expect.objectContaining({ database: bucket, retention_policy: 'autogen', default: true }),
    ]);
    expect(await influxql('SHOW MEASUREMENTS')).toEqual([]);
  });
});

describe('ILP round trip: client write, InfluxQL read', () => {
  const tags =
    'product=api\\ gateway,environment=prod,resp_status=200,api_name=orders\\,v2,request_backend=F_app\\=1,' +
    'actual_backend=C:\\dir,info_state=MISS-CLUSTER,region=EU';

  beforeAll(async () => {
    await clientWrite([
      `cdnmetrics,${tags},cache_status=MISS,pop=LON elapsed_time=12.5,time_to_first_byte=3i,note="say \\"hi\\" C:\\\\temp\\\\" ${T}`,
      `cdnmetrics,${tags},cache_status=HIT,pop=LON elapsed_time=0.25,time_to_first_byte=0i,note="" ${T + 1n}`,
      `cdnmetrics,${tags},cache_status=HIT,pop=AMS\\ 2 elapsed_time=7,time_to_first_byte=-4i,note="a,b=c d" ${T + 2n}`,
    ]);
  });

  it('reads back exact tag values, field values and nanosecond timestamps', async () => {
    const series = await influxql('SELECT elapsed_time, time_to_first_byte, note FROM cdnmetrics GROUP BY pop');
    expect(series.map((s) => s.tags)).toEqual([{ pop: 'AMS 2' }, { pop: 'LON' }]);
    expect(rows(series[0])).toEqual([
      { time: '2023-11-14T22:13:20.123456791Z', elapsed_time: 7, time_to_first_byte: -4, note: 'a,b=c d' },
    ]);
    expect(rows(series[1])).toEqual([
      { time: '2023-11-14T22:13:20.123456789Z', elapsed_time: 12.5, time_to_first_byte: 3, note: 'say "hi" C:\\temp\\' },
      { time: '2023-11-14T22:13:20.12345679Z', elapsed_time: 0.25, time_to_first_byte: 0, note: '' },
    ]);
  });

  it('unescapes \\, \\= and "\\ " in tag values; a lone backslash is kept as is', async () => {
    const series = await influxql('SELECT elapsed_time FROM cdnmetrics WHERE pop = \'LON\' GROUP BY *');
    expect(series.map((s) => s.tags)).toEqual([
      {
        actual_backend: 'C:\\dir',
        api_name: 'orders,v2',
        cache_status: 'HIT',
        environment: 'prod',
        info_state: 'MISS-CLUSTER',
        pop: 'LON',
        product: 'api gateway',
        region: 'EU',
        request_backend: 'F_app=1',
        resp_status: '200',
      },
      expect.objectContaining({ cache_status: 'MISS' }),
    ]);
  });

  it('keeps field types: `i` suffix is integer, a bare number is float, quoted is string', async () => {
    const [keys] = await influxql('SHOW FIELD KEYS FROM cdnmetrics');
    expect(rows(keys)).toEqual([
      { fieldKey: 'elapsed_time', fieldType: 'float' },
      { fieldKey: 'note', fieldType: 'string' },
      { fieldKey: 'time_to_first_byte', fieldType: 'integer' },
    ]);
  });

  it('overwrites a point with the same series and timestamp (fields merge, last value wins)', async () => {
    await clientWrite([`replay,pop=LON elapsed_time=1,time_to_first_byte=1i ${T}`]);
    await clientWrite([`replay,pop=LON elapsed_time=2 ${T}`]);
    expect(rows((await influxql('SELECT * FROM replay'))[0])).toEqual([
      { time: '2023-11-14T22:13:20.123456789Z', elapsed_time: 2, pop: 'LON', time_to_first_byte: 1 },
    ]);
  });
});

describe('ILP edge cases on a real influxd', () => {
  it('an empty tag value is a parse error (400) and rejects the WHOLE batch', async () => {
    const res = await rawWrite(`empty,pop=,region=EU f=1 ${T}\nempty,pop=LON,region=EU f=2 ${T + 1n}`);
    expect(res).toEqual({
      status: 400,
      body: { code: 'invalid', message: `unable to parse 'empty,pop=,region=EU f=1 ${T}': missing tag value` },
    });
    expect(await influxql('SELECT * FROM empty')).toEqual([]); // the valid second line did not land either
  });

  it('any parse error rejects the whole batch, valid lines included (unlike a type conflict)', async () => {
    const res = await rawWrite(`parse,pop=LON f=1 ${T}\nparse,pop=AMS f= ${T}\nparse,pop=PAR f=3 ${T}`);
    expect(res).toEqual({
      status: 400,
      body: { code: 'invalid', message: `unable to parse 'parse,pop=AMS f= ${T}': missing field value` },
    });
    expect(await influxql('SELECT * FROM parse')).toEqual([]);
  });

  it('a field type conflict inside a batch is a partial write: 422, conflicting points dropped, the rest written', async () => {
    const res = await rawWrite(
      [
        `conflict,pop=LON f=1.5 ${T}`, // first point fixes the type: float
        `conflict,pop=LON f=2i ${T + 1n}`, // integer: dropped
        `conflict,pop=LON f=3.5 ${T + 2n}`,
        `conflict,pop=AMS f="x" ${T + 3n}`, // string: dropped too, but only the first conflict is named
      ].join('\n'),
    );
    expect(res).toEqual({
      status: 422,
      body: {
        code: 'unprocessable entity',
        message:
          'failure writing points to database: partial write: field type conflict: input field "f" on measurement ' +
          '"conflict" is type integer, already exists as type float dropped=2',
      },
    });
    const series = await influxql('SELECT f FROM conflict GROUP BY pop');
    expect(series.map((s) => [s.tags, rows(s)])).toEqual([
      [
        { pop: 'LON' },
        [
          { time: '2023-11-14T22:13:20.123456789Z', f: 1.5 },
          { time: '2023-11-14T22:13:20.123456791Z', f: 3.5 },
        ],
      ],
    ]);
    // The dropped point's series is still indexed: its tag value shows up in SHOW TAG VALUES
    // (and so in Grafana variable drop-downs) though it has no data.
    expect(rows((await influxql('SHOW TAG VALUES FROM conflict WITH KEY = "pop"'))[0])).toEqual([
      { key: 'pop', value: 'AMS' },
      { key: 'pop', value: 'LON' },
    ]);
  });

  it('a later batch conflicting with the stored type is also a partial write; the client reports HTTP 422', async () => {
    const logged: string[] = [];
    const quiet: Logger = { error: (message) => logged.push(message), warn: (message) => logged.push(message) };
    const previous = setLogger(quiet); // the client logs failed writes itself; keep the test output clean
    const error = await clientWrite([`conflict,pop=LON f=4i ${T + 4n}`, `conflict,pop=LON f=5.5 ${T + 5n}`])
      .then(
        () => undefined,
        (e: unknown) => e,
      )
      .finally(() => setLogger(previous));
    expect(logged).toEqual(['Write to InfluxDB failed.']);
    expect(error).toBeInstanceOf(HttpError);
    const http = error as HttpError;
    expect(http.statusCode).toBe(422);
    expect(JSON.parse(http.body ?? '')).toEqual({
      code: 'unprocessable entity',
      message:
        'failure writing points to database: partial write: field type conflict: input field "f" on measurement ' +
        '"conflict" is type integer, already exists as type float dropped=1',
    });
    const values = rows((await influxql('SELECT f FROM conflict WHERE pop = \'LON\''))[0]).map((r) => r.f);
    expect(values).toEqual([1.5, 3.5, 5.5]);
  });

  it('a tag value ending in a backslash cannot be written at all, escaped or not (400 invalid tag format)', async () => {
    for (const tag of ['pop=LON\\', 'pop=LON\\\\', 'pop=\\']) {
      const line = `trailing,${tag} f=1 ${T}`;
      expect(await rawWrite(line)).toEqual({
        status: 400,
        body: { code: 'invalid', message: `unable to parse '${line}': invalid tag format` },
      });
    }
    // Not before a comma either.
    const line = `trailing,pop=LON\\\\,region=EU f=1 ${T}`;
    expect((await rawWrite(line)).status).toBe(400);
    expect(await influxql('SELECT * FROM trailing')).toEqual([]);
  });

  it('`\\\\` in a tag value is NOT unescaped: it is stored as two backslashes', async () => {
    expect(
      await rawWrite(
        [
          `bs,case=a\\\\b v=1 ${T}`, // a\\b
          `bs,case=a\\b v=2 ${T}`, // a\b
          `bs,case=a\\\\\\ b v=3 ${T}`, // a\\\ b: "\ " is an escaped space, "\\" stays
          `bs,case=a\\\\\\,b v=4 ${T}`, // a\\\,b
        ].join('\n'),
      ),
    ).toEqual({ status: 204, body: undefined });
    const series = await influxql('SELECT v FROM bs GROUP BY "case"');
    expect(series.map((s) => [s.tags?.case, rows(s)[0]?.v])).toEqual([
      ['a\\\\ b', 3],
      ['a\\\\,b', 4],
      ['a\\\\b', 1],
      ['a\\b', 2],
    ]);
  });

  it('string fields do unescape \\" and \\\\ (a trailing backslash is fine there)', async () => {
    expect(await rawWrite(`strings,pop=LON s="say \\"hi\\" C:\\\\temp\\\\",t="end\\\\" ${T}`)).toEqual({
      status: 204,
      body: undefined,
    });
    expect(rows((await influxql('SELECT s, t FROM strings'))[0])).toEqual([
      { time: '2023-11-14T22:13:20.123456789Z', s: 'say "hi" C:\\temp\\', t: 'end\\' },
    ]);
  });

  it("the JS client's Point drops empty tags silently and writes a trailing-backslash tag as an invalid line", () => {
    expect(new Point('m').tag('pop', '').floatField('f', 1).timestamp(T.toString()).toLineProtocol()).toBe(
      `m f=1 ${T}`,
    );
    // The tag value's trailing "\" escapes the following comma: influxd answers 400 (see above).
    expect(
      new Point('m').tag('a', 'end\\').tag('b', 'x').floatField('f', 1).timestamp(T.toString()).toLineProtocol(),
    ).toBe(`m,a=end\\,b=x f=1 ${T}`);
    // A backslash inside a tag value is written as is, which is what influxd expects.
    expect(new Point('m').tag('a', 'x\\y').floatField('f', 1).timestamp(T.toString()).toLineProtocol()).toBe(
      `m,a=x\\y f=1 ${T}`,
    );
  });
});

describe("the bridge's line check agrees with influxd", () => {
  // A line the check lets through but influxd cannot parse would fail its whole batch (400); a
  // line the check refuses but influxd would store is a point lost to the dead-letter topic. A
  // point influxd parses but refuses (422) is the sink's to sort, by splitting the batch. Each line
  // goes alone into a bucket of its own, so no type stored by another line decides its fate.
  it('influxd parses every line the check accepts and refuses to parse every line it rejects', async () => {
    const verdicts: { line: string; checked: boolean; influxd: number; message?: string }[] = [];
    for (const [i, line] of [...ILP_ACCEPTED, ...ILP_REJECTED.map(([rejected]) => rejected)].entries()) {
      const own = `${bucket}_agree_${i}`;
      await createBucket(influx, own);
      const res = await rawWrite(line, own);
      verdicts.push({ line, checked: accepts(line), influxd: res.status, message: (res.body as { message?: string } | undefined)?.message });
    }
    const disagreements = verdicts.filter((v) => (v.influxd !== 400) !== v.checked);
    expect(disagreements).toEqual([]);
    // 422 only where the fixture says so: the lone `time` field.
    expect(verdicts.filter((v) => v.influxd === 422).map((v) => v.line)).toEqual(['m time=1']);
  });
});

function accepts(line: string): boolean {
  try {
    checkLine(line);
    return true;
  } catch {
    return false;
  }
}
