// The traffic model: what a CDN in front of an API gateway sees, request by request, driven by the
// kit config. A request is drawn as facts (API, backend, POP, client, cache, status, timings...),
// then every config field gets its value from those facts (fields named as in the reference
// preset), from its `simulate` hint, or from its type.
import type { Field, KitConfig, SimulateHint } from '../config/schema.js';
import { kitValue } from '../config/model.js';
import { Random, Weighted, zipf } from './random.js';
import type { Scenario } from './scenarios.js';

export type FieldValue = string | number | boolean | undefined;

/** One simulated request: the facts the ground truth counts, and each config field's value. */
export interface SimRequest {
  /** 0-based sequence number of the request in this run. */
  seq: number;
  /** When the response ended, microseconds since the epoch: the edge's time.end.usec. */
  endUs: number;
  product: string;
  api: string;
  requestBackend: string;
  /** Undefined when the origin failed before a backend was chosen. */
  actualBackend: string | undefined;
  pop: string;
  region: string;
  server: string;
  clientIp: string;
  country: string;
  method: string;
  url: string;
  /** The URL without its query string. */
  path: string;
  cacheStatus: string;
  status: number;
  elapsedMs: number;
  /** Whole milliseconds, never above elapsedMs. */
  ttfbMs: number;
  /** Values in the order of config.fields. */
  values: FieldValue[];
}

export interface ModelOptions {
  seed: number;
  /** Simulated time of the first request, ms since the epoch. */
  startMs: number;
  /** Mean requests per simulated second over a day (the daily shape moves around it). */
  requestsPerSecond: number;
  /** Length of one simulated day in simulated ms: 86_400_000, or less to compress the daily shape. */
  dayMs?: number;
  scenarios?: Scenario[];
}

// The built-in world, used where the config gives no `simulate` hint.
const POPS: readonly (readonly [string, string, number])[] = [
  ['IAD', 'US-East', 10], ['JFK', 'US-East', 8], ['ORD', 'US-Central', 7], ['DFW', 'US-Central', 5],
  ['LAX', 'US-West', 7], ['SJC', 'US-West', 6], ['LHR', 'Europe', 8], ['FRA', 'Europe', 6],
  ['AMS', 'Europe', 4], ['NRT', 'Asia', 5], ['SIN', 'Asia', 3], ['GRU', 'South-America', 3], ['SYD', 'Australia', 2],
];
/** Country, weight, first octet of its clients' addresses, regions whose POPs serve it. */
const COUNTRIES: readonly (readonly [string, number, number, readonly string[]])[] = [
  ['US', 40, 73, ['US-East', 'US-Central', 'US-West']], ['CA', 4, 99, ['US-East', 'US-Central']],
  ['GB', 8, 81, ['Europe']], ['DE', 8, 84, ['Europe']], ['FR', 6, 90, ['Europe']], ['NL', 3, 145, ['Europe']],
  ['JP', 6, 126, ['Asia']], ['IN', 8, 117, ['Asia']], ['SG', 2, 175, ['Asia']],
  ['BR', 5, 177, ['South-America']], ['AU', 3, 101, ['Australia']],
];
const APIS = ['catalog', 'search', 'cart', 'checkout', 'users', 'inventory', 'payments'];
const METHODS: readonly (readonly [string, number])[] = [['GET', 82], ['POST', 10], ['PUT', 3], ['DELETE', 2], ['HEAD', 2], ['OPTIONS', 1]];
const CACHE: readonly (readonly [string, number])[] = [['HIT', 72], ['MISS', 22], ['PASS', 6]];
const ORIGIN_STATUSES: readonly (readonly [number, number])[] = [
  [200, 800], [201, 15], [204, 10], [301, 10], [304, 30], [400, 20], [401, 15], [403, 10],
  [404, 50], [429, 10], [500, 10], [502, 5], [503, 8], [504, 2],
];
const HIT_STATUSES: readonly (readonly [number, number])[] = [[200, 930], [206, 20], [304, 40], [404, 10]];
const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content', 301: 'Moved Permanently', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};
const RESOURCES = ['items', 'lists', 'details', 'reviews', 'images'];
const CLIENTS = 5000;
const SERVERS_PER_POP = 4;
const PATHS_PER_API = 150;
const DAY_MS = 86_400_000;

