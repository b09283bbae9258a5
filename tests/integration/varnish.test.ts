// The generated Varnish files, run by the real varnishd and varnishncsa: hostile values in every
// header a VCL field of the reference config reads, in the URL and in the method, and every line
// that reaches the receivers must be JSON or line protocol carrying exactly what was sent, after
// the cuts cdnkit.vcl documents.
import { STATUS_CODES } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARNISH_STRING_MAX_BYTES, VARNISH_TAG_MAX_BYTES } from '../../generators/varnish.js';
import { fieldViews, kitValue, logKeyOf } from '../../src/config/model.js';
import type { Field, KitConfig } from '../../src/config/schema.js';
import { normaliseTagValue, parseLine, type IlpPoint } from '../../src/ilp/line-protocol.js';
import { spawnChild } from '../../src/local/process.js';
import { referenceKit } from './support/config.js';
import { HOSTILE_VALUES } from './support/hostile.js';
import { startLineReceiver, startVarnishEdge, type VarnishEdge } from './support/varnish-edge.js';
import { eventually } from './support/wait.js';

// ---------------------------------------------------------------------------------------------
// What cdnkit.vcl and varnishncsa do to a value, written independently of the VCL's regexes.

/** Bytes that start a UTF-8 sequence of this length (0: never a first byte). */
function sequenceLength(byte: number): number {
  if (byte < 0x80) return 1;
  if (byte >= 0xc2 && byte <= 0xdf) return 2;
  if (byte >= 0xe0 && byte <= 0xef) return 3;
  if (byte >= 0xf0 && byte <= 0xf4) return 4;
  return 0;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function decodes(bytes: Buffer): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A cut at `max` bytes, then an incomplete sequence at the end dropped, other invalid bytes as "?". */
function cutToUtf8(bytes: Buffer, max: number): string {
  let cut = bytes.subarray(0, max);
  // The last lead byte among the last three, if only continuation bytes follow it.
  for (let back = 1; back <= Math.min(3, cut.length); back++) {
    const byte = cut[cut.length - back]!;
    if (byte >= 0x80 && byte < 0xc0) continue;
    const wanted = byte >= 0xf0 && byte <= 0xf7 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    if (wanted > back) cut = cut.subarray(0, cut.length - back);
    break;
  }
  const out: number[] = [];
  for (let i = 0; i < cut.length; ) {
    const length = sequenceLength(cut[i]!);
    const sequence = cut.subarray(i, i + length);
    if (length > 0 && sequence.length === length && decodes(sequence)) {
      out.push(...sequence);
      i += length;
    } else {
      out.push(0x3f);
      i += 1;
    }
  }
  return Buffer.from(out).toString('utf8');
}

/** A JSON string value: varnishncsa trims white space around it (after the VCL made \v a space). */
const expectedJsonString = (value: Buffer | undefined) =>
  cutToUtf8(value ?? Buffer.alloc(0), VARNISH_STRING_MAX_BYTES)
    .replace(/\v/g, ' ')
    .replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');

const expectedTag = (value: Buffer | undefined, config: KitConfig) =>
  normaliseTagValue(value === undefined ? undefined : cutToUtf8(value, VARNISH_TAG_MAX_BYTES), config.metrics.missingTagValue);

// ---------------------------------------------------------------------------------------------
// Requests

interface Exchange {
  label: string;
  method: string;
  /** Request target bytes, as sent. */
  url: string;
  /** Header name (lower case) -> raw value bytes; absent = not sent. */
  headers: Map<string, Buffer>;
  /** What varnishd must answer. */
  status: number;
  /** varnishd refuses the request before any VCL runs (it logs it as HttpGarbage). */
  garbage: boolean;
}

/** Headers the reference config's VCL fields read, e.g. API-Name for req.http.API-Name. */
function vclHeaders(config: KitConfig): string[] {
  const names = config.fields.flatMap((field) => {
    const expression = vclExpression(field);
    const header = expression && /^req\.http\.([A-Za-z0-9-]+)$/.exec(expression);
    return header ? [header[1]!] : [];
  });
  return [...new Set(names)];
}

function vclExpression(field: Field): string | undefined {
  const varnish = field.varnish;
  if (typeof varnish === 'string') return varnish;
  return varnish && 'vcl' in varnish ? varnish.vcl : undefined;
}

function requestBytes(exchange: Exchange): Buffer {
  const head = Buffer.from(`${exchange.method} ${exchange.url} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n`, 'utf8');
  const headers = [...exchange.headers].map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `), value, Buffer.from('\r\n')]));
  return Buffer.concat([head, ...headers, Buffer.from('\r\n')]);
}

/** Varnish trims spaces and tabs around a header value, as HTTP says. */
const asVarnishSees = (value: Buffer) => Buffer.from(value.toString('latin1').replace(/^[ \t]+|[ \t]+$/g, ''), 'latin1');

/** Control bytes other than tab: varnishd answers 400 before any VCL runs. */
const REFUSED_IN_HEADERS = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function exchanges(config: KitConfig): Exchange[] {
  const headers = vclHeaders(config);
  // Errors, so that every value is checked in both streams; a success case comes at the end.
  const statuses = [404, 500, 503];
  const list: Exchange[] = [];
  /** The origin answers /status/<code>/…; `answer` is the status when something else answers. */
  const add = (
    label: string,
    values: Map<string, Buffer>,
    extra: { code?: number; tail?: string; method?: string; answer?: number; garbage?: boolean } = {},
  ) => {
    const code = extra.code ?? statuses[list.length % statuses.length]!;
    const url = `/status/${code}/${extra.tail ?? `case-${list.length}`}`;
    list.push({ label, method: extra.method ?? 'GET', url, headers: values, status: extra.answer ?? code, garbage: extra.garbage ?? false });
  };
  const everywhere = (value: Buffer) => new Map(headers.map((h) => [h.toLowerCase(), value]));

  const bytesCases = [
    ...HOSTILE_VALUES.map((h) => ({ name: h.name, value: h.value === undefined ? undefined : Buffer.from(h.value, 'utf8') })),
    // Bytes a string cannot hold, and a cut that lands inside a three-byte character.
    { name: 'invalid UTF-8 inside', value: Buffer.from([0x63, 0xe9, 0x74, 0xe9, 0x20, 0xff, 0x21]) },
    { name: 'invalid UTF-8 at the end', value: Buffer.from([0x63, 0x61, 0x66, 0xe9]) },
    { name: 'long, cut inside a character', value: Buffer.from(`a${'€'.repeat(3413)}`, 'utf8') },
    { name: 'padded', value: Buffer.from('  padded  ') },
  ];
  for (const { name, value } of bytesCases) {
    // A line break cannot be sent inside a header at all (it ends the header), and Varnish has no
    // URL decoder to bring one in through the path: the VCL's handling of it is not reachable.
    if (value && /[\r\n]/.test(value.toString('latin1'))) continue;
    const refused = value !== undefined && REFUSED_IN_HEADERS.test(value.toString('latin1'));
    if (value === undefined) add(name, new Map());
    // Long values go into one header at a time: all of them at once exceed http_req_size.
    else if (value.length > 2048) headers.forEach((h) => add(`${name} in ${h}`, new Map([[h.toLowerCase(), value]])));
    else add(name, everywhere(value), refused ? { answer: 400, garbage: true } : {});
  }

  // The URL: JSON's and ILP's special characters (no space: it ends the request target), a
  // percent-encoded line break (which stays encoded: req.url is not decoded), and a long one.
  add('hostile URL', new Map(), { tail: 'a"b\\c,d=e%0Af%22?q="x",y=\\' });
  add('long URL', new Map(), { tail: 'u'.repeat(10_240) });
  // varnishd passes UTF-8 in the URL on; the node origin answers 400 to it.
  add('non-ASCII URL', new Map(), { tail: 'ünï€😀', answer: 400 });
  // A method the example VCL refuses: the response comes from vcl_synth.
  add('synthetic 405', everywhere(Buffer.from('synth "value"')), { method: 'BREW', answer: 405 });
  // Below errors.minStatus: a metric, and no error log.
  add('success', everywhere(Buffer.from('say "hi", a=b')), { code: 200 });
  return list;
}

/** The value of a VCL expression of the reference config for an exchange. */
function evaluate(expression: string, exchange: Exchange, edge: VarnishEdge): Buffer | undefined {
  const header = /^req\.http\.([A-Za-z0-9-]+)$/.exec(expression);
  if (header) {
    const sent = exchange.headers.get(header[1]!.toLowerCase());
    return sent && asVarnishSees(sent);
  }
  const known: Record<string, string> = {
    'req.url': exchange.url,
    'req.method': exchange.method,
    'client.ip': '127.0.0.1',
    'resp.status': String(exchange.status),
    'resp.reason': STATUS_CODES[exchange.status]!,
    'server.hostname': hostname(),
    'server.identity': edge.identity,
  };
  const value = known[expression];
  if (value === undefined) throw new Error(`this test does not know the value of ${expression}; teach evaluate()`);
  return Buffer.from(value, 'utf8');
}

// ---------------------------------------------------------------------------------------------
// Checks of one line

function checkJson(line: Buffer, exchange: Exchange, config: KitConfig, edge: VarnishEdge): void {
  expect(decodes(line), 'the JSON line is valid UTF-8').toBe(true);
  const doc = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
  const fields = fieldViews(config).log;
  expect(Object.keys(doc)).toEqual(fields.map(logKeyOf));
  for (const field of fields) {
    const key = logKeyOf(field);
    const value = doc[key];
    const constant = kitValue(field, config);
    const expression = vclExpression(field);
    if (constant !== undefined) expect(value, key).toBe(constant);
    else if (expression !== undefined) {
      const source = evaluate(expression, exchange, edge);
      if (field.type === 'integer') expect(value, key).toBe(Number(source!.toString()));
      else expect(value, key).toBe(expectedJsonString(source));
    } else if (field.type === 'integer' || field.type === 'float') {
      expect(typeof value, key).toBe('number');
      if (field.type === 'integer') expect(Number.isInteger(value), key).toBe(true);
    } else if (field.type === 'timestamp') {
      expect(value, key).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(value as string) - Date.now()), `${key} is about now`).toBeLessThan(10_000);
    } else expect(typeof value, key).toBe('string');
  }
}

const ILP_TYPES = { integer: 'integer', float: 'float', boolean: 'boolean', string: 'string', ip: 'string', timestamp: 'string' } as const;

function checkIlp(line: Buffer, exchange: Exchange, config: KitConfig, edge: VarnishEdge): IlpPoint {
  expect(decodes(line), 'the ILP line is valid UTF-8').toBe(true);
  const text = line.toString('utf8');
  let point: IlpPoint;
  try {
    point = parseLine(text);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${text.slice(0, 600)}`);
  }
  const views = fieldViews(config);
  expect(point.measurement).toBe(config.metrics.measurement);
  const expectedTags: Record<string, unknown> = {};
  for (const field of views.tags) {
    const constant = kitValue(field, config);
    const expression = vclExpression(field);
    expectedTags[field.name] =
      constant ?? (expression !== undefined ? expectedTag(evaluate(expression, exchange, edge), config) : expect.stringMatching(/^[A-Za-z0-9_.-]+$/));
  }
  expect(point.tags).toEqual(expectedTags);
  expect(Object.keys(point.fields)).toEqual(views.metricFields.map((f) => f.name));
  for (const field of views.metricFields) expect(point.fields[field.name]!.type, field.name).toBe(ILP_TYPES[field.type]);
  const ageMs = Date.now() - Number(point.timestamp! / 1_000_000n);
  expect(ageMs, 'the timestamp is nanoseconds, about now').toBeGreaterThan(-1000);
  expect(ageMs).toBeLessThan(10_000);
  return point;
}

