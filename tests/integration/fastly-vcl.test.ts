// The generated Fastly vcl_log snippet, run by falco: it must lint clean inside a service, and in
// falco's simulator every request — whatever its headers hold — must log one line of JSON (errors
// only) and one line-protocol point that parse back to the values sent.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASTLY_JSON_VALUE_MAX, FASTLY_TAG_VALUE_MAX, fastlyLogSnippet } from '../../generators/fastly-vcl.js';
import { fieldViews, logKeyOf } from '../../src/config/model.js';
import { normaliseTagValue, parseLine } from '../../src/ilp/line-protocol.js';
import { referenceKit } from './support/config.js';
import { falcoLint, startSimulator, type Simulator } from './support/falco.js';
import { HOSTILE_VALUES, type HostileValue } from './support/hostile.js';
import { startOrigin, type Origin } from './support/origin.js';

const config = referenceKit();
const views = fieldViews(config);
/** falco's stand-in for req.service_id. */
const SERVICE_ID = 'falco-virtual-service-id';
const LOGS_PREFIX = `syslog ${SERVICE_ID} ${config.cdn.fastly.logsEndpoint} :: `;
const METRICS_PREFIX = `syslog ${SERVICE_ID} ${config.cdn.fastly.metricsEndpoint} :: `;

/** The reference fields read from request headers: the hostile value goes into every one of them. */
const HEADER_FIELDS = config.fields.filter((f) => /^req\.http\./.test(f.fastly ?? ''));
const headerOf = (fastly: string) => fastly.replace(/^req\.http\./, '');

function serviceVcl(originPort: number): string {
  const template = readFileSync(fileURLToPath(new URL('./support/fastly-service.vcl', import.meta.url)), 'utf8');
  const decode = HEADER_FIELDS.map((f) => {
    const header = headerOf(f.fastly!);
    return `  if (req.http.X-Enc-${header}) { set req.http.${header} = urldecode(req.http.X-Enc-${header}); }`;
  }).join('\n');
  return template
    .replace('__ORIGIN_PORT__', String(originPort))
    .replace('__DECODE__', decode)
    .replace('__SNIPPET__', fastlyLogSnippet(config));
}

function requestHeaders(hostile: HostileValue): Record<string, string> {
  const headers: Record<string, string> = {};
  if (hostile.value === undefined) return headers;
  for (const field of HEADER_FIELDS) {
    const header = headerOf(field.fastly!);
    if (hostile.needsEncoding) headers[`X-Enc-${header}`] = encodeURIComponent(hostile.value);
    // Node writes header strings as latin1; this sends the value's UTF-8 bytes unchanged.
    else headers[header] = Buffer.from(hostile.value, 'utf8').toString('latin1');
  }
  return headers;
}

/** What reaches VCL: Fastly keeps a header set from VCL only up to the first line feed. */
function arrived(hostile: HostileValue): string | undefined {
  return hostile.needsEncoding ? hostile.value?.split('\n')[0] : hostile.value;
}

const firstChars = (text: string, n: number) => [...text].slice(0, n).join('');

/** The documented JSON treatment: cut, control characters other than LF CR TAB become spaces, empty is null. */
function expectedJson(value: string | undefined): string | null {
  if (!value) return null;
  return firstChars(value, FASTLY_JSON_VALUE_MAX).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' ');
}

function expectedTag(value: string | undefined): string {
  return normaliseTagValue(value === undefined ? undefined : firstChars(value, FASTLY_TAG_VALUE_MAX), config.metrics.missingTagValue);
}

describe('Fastly vcl_log snippet', () => {
  let dir: string;
  let origin: Origin;
  let simulator: Simulator;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cdnkit-fastly-'));
    origin = await startOrigin();
    writeFileSync(join(dir, 'main.vcl'), serviceVcl(origin.port));
    simulator = await startSimulator(join(dir, 'main.vcl'));
  });
  afterAll(async () => {
    simulator?.stop();
    await origin?.close();
  });

  it('falco lint accepts it with no errors and no warnings', async () => {
    const report = await falcoLint(join(dir, 'main.vcl'));
    expect(report.messages).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.warnings).toBe(0);
  });

  it('falco lint refuses a field whose expression is not of its declared type', async () => {
    const broken = referenceKit({
      fields: config.fields.map((f) => (f.name === 'elapsed_time' ? { ...f, fastly: 'time.elapsed.msec' } : f)),
    });
    const file = join(dir, 'broken.vcl');
    writeFileSync(file, serviceVcl(origin.port).replace(fastlyLogSnippet(config), fastlyLogSnippet(broken)));
    const report = await falcoLint(file);
    expect(report.errors).toBeGreaterThan(0);
    expect(report.messages.join('\n')).toMatch(/INTEGER/);
  });

  for (const hostile of HOSTILE_VALUES) {
    for (const status of [503, 200]) {
      it(`logs correct lines for a ${status} with ${hostile.name} in every header field`, async () => {
        const sentAt = Date.now();
        const { status: answered, logs } = await simulator.send(`/status/${status}`, requestHeaders(hostile));
        expect(answered).toBe(status);
        const value = arrived(hostile);

        const jsonLines = logs.filter((l) => l.startsWith(LOGS_PREFIX));
        const ilpLines = logs.filter((l) => l.startsWith(METRICS_PREFIX));
        expect(jsonLines.length + ilpLines.length).toBe(logs.length);
        expect(jsonLines).toHaveLength(status >= config.errors.minStatus ? 1 : 0);
        expect(ilpLines).toHaveLength(1);

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
