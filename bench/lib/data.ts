// The benchmark's lines, drawn from `cdnkit simulate` (one traffic generator in the project): the
// reference preset's `cdnmetrics` points and error-log JSON, seeded so every run writes the same
// traffic. Error logs come from the same model with its status mix limited to error statuses (a
// `simulate` hint on resp_status), so every request drawn for them is logged.
import { referenceConfig, referenceFields } from '../../src/config/preset.js';
import { kitConfigSchema, type KitConfig } from '../../src/config/schema.js';
import { EdgeLines } from '../../src/simulate/lines.js';
import type { SimRequest } from '../../src/simulate/model.js';
import { edgeTraffic, type EdgeRequest } from '../../src/simulate/run.js';

export const PROBE_API = 'bench-probe';

const METRICS_CONFIG = kitConfigSchema.parse(referenceConfig);
const ERRORS_CONFIG = kitConfigSchema.parse({
  ...referenceConfig,
  fields: referenceFields.map((f) =>
    f.name === 'resp_status' ? { ...f, simulate: { values: { 400: 10, 401: 5, 404: 50, 429: 5, 500: 15, 502: 5, 503: 10 } } } : f,
  ),
});
/** Simulated requests a second: 50 µs apart on average for metrics, as before; 2 ms for error logs. */
const METRICS_RPS = 20_000;
const ERRORS_RPS = 500;

function traffic(config: KitConfig, seed: number, startMs: number, requestsPerSecond: number, count: number): Generator<EdgeRequest, void, undefined> {
  return edgeTraffic({ config, seed, startMs, requestsPerSecond, count, format: 'blank' });
}

const withoutTimestamp = (line: string) => line.slice(0, line.lastIndexOf(' '));

/** `count` metric lines from `startNs` on, each with its own nanosecond timestamp. */
export function metricLines(seed: number, count: number, startNs: bigint): string[] {
  return Array.from(traffic(METRICS_CONFIG, seed, Number(startNs / 1_000_000n), METRICS_RPS, count), (q) => q.metric);
}

/** `count` error-log JSON lines, event times over the last minutes before `endMs`. */
export function logLines(seed: number, count: number, endMs: number): string[] {
  return Array.from(traffic(ERRORS_CONFIG, seed, endMs - (count * 1000) / ERRORS_RPS, ERRORS_RPS, count), (q) => q.log!);
}

/** Metric lines without their timestamp, for a sender that stamps them as it sends. */
export function metricHeads(seed: number, count: number): string[] {
  return metricLines(seed, count, 0n).map(withoutTimestamp);
}

/** Error-log JSON lines whose event time is `eventMs`. */
export function logDocuments(seed: number, count: number, eventMs: number): string[] {
  return Array.from(traffic(ERRORS_CONFIG, seed, eventMs, 1e9, count), (q) => q.log!);
}

/** Simulated requests made into probes: the API is PROBE_API and one field carries the probe's number. */
function probes(config: KitConfig, seed: number): (seq: number, nowMs: number, mark: Record<string, (seq: number) => string | number>) => SimRequest {
  const edge = traffic(config, seed, 0, 1000, Number.POSITIVE_INFINITY);
  const index = (name: string) => config.fields.findIndex((f) => f.name === name);
  return (seq, nowMs, mark) => {
    const { request } = edge.next().value as EdgeRequest;
    request.endUs = nowMs * 1000;
    request.values[index('api_name')] = PROBE_API;
    for (const [name, value] of Object.entries(mark)) request.values[index(name)] = value(seq);
    request.values[index('event_timestamp')] = `${new Date(nowMs).toISOString().slice(0, 19)}Z`;
    return request;
  };
}

/** Metric probes without a timestamp: api_name is PROBE_API and elapsed_time the probe's number. */
export function metricProbe(seed: number): (seq: number) => string {
  const probe = probes(METRICS_CONFIG, seed);
  const edge = new EdgeLines(METRICS_CONFIG);
  return (seq) => withoutTimestamp(edge.metricLine(probe(seq, 0, { elapsed_time: (n) => n })));
}

/** Error-log probes at `nowMs`: api_name is PROBE_API and request_url `/probe/<number>`. */
export function logProbe(seed: number): (seq: number, nowMs: number) => string {
  const probe = probes(ERRORS_CONFIG, seed);
  const edge = new EdgeLines(ERRORS_CONFIG);
  return (seq, nowMs) => edge.errorJson(probe(seq, nowMs, { request_url: (n) => `/probe/${n}` }))!;
}
