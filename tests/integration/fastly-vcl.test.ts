// The generated Fastly vcl_log snippet, run by falco: it must lint clean inside a service, and in
// falco's simulator every request — whatever its headers hold — must log one line of JSON (errors
// only) and one line-protocol point that parse back to the values sent.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASTLY_LOG_LINE_MAX_BYTES, FASTLY_TAG_VALUE_MAX, fastlyLogSnippet, fastlyStringCuts } from '../../generators/fastly-vcl.js';
import { fieldViews, logKeyOf } from '../../src/config/model.js';
import { normaliseTagValue, parseLine } from '../../src/ilp/line-protocol.js';
import { referenceKit } from './support/config.js';
import { falcoLint } from './support/falco.js';
import { FALCO_SERVICE_ID, hostileHeaders, requestHeaderFields, serviceVcl, startFastlyEdge, type FastlyEdge } from './support/fastly-edge.js';
import { HOSTILE_VALUES, type HostileValue } from './support/hostile.js';
import { scratchDir } from '../support/scratch.js';

const config = referenceKit();
const views = fieldViews(config);
const LOGS_PREFIX = `syslog ${FALCO_SERVICE_ID} ${config.cdn.fastly.logsEndpoint} :: `;
const METRICS_PREFIX = `syslog ${FALCO_SERVICE_ID} ${config.cdn.fastly.metricsEndpoint} :: `;
const HEADER_FIELDS = requestHeaderFields(config);

/** What reaches VCL: Fastly keeps a header set from VCL only up to the first line feed. */
function arrived(hostile: HostileValue): string | undefined {
  return hostile.needsEncoding ? hostile.value?.split('\n')[0] : hostile.value;
}

const firstChars = (text: string, n: number) => [...text].slice(0, n).join('');

/** The documented JSON treatment: cut, control characters other than LF CR TAB become spaces, empty is null. */
function expectedJson(value: string | undefined): string | null {
  if (!value) return null;
  return firstChars(value, fastlyStringCuts(config).json).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' ');
}

function expectedTag(value: string | undefined): string {
  return normaliseTagValue(value === undefined ? undefined : firstChars(value, FASTLY_TAG_VALUE_MAX), config.metrics.missingTagValue);
}

describe('Fastly vcl_log snippet', () => {
  let edge: FastlyEdge;

  beforeAll(async () => {
    edge = await startFastlyEdge(config);
  });
  afterAll(async () => {
    await edge?.stop();
  });

  it('falco lint accepts it with no errors and no warnings', async () => {
    const report = await falcoLint(edge.vclFile);
    expect(report.messages).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.warnings).toBe(0);
  });

  it('falco lint refuses a field whose expression is not of its declared type', async () => {
    const broken = referenceKit({
      fields: config.fields.map((f) => (f.name === 'elapsed_time' ? { ...f, fastly: 'time.elapsed.msec' } : f)),
    });
    const file = join(scratchDir('cdnkit-fastly-broken-'), 'main.vcl');
    writeFileSync(file, serviceVcl(broken, 8080));
    const report = await falcoLint(file);
    expect(report.errors).toBeGreaterThan(0);
    expect(report.messages.join('\n')).toMatch(/INTEGER/);
  });

  for (const hostile of HOSTILE_VALUES) {
    for (const status of [503, 200]) {
      it(`logs correct lines for a ${status} with ${hostile.name} in every header field`, async () => {
        const sentAt = Date.now();
        const { status: answered, logs } = await edge.send(`/status/${status}`, hostileHeaders(config, hostile));
        expect(answered).toBe(status);
        const value = arrived(hostile);

        const jsonLines = logs.filter((l) => l.startsWith(LOGS_PREFIX));
        const ilpLines = logs.filter((l) => l.startsWith(METRICS_PREFIX));
        expect(jsonLines.length + ilpLines.length).toBe(logs.length);
        expect(jsonLines).toHaveLength(status >= config.errors.minStatus ? 1 : 0);
        expect(ilpLines).toHaveLength(1);
        // The point first: nothing in building the JSON can cost the request its point.
        expect(logs[0]).toBe(ilpLines[0]);

        if (jsonLines.length === 1) {
          const doc = JSON.parse(jsonLines[0]!.slice(LOGS_PREFIX.length)) as Record<string, unknown>;
          expect(Object.keys(doc)).toEqual(views.log.map(logKeyOf));
          for (const field of HEADER_FIELDS.filter((f) => f.roles.includes('log'))) {
            expect(doc[logKeyOf(field)], logKeyOf(field)).toBe(expectedJson(value));
          }
          expect(doc.product).toBe('api');
          expect(doc.resp_status).toBe(status);
          for (const field of views.log.filter((f) => f.type === 'integer')) expect(Number.isInteger(doc[logKeyOf(field)]), field.name).toBe(true);
          expect(doc.event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        }

        const point = parseLine(ilpLines[0]!.slice(METRICS_PREFIX.length));
        expect(point.measurement).toBe('cdnmetrics');
        expect(Object.keys(point.tags)).toEqual(views.tags.map((f) => f.name));
        for (const field of HEADER_FIELDS.filter((f) => f.roles.includes('tag'))) {
          expect(point.tags[field.name], field.name).toBe(expectedTag(value));
        }
        expect(point.tags).toMatchObject({ product: 'api', environment: 'prod', resp_status: String(status) });
        expect(point.fields.elapsed_time?.type).toBe('integer');
        expect(point.fields.time_to_first_byte?.type).toBe('float');
        const millis = Number(point.timestamp! / 1_000_000n);
        expect(Math.abs(millis - sentAt)).toBeLessThan(60_000);
      });
    }
  }
});

