// Realistic reference lines for the benchmark, from a seeded generator so every run writes the same
// traffic: `cdnmetrics` points with the reference preset's ten tags (a handful of POPs, APIs,
// statuses and cache states: moderate series cardinality) and its two fields, and error-log JSON
// documents with the preset's log fields.

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
function weighted<T>(r: Rand, items: readonly (readonly [T, number])[]): T {
  let x = r() * items.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of items) if ((x -= w) < 0) return v;
  return items[items.length - 1]![0];
}

const POPS = [
  ['IAD', 'US-East'],
  ['ORD', 'US-Central'],
  ['DFW', 'US-Central'],
  ['LAX', 'US-West'],
  ['SEA', 'US-West'],
  ['LHR', 'Europe'],
  ['FRA', 'Europe'],
  ['NRT', 'Asia'],
] as const;
const APIS = ['catalog', 'cart', 'checkout', 'search', 'users', 'inventory'] as const;
const STATUSES = [
  [200, 85],
  [304, 5],
  [404, 5],
  [500, 3],
  [503, 2],
] as const;
const ERROR_STATUSES = [
  [400, 10, 'Bad Request'],
  [401, 5, 'Unauthorized'],
  [404, 50, 'Not Found'],
  [429, 5, 'Too Many Requests'],
  [500, 15, 'Internal Server Error'],
  [502, 5, 'Bad Gateway'],
  [503, 10, 'Service Unavailable'],
] as const;
const CACHE = [
  ['HIT', 60, 'HIT-CLUSTER'],
  ['MISS', 30, 'MISS-CLUSTER'],
  ['PASS', 10, 'PASS'],
] as const;

export const PROBE_API = 'bench-probe';

interface Request {
  pop: string;
  region: string;
  api: string;
  requestBackend: string;
  actualBackend: string;
  status: number;
  message: string;
  cache: string;
  infoState: string;
  elapsedMs: number;
  ttfb: number;
}

function request(r: Rand, errorsOnly: boolean): Request {
  const [pop, region] = pick(r, POPS);
  const api = pick(r, APIS);
  const requestBackend = `${api}-origin`;
  const actualBackend = r() < 0.05 ? 'fallback-origin' : requestBackend;
  const [status, message] = errorsOnly
    ? (() => {
        const [s, , m] = weighted(
          r,
          ERROR_STATUSES.map((e) => [e, e[1]] as const),
        );
        return [s, m] as const;
      })()
    : [weighted(r, STATUSES), ''];
  const [cache, , infoState] = weighted(
    r,
    CACHE.map((c) => [c, c[1]] as const),
  );
  const elapsedMs = Math.max(1, Math.round(Math.exp(r() * 6))); // 1 ms .. ~400 ms, long tail
  const ttfb = Math.round(elapsedMs * (0.3 + r() * 0.6)) / 1000 + Math.round(r() * 1000) / 1e6;
  return { pop, region, api, requestBackend, actualBackend, status, message, cache, infoState, elapsedMs, ttfb };
}

/** A `cdnmetrics` line without its timestamp: measurement, the ten tags, the two fields. */
export function metricHead(r: Rand, api?: string, elapsedMs?: number): string {
  const q = request(r, false);
  return (
    `cdnmetrics,product=api,environment=prod,cache_status=${q.cache},resp_status=${q.status},api_name=${api ?? q.api}` +
    `,request_backend=${q.requestBackend},actual_backend=${q.actualBackend},info_state=${q.infoState},pop=${q.pop},region=${q.region}` +
    ` elapsed_time=${elapsedMs ?? q.elapsedMs}i,time_to_first_byte=${q.ttfb}`
  );
}

/** `count` metric lines with strictly increasing, distinct nanosecond timestamps from `startNs`. */
export function metricLines(seed: number, count: number, startNs: bigint, spacingNs = 50_000): string[] {
  const r = rng(seed);
  const lines = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const ts = startNs + BigInt(i * spacingNs + Math.floor(r() * spacingNs));
    lines[i] = `${metricHead(r)} ${ts}`;
  }
  return lines;
}

function ipv4(r: Rand, first?: number): string {
  return [first ?? 1 + Math.floor(r() * 223), Math.floor(r() * 256), Math.floor(r() * 256), 1 + Math.floor(r() * 254)].join('.');
}

/** An error log document (as the VCL emits it) with the reference preset's log fields. */
export function logDocument(r: Rand, eventTime: Date, probe?: number): Record<string, unknown> {
  const q = request(r, true);
  const method = r() < 0.8 ? 'GET' : pick(r, ['POST', 'PUT', 'DELETE'] as const);
  const id = Math.floor(r() * 1e6);
  return {
    product: 'api',
    'x-api-id': `${q.api}-${(Math.floor(r() * 0xffffffff) >>> 0).toString(16).padStart(8, '0')}`,
    api_name: probe === undefined ? q.api : PROBE_API,
    request_url: probe === undefined ? `/v1/${q.api}/items/${id}?locale=en-US&page=${Math.floor(r() * 20)}` : `/probe/${probe}`,
    req_body_read: method === 'GET' ? 0 : Math.floor(r() * 4000),
    resp_body_written: Math.floor(r() * 20_000),
    request_backend: q.requestBackend,
    actual_backend_name: q.actualBackend,
    actual_backend_ip: ipv4(r, 10),
    client_ip: ipv4(r),
    event_timestamp: eventTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    method,
    resp_status: q.status,
    resp_message: q.message,
    cache_status: q.cache,
    elapsed_time: q.elapsedMs,
    fastly_info_state: q.infoState,
    fastly_pop: q.pop,
    fastly_region: q.region,
    fastly_server: `cache-${q.pop.toLowerCase()}${8000 + Math.floor(r() * 200)}-${q.pop}`,
    scheme_type: 'https',
  };
}

/** `count` error-log JSON lines, event times spread over the last minutes before `endMs`. */
export function logLines(seed: number, count: number, endMs: number): string[] {
  const r = rng(seed);
  const lines = new Array<string>(count);
  for (let i = 0; i < count; i++) lines[i] = JSON.stringify(logDocument(r, new Date(endMs - (count - i) * 2)));
  return lines;
}