/** FNV-1a: stable small numbers (latencies, addresses) from names. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The hint's values as [text, weight] pairs. */
function hintEntries(hint: SimulateHint | undefined): (readonly [string, number])[] | undefined {
  if (!hint?.values) return undefined;
  return Array.isArray(hint.values) ? hint.values.map((v) => [String(v), 1] as const) : Object.entries(hint.values);
}

/** A draw for a field with a hint: from its values, or uniformly from its range. */
function hintDraw(hint: SimulateHint, type: Field['type']): (random: Random) => FieldValue {
  const entries = hintEntries(hint);
  if (entries) {
    const convert = (v: string): FieldValue => (type === 'integer' || type === 'float' ? Number(v) : type === 'boolean' ? v === 'true' : v);
    const table = new Weighted(entries.map(([v, w]) => [convert(v), w] as const));
    return (random) => table.draw(random);
  }
  const { min, max } = hint.range!;
  if (type === 'integer') return (random) => random.between(Math.ceil(min), Math.floor(max));
  return (random) => Math.round((min + random.next() * (max - min)) * 1000) / 1000;
}

/** A value for a field the model does not know, by its type. */
function typedDraw(field: Field): (random: Random, request: SimRequest) => FieldValue {
  const choices = Array.from({ length: 8 }, (_, i) => `${field.name}-${i + 1}`);
  const strings = zipf(choices);
  switch (field.type) {
    case 'integer':
      return (random) => random.below(1000);
    case 'float':
      return (random) => Math.round(random.next() * 1_000_000) / 1000;
    case 'boolean':
      return (random) => random.chance(0.5);
    case 'timestamp':
      return (_, request) => isoSeconds(request.endUs);
    case 'ip':
      return (random) => `10.${random.below(256)}.${random.below(256)}.${1 + random.below(254)}`;
    default:
      return (random) => strings.draw(random);
  }
}