describe('Fastly vcl_log snippet: request counts', () => {
  let edge: FastlyEdge;
  beforeAll(async () => {
    edge = await startFastlyEdge(config);
  });
  afterAll(async () => {
    await edge?.stop();
  });

  it('gives every point of a burst with identical tags its own timestamp, the last three digits a per-request discriminator', async () => {
    const headers = { 'API-Name': 'orders', 'Request-Backend': 'origin', 'Actual-Backend-Name': 'origin' };
    const points = [];
    for (let i = 0; i < 40; i++) {
      const { logs } = await edge.send('/status/200', headers);
      const ilp = logs.filter((l) => l.startsWith(METRICS_PREFIX));
      expect(ilp).toHaveLength(1);
      points.push(parseLine(ilp[0]!.slice(METRICS_PREFIX.length)));
    }
    expect(new Set(points.map((p) => JSON.stringify(p.tags))).size).toBe(1);
    const timestamps = points.map((p) => p.timestamp!);
    expect(new Set(timestamps).size).toBe(points.length);
    // falco answers one request at a time, so its microseconds differ anyway: the digits below them
    // must carry the discriminator, not "000" (40 draws of a hash mod 1000 are never all equal).
    const discriminators = timestamps.map((t) => t % 1000n);
    expect(new Set(discriminators).size).toBeGreaterThan(1);
  });
});

// falco 1.21.1 cannot run a second visit: fastly.ff.visits_this_service is fixed at 0 in vcl_log
// (1 in vcl_miss/hit/fetch), whatever Fastly-FF says, and neither testing.inject_variable nor
// `-o` overrides reach it. So the test runs the generated snippet with that variable read from a
// request header instead, and falco then runs both visits of the very same VCL.
describe('Fastly vcl_log snippet with shielding', () => {
  const VISITS = 'fastly.ff.visits_this_service';
  let edge: FastlyEdge;
  beforeAll(async () => {
    const snippet = fastlyLogSnippet(config);
    expect(snippet.split(VISITS)).toHaveLength(2);
    edge = await startFastlyEdge(config, snippet.replace(VISITS, 'std.atoi(req.http.X-Test-Visits-This-Service)'));
  });
  afterAll(async () => {
    await edge?.stop();
  });

  it('logs a request on its first Fastly server only, so a shield does not count a miss twice', async () => {
    const edgePop = await edge.send('/status/503', { 'X-Test-Visits-This-Service': '0' });
    expect(edgePop.logs.filter((l) => l.startsWith(METRICS_PREFIX))).toHaveLength(1);
    expect(edgePop.logs.filter((l) => l.startsWith(LOGS_PREFIX))).toHaveLength(1);
    const shield = await edge.send('/status/503', { 'X-Test-Visits-This-Service': '1' });
    expect(shield.status).toBe(503);
    expect(shield.logs).toEqual([]);
  });
});

// The worst case the cuts are made for: many string fields, each full of four-byte characters.
describe('Fastly vcl_log snippet with many string fields', () => {
  const many = referenceKit({
    fields: [
      { name: 'elapsed_time', type: 'integer', roles: ['field'], fastly: 'std.atoi(time.elapsed.msec)' },
      ...Array.from({ length: 60 }, (_, i) => ({ name: `header_${i}`, roles: ['log' as const], fastly: `req.http.H${i}` })),
    ],
  });
  const cut = fastlyStringCuts(many).json;
  let edge: FastlyEdge;
  beforeAll(async () => {
    edge = await startFastlyEdge(many);
  });
  afterAll(async () => {
    await edge?.stop();
  });

  it('cuts every value so that the longest possible line still fits a Fastly log line', async () => {
    // Sixty values share the line: its room, not the 1024-character maximum, sets their cut.
    expect(cut).toBeLessThan(100);
    const emoji = '\u{1F600}'.repeat(cut + 10);
    const { logs } = await edge.send('/status/503', hostileHeaders(many, { name: 'emoji', value: emoji, needsEncoding: false }));
    const json = logs.filter((l) => l.startsWith(LOGS_PREFIX));
    expect(json).toHaveLength(1);
    const doc = JSON.parse(json[0]!.slice(LOGS_PREFIX.length)) as Record<string, string>;
    for (let i = 0; i < 60; i++) expect(doc[`header_${i}`]).toBe('\u{1F600}'.repeat(cut));
    expect(Buffer.byteLength(json[0]!, 'utf8')).toBeLessThanOrEqual(FASTLY_LOG_LINE_MAX_BYTES);
  });
});