// ---------------------------------------------------------------------------------------------

describe('Varnish edge: cdnkit.vcl, the varnishncsa formats and the script, on varnishd', () => {
  const config = referenceKit();
  let edge: VarnishEdge;
  beforeAll(async () => {
    edge = await startVarnishEdge(config);
  });
  afterAll(async () => edge?.stop());

  it('ships one JSON line per error and one ILP line per request, exact and valid, whatever the headers hold', async () => {
    const sent = exchanges(config);
    const logged = sent.filter((e) => !e.garbage);
    let ilp = 0;
    let json = 0;
    for (const exchange of sent) {
      const status = await edge.send(requestBytes(exchange));
      expect(status, exchange.label).toBe(exchange.status);
      // varnishncsa -j skips requests varnishd refused as garbage: they are in neither stream.
      if (exchange.garbage) continue;
      ilp += 1;
      if (exchange.status >= config.errors.minStatus) json += 1;
      await eventually(`the lines of "${exchange.label}"`, () => edge.metrics.lines.length >= ilp && edge.logs.lines.length >= json, 10_000, edge.output);
      const point = checkIlp(edge.metrics.lines[ilp - 1]!, exchange, config, edge);
      expect(point.tags.resp_status, exchange.label).toBe(String(exchange.status));
      if (exchange.status >= config.errors.minStatus) checkJson(edge.logs.lines[json - 1]!, exchange, config, edge);
    }
    // Nothing more arrives: exactly one ILP line per request, JSON only for errors.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(edge.metrics.lines).toHaveLength(logged.length);
    expect(edge.logs.lines).toHaveLength(logged.filter((e) => e.status >= config.errors.minStatus).length);
  });

  it('the script exits non-zero when the receiver cannot be reached, so a supervisor restarts it', async () => {
    const closed = await startLineReceiver();
    await closed.close();
    const script = join(edge.dir, 'varnish', 'cdnkit-varnishncsa.sh');
    const child = spawnChild(script, ['metrics'], { env: { ...process.env, CDNKIT_METRICS_PORT: String(closed.port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain('cannot connect');
  });
});

// Numbers from VCL are checked by the VCL: a valid one is a JSON number and an ILP field of its
// type; anything else is null in the JSON and absent from the ILP line. With no field from
// varnishncsa, a request without any valid number has no ILP line at all (a point needs a field).
describe.each([
  { title: 'only VCL numbers as ILP fields', noteIsField: false },
  { title: 'VCL numbers after a VCL string field', noteIsField: true },
])('Varnish edge, typed VCL fields: $title', ({ noteIsField }) => {
  const config = referenceKit({
    product: 'typed',
    cdn: { flavours: ['varnish'] },
    fields: [
      { name: 'product', roles: ['tag'], kit: 'product' },
      { name: 'status', roles: ['tag'], varnish: { ncsa: '%s' } },
      { name: 'count', type: 'integer', roles: ['log', 'field'], varnish: 'req.http.X-Count' },
      { name: 'ratio', type: 'float', roles: ['log', 'field'], varnish: { vcl: 'req.http.X-Ratio' } },
      { name: 'cached', type: 'boolean', roles: ['log', 'field'], varnish: 'req.http.X-Cached' },
      { name: 'note', roles: noteIsField ? ['log', 'field'] : ['log'], varnish: 'req.http.X-Note' },
    ],
  });
  type Values = [count: string | undefined, ratio: string | undefined, cached: string | undefined];
  type Parsed = [count: bigint | null, ratio: number | null, cached: boolean | null];
  const cases: Array<[Values, Parsed]> = [
    [['42', '0.25', 'true'], [42n, 0.25, true]],
    [['-7', '-1.5e3', 'false'], [-7n, -1500, false]],
    [['0', '0', 'true'], [0n, 0, true]],
    [['007', '1.', 'yes'], [null, null, null]],
    [['12abc', 'NaN', 'TRUE'], [null, null, null]],
    [['99999999999999999999', '1e999', ''], [null, null, null]],
    [['1 2', 'x'.repeat(10_000), undefined], [null, null, null]],
    [[undefined, '3.5', undefined], [null, 3.5, null]],
    [[undefined, undefined, undefined], [null, null, null]],
  ];
  let edge: VarnishEdge;
  beforeAll(async () => {
    edge = await startVarnishEdge(config, ['X-Count: 1']);
  });
  afterAll(async () => edge?.stop());

  it('logs valid numbers as numbers and leaves invalid ones out, never breaking a line', async () => {
    const note = 'a "note",\tb=c \\ ü';
    let ilp = 0;
    for (const [i, [values, parsed]] of cases.entries()) {
      const headers = [`X-Note: ${note}`, ...['X-Count', 'X-Ratio', 'X-Cached'].flatMap((h, k) => (values[k] === undefined ? [] : [`${h}: ${values[k]}`]))];
      const request = `GET /status/500/typed-${i} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
      expect(await edge.send(Buffer.from(request, 'utf8'))).toBe(500);
      const shipsPoint = noteIsField || parsed.some((p) => p !== null);
      if (shipsPoint) ilp += 1;
      await eventually(`the lines of case ${i}`, () => edge.logs.lines.length > i && edge.metrics.lines.length >= ilp, 10_000, edge.output);

      const doc = JSON.parse(edge.logs.lines[i]!.toString('utf8')) as Record<string, unknown>;
      expect(doc).toEqual({ count: parsed[0] === null ? null : Number(parsed[0]), ratio: parsed[1], cached: parsed[2], note });
      if (!shipsPoint) continue;
      const point = parseLine(edge.metrics.lines[ilp - 1]!.toString('utf8'));
      expect(point.tags).toEqual({ product: 'typed', status: '500' });
      const fields: IlpPoint['fields'] = {};
      if (noteIsField) fields.note = { type: 'string', value: note.replace('\t', ' ') };
      if (parsed[0] !== null) fields.count = { type: 'integer', value: parsed[0] };
      if (parsed[1] !== null) fields.ratio = { type: 'float', value: parsed[1] };
      if (parsed[2] !== null) fields.cached = { type: 'boolean', value: parsed[2] };
      expect(point.fields, `case ${i}`).toEqual(fields);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(edge.metrics.lines).toHaveLength(ilp);
  });
});

// The ILP timestamp's last three digits are the request's vxid mod 1000 (varnishd sends the vxid in
// X-Varnish): a burst of simultaneous requests of one series gives as many points as requests.
describe('Varnish edge: request counts', () => {
  const config = referenceKit();
  let edge: VarnishEdge;
  beforeAll(async () => {
    edge = await startVarnishEdge(config);
  });
  afterAll(async () => edge?.stop());

  it('gives every point of a burst with identical tags its own timestamp: microseconds, then the vxid mod 1000', async () => {
    // A POST is passed: every request of the burst is handled alike (a GET would be a miss, then hits).
    const request = Buffer.from(
      'POST /status/200/burst HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\nContent-Length: 0\r\nAPI-Name: orders\r\nX-Region: eu\r\n\r\n',
    );
    const responses = await Promise.all(Array.from({ length: 60 }, () => edge.exchange(request)));
    const vxids = responses.map((r) => {
      expect(r.status).toBe(200);
      return BigInt(/^X-Varnish: (\d+)/im.exec(r.head)![1]!);
    });
    await eventually('a point per request', () => edge.metrics.lines.length >= responses.length, 10_000, edge.output);
    const points = edge.metrics.lines.map((line) => parseLine(line.toString('utf8')));
    expect(points).toHaveLength(responses.length);
    expect(new Set(points.map((p) => JSON.stringify(p.tags))).size).toBe(1);
    const timestamps = points.map((p) => p.timestamp!);
    expect(new Set(timestamps).size).toBe(points.length);
    expect(timestamps.map((t) => t % 1000n).sort()).toEqual(vxids.map((v) => v % 1000n).sort());
  });
});

// A client's X-Cdnkit-Logged header once told cdnkit_log the request was already logged, unless
// cdnkit.vcl's own vcl_recv had cleared it first: a user VCL whose vcl_recv returns before the
// include's ran let a client switch its own logging off.
describe.each([
  { order: 'the include first, as example.vcl has it', rewrite: (example: string) => example },
  {
    order: 'the include last, after a vcl_recv that returns',
    rewrite: (example: string) => {
      const include = 'include "./cdnkit.vcl";\n';
      expect(example).toContain(include);
      const returning = example.replace(include, '').replace(/(\nsub vcl_recv \{\n[\s\S]*?\n)\}\n/, '$1    return (hash);\n}\n');
      expect(returning).toContain('return (hash);');
      return `${returning}\n${include}`;
    },
  },
])('Varnish edge, $order', ({ rewrite }) => {
  const config = referenceKit();
  let edge: VarnishEdge;
  beforeAll(async () => {
    edge = await startVarnishEdge(config, [], rewrite);
  });
  afterAll(async () => edge?.stop());

  it('logs a request that carries X-Cdnkit-Logged like any other', async () => {
    const request = 'GET /status/503/forged HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\nX-Cdnkit-Logged: 1\r\nAPI-Name: forged\r\n\r\n';
    expect(await edge.send(Buffer.from(request))).toBe(503);
    await eventually('the lines of the request', () => edge.metrics.lines.length >= 1 && edge.logs.lines.length >= 1, 10_000, edge.output);
    expect(parseLine(edge.metrics.lines[0]!.toString('utf8')).tags).toMatchObject({ api_name: 'forged', resp_status: '503' });
    expect(JSON.parse(edge.logs.lines[0]!.toString('utf8'))).toMatchObject({ api_name: 'forged', resp_status: 503 });
  });
});

// Without a guard, cdnkit_log runs again in vcl_synth when vcl_deliver returns synth after it:
// the request still makes one line per stream, with the values it was first delivered with.
describe('Varnish edge, vcl_synth after vcl_deliver', () => {
  const config = referenceKit();
  let edge: VarnishEdge;
  beforeAll(async () => {
    edge = await startVarnishEdge(config, [], (example) => {
      const deliver = 'sub vcl_deliver {\n    call cdnkit_log;\n';
      expect(example).toContain(deliver);
      return example.replace(deliver, `${deliver}    if (req.http.X-Replace) {\n        set req.http.API-Name = "replaced";\n        return (synth(599));\n    }\n`);
    });
  });
  afterAll(async () => edge?.stop());

  it('logs the request once, as first delivered', async () => {
    const request = 'GET /status/503/replaced HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\nX-Replace: 1\r\nAPI-Name: first\r\n\r\n';
    expect(await edge.send(Buffer.from(request))).toBe(599);
    await eventually('the lines of the request', () => edge.metrics.lines.length >= 1 && edge.logs.lines.length >= 1, 10_000, edge.output);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(edge.metrics.lines).toHaveLength(1);
    expect(edge.logs.lines).toHaveLength(1);
    expect(parseLine(edge.metrics.lines[0]!.toString('utf8')).tags).toMatchObject({ api_name: 'first', resp_status: '503' });
    expect(JSON.parse(edge.logs.lines[0]!.toString('utf8'))).toMatchObject({ api_name: 'first', resp_status: 503 });
  });
});
