// The ground truth: exact aggregates of what was sent, for tests and dashboards to be compared with.
// Timings are whole milliseconds, so each group keeps a histogram (value -> count): exact
// percentiles without keeping every value.
import type { KitConfig } from '../config/schema.js';
import type { SimRequest } from './model.js';

export const PERCENTILE_METHOD =
  'nearest rank: the p-th percentile of n values is the value at rank ceil(p/100 * n) in ascending order (1-based)';

/**
 * The dimensions each minute is broken down by, and how a request is placed in each: by the value
 * the sinks see (a missing actual backend is the config's missingTagValue).
 */
const dimensions = (missing: string) => ({
  product: (q: SimRequest) => q.product,
  status: (q: SimRequest) => String(q.status),
  statusClass: (q: SimRequest) => `${Math.floor(q.status / 100)}xx`,
  cacheStatus: (q: SimRequest) => q.cacheStatus,
  api: (q: SimRequest) => q.api,
  requestBackend: (q: SimRequest) => q.requestBackend,
  actualBackend: (q: SimRequest) => q.actualBackend ?? missing,
  pop: (q: SimRequest) => q.pop,
  region: (q: SimRequest) => q.region,
});
export type Dimension = keyof ReturnType<typeof dimensions>;
const DIMENSION_NAMES = Object.keys(dimensions('')) as Dimension[];

export interface TimingStats {
  count: number;
  sum: number;
  min: number;
  max: number;
  p95: number;
  p99: number;
}

export interface GroupStats {
  requests: number;
  errors: number;
  elapsedMs: TimingStats;
  ttfbMs: TimingStats;
}

export interface Truth {
  percentileMethod: string;
  /** What counts as an error: a status at or above errors.minStatus (logged as JSON). */
  errorMinStatus: number;
  /** Minutes are those of the request's end time (its ILP timestamp), UTC. */
  minutes: { minute: string; all: GroupStats; by: Record<Dimension, Record<string, GroupStats>> }[];
  totals: GroupStats;
  errors: { byPath: Record<string, number>; byRequestBackend: Record<string, number>; byPop: Record<string, number> };
  /** Distinct client IPs by the country the model gave them. */
  distinctClientsByCountry: Record<string, number>;
}

/** Exact order statistics of whole numbers. */
export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  add(value: number): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Nearest rank (see PERCENTILE_METHOD). */
  percentile(p: number): number {
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (const value of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(value)!;
      if (seen >= rank) return value;
    }
    return Number.NaN;
  }

  stats(): TimingStats {
    return { count: this.count, sum: this.sum, min: this.min, max: this.max, p95: this.percentile(95), p99: this.percentile(99) };
  }
}

class Group {
  requests = 0;
  errors = 0;
  readonly elapsed = new Histogram();
  readonly ttfb = new Histogram();

  add(request: SimRequest, error: boolean): void {
    this.requests++;
    if (error) this.errors++;
    this.elapsed.add(request.elapsedMs);
    this.ttfb.add(request.ttfbMs);
  }

  stats(): GroupStats {
    return { requests: this.requests, errors: this.errors, elapsedMs: this.elapsed.stats(), ttfbMs: this.ttfb.stats() };
  }
}

class Minute {
  readonly all = new Group();
  readonly by = Object.fromEntries(DIMENSION_NAMES.map((d) => [d, new Map<string, Group>()])) as Record<Dimension, Map<string, Group>>;
}

const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const sorted = <T>(map: Map<string, T>) => Object.fromEntries([...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export class GroundTruth {
  private readonly minutes = new Map<number, Minute>();
  private readonly totals = new Group();
  private readonly errorsByPath = new Map<string, number>();
  private readonly errorsByBackend = new Map<string, number>();
  private readonly errorsByPop = new Map<string, number>();
  private readonly clients = new Map<string, Set<string>>();
  private readonly errorMinStatus: number;
  private readonly dimensions: [Dimension, (q: SimRequest) => string][];

  constructor(config: KitConfig) {
    this.errorMinStatus = config.errors.minStatus;
    this.dimensions = Object.entries(dimensions(config.metrics.missingTagValue)) as [Dimension, (q: SimRequest) => string][];
  }

  add(request: SimRequest): void {
    const error = request.status >= this.errorMinStatus;
    const minuteKey = Math.floor(request.endUs / 60_000_000);
    let minute = this.minutes.get(minuteKey);
    if (!minute) this.minutes.set(minuteKey, (minute = new Minute()));
    minute.all.add(request, error);
    for (const [dimension, keyOf] of this.dimensions) {
      const groups = minute.by[dimension];
      const key = keyOf(request);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = new Group()));
      group.add(request, error);
    }
    this.totals.add(request, error);
    if (error) {
      count(this.errorsByPath, request.path);
      count(this.errorsByBackend, request.requestBackend);
      count(this.errorsByPop, request.pop);
    }
    let ips = this.clients.get(request.country);
    if (!ips) this.clients.set(request.country, (ips = new Set()));
    ips.add(request.clientIp);
  }

  toJSON(): Truth {
    const stats = (groups: Map<string, Group>) => sorted(new Map([...groups].map(([k, g]) => [k, g.stats()])));
    return {
      percentileMethod: PERCENTILE_METHOD,
      errorMinStatus: this.errorMinStatus,
      minutes: [...this.minutes.entries()]
        .sort(([a], [b]) => a - b)
        .map(([minute, m]) => ({
          minute: new Date(minute * 60_000).toISOString(),
          all: m.all.stats(),
          by: Object.fromEntries(Object.entries(m.by).map(([d, groups]) => [d, stats(groups)])) as Record<Dimension, Record<string, GroupStats>>,
        })),
      totals: this.totals.stats(),
      errors: { byPath: sorted(this.errorsByPath), byRequestBackend: sorted(this.errorsByBackend), byPop: sorted(this.errorsByPop) },
      distinctClientsByCountry: sorted(new Map([...this.clients].map(([country, ips]) => [country, ips.size]))),
    };
  }
}
