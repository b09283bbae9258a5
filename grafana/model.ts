// What the dashboards and rules need to know about the data, derived from the kit config once:
// which tags slice the traffic, which metric fields are timings, what counts as an error.
import type { KitConfig } from '../src/config/schema.js';
import { fieldViews, logKeyOf } from '../src/config/model.js';
import { statusAtLeastRegex } from './queries/influxql.js';

/**
 * Tags and log keys the panels give a meaning to, by their reference names (src/config/preset.ts).
 * A config without one simply has no panel that needs it.
 */
export const ROLE_TAGS = {
  product: 'product',
  environment: 'environment',
  status: 'resp_status',
  cache: 'cache_status',
  api: 'api_name',
  backend: 'request_backend',
  actualBackend: 'actual_backend',
  pop: 'pop',
} as const;

/** Units of the reference metric fields when the config gives none; other fields are unit-less ("none"). */
const DEFAULT_UNITS: Record<string, string> = { elapsed_time: 'ms', time_to_first_byte: 's' };

export interface MetricField {
  name: string;
  unit: string;
  description: string;
}

export interface DashboardModel {
  product: string;
  measurement: string;
  /** Every ILP tag: each becomes a template variable and a "by tag" panel on the detail dashboard. */
  tags: string[];
  /** Numeric metric fields: each gets percentile panels. */
  timings: MetricField[];
  /** The field counted to count requests: present on every point. */
  countField: string;
  /** InfluxQL regex of the statuses logged as errors (errors.minStatus and above). */
  errorStatusRegex: string;
  has: (tag: string) => boolean;
  /** The Elasticsearch key of a log field by its metric name (fastly_pop for pop). */
  logKey: (name: string) => string | undefined;
}

export function dashboardModel(config: KitConfig): DashboardModel {
  const views = fieldViews(config);
  const tags = views.tags.map((f) => f.name);
  const numeric = views.metricFields.filter((f) => f.type === 'integer' || f.type === 'float');
  const first = numeric[0];
  if (!first) throw new Error('grafana: the dashboards count requests with a numeric metric field (roles: [field], type integer or float); the config declares none');
  return {
    product: config.product,
    measurement: config.metrics.measurement,
    tags,
    timings: numeric.map((f) => ({ name: f.name, unit: f.unit ?? DEFAULT_UNITS[f.name] ?? 'none', description: f.description ?? f.name })),
    countField: first.name,
    errorStatusRegex: statusAtLeastRegex(config.errors.minStatus),
    has: (tag) => tags.includes(tag),
    logKey: (name) => {
      const field = views.log.find((f) => f.name === name);
      return field ? logKeyOf(field) : undefined;
    },
  };
}