/** ISO-8601 UTC to the second, as the Fastly snippet writes event times. */
export function isoSeconds(us: number): string {
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}Z`;
}

/** The value of a reference-preset field, from the facts. */
const BUILT_IN: Record<string, (request: SimRequest, model: TrafficModel) => FieldValue> = {
  'x-api-id': (q, m) => m.apiId(q.api),
  api_name: (q) => q.api,
  request_url: (q) => q.url,
  req_body_read: (q, m) => m.requestBytes(q),
  resp_body_written: (q, m) => m.responseBytes(q),
  request_backend: (q) => q.requestBackend,
  actual_backend: (q) => q.actualBackend,
  actual_backend_ip: (q, m) => (q.actualBackend === undefined ? undefined : m.backendIp(q.actualBackend)),
  client_ip: (q) => q.clientIp,
  event_timestamp: (q) => isoSeconds(q.endUs),
  method: (q) => q.method,
  resp_status: (q) => q.status,
  resp_message: (q) => REASONS[q.status] ?? 'Unknown',
  cache_status: (q) => q.cacheStatus,
  elapsed_time: (q) => q.elapsedMs,
  time_to_first_byte: (q) => q.ttfbMs / 1000,
  info_state: (q, m) => m.infoState(q),
  pop: (q) => q.pop,
  region: (q) => q.region,
  fastly_server: (q) => q.server,
  scheme_type: (q, m) => m.scheme(q),
  country: (q) => q.country,
  client_country: (q) => q.country,
};

/** Fields whose hint replaces a set the model draws from, so what depends on it follows. */
const SET_FIELDS = new Set(['api_name', 'pop', 'request_backend', 'method', 'cache_status', 'resp_status', 'elapsed_time', 'request_url']);

/** Facts the ground truth counts that a hint on their field replaces after the draw. */
const FACT_HINTS: Record<string, (request: SimRequest, value: FieldValue) => void> = {
  actual_backend: (q, v) => (q.actualBackend = String(v)),
  region: (q, v) => (q.region = String(v)),
  client_ip: (q, v) => (q.clientIp = String(v)),
  // Seconds, like the field; never above the elapsed time.
  time_to_first_byte: (q, v) => (q.ttfbMs = Math.min(q.elapsedMs, Math.round(Number(v) * 1000))),
};

interface Client {
  ip: string;
  country: string;
  pops: Weighted<readonly [string, string]>;
}

export class TrafficModel {
  private readonly random: Random;
  /** A second stream for per-field extras, so adding a field does not change the facts. */
  private readonly extras: Random;
  private readonly config: KitConfig;
  private readonly scenarios: Scenario[];
  private readonly dayMs: number;
  private readonly meanGapUs: number;
  private readonly dayStartUs: number;
  private readonly endOfScenarios: number[];
  private readonly startMs: number;
  private clockUs: number;
  private seq = 0;

  private readonly apis: Weighted<string>;
  private readonly backendOf = new Map<string, string>();
  private readonly paths = new Map<string, Weighted<string>>();
  private readonly clients: Weighted<Client>;
  private readonly methods: Weighted<string>;
  private readonly cache: Weighted<string>;
  private readonly originStatuses: Weighted<number>;
  private readonly hitStatuses: Weighted<number>;
  private readonly elapsedHint?: (random: Random) => FieldValue;
  private readonly latencyMedian = new Map<string, number>();
  private readonly valueOf: ((request: SimRequest) => FieldValue)[];
  private readonly factHints: (readonly [(request: SimRequest, value: FieldValue) => void, (random: Random) => FieldValue])[];
  private readonly pops: string[];
  private readonly urlsHinted: boolean;

  constructor(config: KitConfig, options: ModelOptions) {
    this.config = config;
    this.random = new Random(options.seed);
    this.extras = new Random(options.seed ^ 0x5bd1e995);
    this.scenarios = options.scenarios ?? [];
    this.dayMs = options.dayMs ?? DAY_MS;
    this.meanGapUs = 1e6 / options.requestsPerSecond;
    this.startMs = options.startMs;
    this.clockUs = options.startMs * 1000;
    this.dayStartUs = Math.floor(options.startMs / DAY_MS) * DAY_MS * 1000;
    this.endOfScenarios = this.scenarios.map((s) => s.start + s.duration);

    const hintOf = (name: string) => config.fields.find((f) => f.name === name && f.simulate)?.simulate;
    const hinted = (name: string) => hintEntries(hintOf(name));

    this.apis = new Weighted(hinted('api_name') ?? APIS.map((api, i) => [api, 1 / (i + 1)] as const));
    const backends = hinted('request_backend')?.map(([b]) => b);
    this.apis.values.forEach((api, i) => this.backendOf.set(api, backends ? backends[i % backends.length]! : `${api}-origin`));
    const urls = hinted('request_url');
    this.urlsHinted = urls !== undefined;
    for (const api of this.apis.values) {
      this.paths.set(
        api,
        urls
          ? new Weighted(urls)
          : zipf(Array.from({ length: PATHS_PER_API }, (_, i) => (i === 0 ? `/v1/${api}` : `/v1/${api}/${RESOURCES[i % RESOURCES.length]}/${1000 + i}`))),
      );
    }

    // POPs: from the hint (each with a region from the built-in table, else its own name's hash
    // over the built-in regions), else the built-in ones near each client's country.
    const popHint = hinted('pop');
    const regions = [...new Set(POPS.map(([, region]) => region))];
    const popsTable = popHint
      ? popHint.map(([pop, weight]) => [pop, POPS.find(([p]) => p === pop)?.[1] ?? regions[hash(pop) % regions.length]!, weight] as const)
      : POPS;
    this.pops = popsTable.map(([pop]) => pop);
    const everywhere = new Weighted(popsTable.map(([pop, region, weight]) => [[pop, region] as const, weight] as const));
    const countries = new Weighted(COUNTRIES.map((c) => [c, c[1]] as const));
    const near = new Map<string, Weighted<readonly [string, string]>>();
    const clientList = Array.from({ length: CLIENTS }, (_, i): Client => {
      const [country, , octet, served] = countries.draw(this.random);
      if (!near.has(country)) {
        const local = popsTable.filter(([, region]) => served.includes(region));
        near.set(country, popHint || local.length === 0 ? everywhere : new Weighted(local.map(([pop, region, weight]) => [[pop, region] as const, weight] as const)));
      }
      const ip = `${octet}.${(i >> 8) & 255}.${i & 255}.${1 + this.random.below(254)}`;
      return { ip, country, pops: near.get(country)! };
    });
    this.clients = zipf(clientList, 0.7);

    this.methods = new Weighted(hinted('method') ?? METHODS);
    this.cache = new Weighted(hinted('cache_status') ?? CACHE);
    const statusHint = hinted('resp_status')?.map(([s, w]) => [Number(s), w] as const);
    this.originStatuses = new Weighted(statusHint ?? ORIGIN_STATUSES);
    this.hitStatuses = statusHint ? this.originStatuses : new Weighted(HIT_STATUSES);
    const elapsed = config.fields.find((f) => f.name === 'elapsed_time' && f.simulate);
    if (elapsed) this.elapsedHint = hintDraw(elapsed.simulate!, 'integer');

    this.factHints = config.fields.flatMap((field) => {
      const apply = FACT_HINTS[field.name];
      return apply && field.simulate ? [[apply, hintDraw(field.simulate, field.type)] as const] : [];
    });
    this.valueOf = config.fields.map((field) => this.valueFunction(field));
    this.checkScenarios();
  }

  private valueFunction(field: Field): (request: SimRequest) => FieldValue {
    const constant = kitValue(field, this.config);
    if (constant !== undefined) return () => constant;
    if (field.simulate && !SET_FIELDS.has(field.name) && !FACT_HINTS[field.name]) {
      const draw = hintDraw(field.simulate, field.type);
      return () => draw(this.extras);
    }
    const builtIn = BUILT_IN[field.name];
    const typed = typedDraw(field);
    if (!builtIn) return (request) => typed(this.extras, request);
    if (field.type !== 'integer' && field.type !== 'float') return (request) => builtIn(request, this);
    // A reference name declared as a number although the model's value is text (a POP code as
    // an integer, say): the field gets a number of its type instead of an invalid line.
    return (request) => {
      const value = builtIn(request, this);
      return value === undefined || Number.isFinite(Number(value)) ? value : typed(this.extras, request);
    };
  }

  /** A scenario aimed at an API, backend or POP the model never draws would change nothing: refuse it. */
  private checkScenarios(): void {
    const known = { api: this.apis.values, backend: [...new Set(this.backendOf.values())], pop: this.pops };
    for (const scenario of this.scenarios) {
      for (const key of ['api', 'backend', 'pop'] as const) {
        const target = (scenario as Partial<Record<typeof key, string>>)[key];
        if (target !== undefined && !known[key].includes(target)) {
          throw new Error(`scenario ${scenario.type}: ${key} "${target}" is not simulated; the ${key}s are ${known[key].join(', ')}`);
        }
      }
    }
  }

  /** The next request, or the next one after a gap while a drop scenario thins the traffic. */
  next(): SimRequest {
    for (;;) {
      const phase = ((this.clockUs - this.dayStartUs) / 1000 / this.dayMs) % 1;
      // Busiest in the afternoon (UTC, when the day is not compressed), quietest before dawn; mean 1.
      const shape = 1 - 0.6 * Math.cos(2 * Math.PI * (phase - 0.125));
      this.clockUs += this.random.exponential(this.meanGapUs / shape);
      const request = this.draw(Math.floor(this.clockUs));
      if (request) return request;
    }
  }

  private active(offsetMs: number): Scenario[] {
    return this.scenarios.filter((s, i) => offsetMs >= s.start && offsetMs < this.endOfScenarios[i]!);
  }

  private draw(endUs: number): SimRequest | undefined {
    const r = this.random;
    const client = this.clients.draw(r);
    const [pop, region] = client.pops.draw(r);
    const api = this.apis.draw(r);
    const requestBackend = this.backendOf.get(api)!;
    // Built-in URLs carry a query string now and then; hinted ones are taken as given.
    const query = r.chance(0.15) && !this.urlsHinted ? `?page=${1 + r.below(5)}` : '';
    const url = this.paths.get(api)!.draw(r) + query;
    const method = this.methods.draw(r);
    let cacheStatus = method === 'GET' || method === 'HEAD' ? this.cache.draw(r) : 'PASS';
    let status = (cacheStatus === 'HIT' ? this.hitStatuses : this.originStatuses).draw(r);
    // Directors: now and then another member of the director serves the request.
    let actualBackend: string | undefined = r.chance(0.03) ? `${requestBackend}-2` : requestBackend;
    const fromCache = cacheStatus === 'HIT';
    let elapsedMs = this.elapsedHint
      ? Number(this.elapsedHint(r))
      : Math.max(1, Math.round(fromCache ? r.logNormal(3, 0.7) : r.logNormal(this.medianOf(requestBackend), 0.8)));
    let ttfbFraction = fromCache ? 0.3 + 0.6 * r.next() : 0.5 + 0.45 * r.next();
    const lost = r.next();

    const offsetMs = endUs / 1000 - this.startMs;
    for (const scenario of this.scenarios.length > 0 ? this.active(offsetMs) : []) {
      switch (scenario.type) {
        case 'drop':
          if ((scenario.pop === undefined || scenario.pop === pop) && r.next() >= scenario.factor) return undefined;
          break;
        case 'errors':
          if ((scenario.api ?? api) === api && (scenario.backend ?? requestBackend) === requestBackend && r.next() < scenario.share) {
            status = [500, 502, 503, 504][r.below(4)]!;
            if (cacheStatus === 'HIT') cacheStatus = 'MISS';
          }
          break;
        case 'latency':
          if (scenario.pop === pop) elapsedMs = Math.round(elapsedMs * scenario.factor);
          break;
        case 'auth':
          if (scenario.api === api && scenario.pop === pop && r.next() < scenario.share) {
            status = r.chance(0.5) ? 401 : 403;
            cacheStatus = 'PASS';
            ttfbFraction = 0.9;
          }
          break;
        case 'failover':
          if (scenario.backend === requestBackend) actualBackend = scenario.to ?? `${requestBackend}-failover`;
          break;
      }
    }
    // An origin that failed may leave no backend behind.
    if ((status === 502 || status === 503 || status === 504) && cacheStatus !== 'HIT' && lost < 0.5) actualBackend = undefined;

    const request: SimRequest = {
      seq: this.seq++,
      endUs,
      product: this.config.product,
      api,
      requestBackend,
      actualBackend,
      pop,
      region,
      server: `cache-${pop.toLowerCase()}${8000 + (hash(client.ip) % SERVERS_PER_POP)}`,
      clientIp: client.ip,
      country: client.country,
      method,
      url,
      path: url.split('?', 1)[0]!,
      cacheStatus,
      status,
      elapsedMs,
      ttfbMs: Math.min(elapsedMs, Math.round(elapsedMs * ttfbFraction)),
      values: [],
    };
    for (const [apply, draw] of this.factHints) apply(request, draw(this.extras));
    request.values = this.valueOf.map((value) => value(request));
    return request;
  }

  // Helpers the built-in fields use.
  medianOf(backend: string): number {
    let median = this.latencyMedian.get(backend);
    if (median === undefined) this.latencyMedian.set(backend, (median = 20 + (hash(backend) % 150)));
    return median;
  }
  apiId(api: string): string {
    return `${api}-${hash(api).toString(16).padStart(8, '0')}`;
  }
  backendIp(backend: string): string {
    const h = hash(backend);
    return `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${1 + (h % 254)}`;
  }
  requestBytes(request: SimRequest): number {
    return request.method === 'GET' || request.method === 'HEAD' ? 0 : 200 + (hash(request.url) % 4000);
  }
  responseBytes(request: SimRequest): number {
    if (request.method === 'HEAD' || request.status === 204 || request.status === 304) return 0;
    if (request.status >= 400) return 60 + (request.status % 100);
    return 500 + (hash(request.path) % 30_000);
  }
  infoState(request: SimRequest): string {
    if (request.cacheStatus === 'HIT') return request.seq % 3 === 0 ? 'HIT-CLUSTER' : 'HIT';
    if (request.cacheStatus === 'MISS') return request.seq % 3 === 0 ? 'MISS-CLUSTER' : 'MISS';
    return request.cacheStatus;
  }
  scheme(request: SimRequest): string {
    return hash(request.clientIp) % 33 === 0 ? 'http' : 'https';
  }
}
