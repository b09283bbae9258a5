// The three datasources, queried the way Grafana's datasource plugins query them.
import type { ElasticsearchQuery, EsBucketAggregation, EsMetric } from '../queries/elasticsearch.js';
import type { InfluxQLQuery } from '../queries/influxql.js';
import type { Point, QueryResult, Series } from './frames.js';
import { formatDuration } from '../durations.js';
import { interpolateInfluxQL, interpolateLucene, interpolatePromQL, type Scope } from './interpolate.js';

export interface InfluxTarget {
  url: string;
  token: string;
  /** The InfluxQL database: on InfluxDB 2.x the bucket, through its DBRP mapping. */
  database: string;
  retentionPolicy: string;
}

export interface ElasticsearchTarget {
  url: string;
  /** The datasource's jsonData.index: an index pattern. */
  index: string;
  username?: string;
  password?: string;
}

export interface PrometheusTarget {
  url: string;
  scrapeIntervalMs: number;
}

interface InfluxResponse {
  results?: { error?: string; series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[] }[];
  error?: string;
}

/** One InfluxQL statement through /query (InfluxDB 1.x API, served by 2.x too): epoch ms, token auth. */
export async function influxQuery(target: InfluxTarget, statement: string): Promise<{ series: Series[]; error?: string }> {
  const body = new URLSearchParams({ db: target.database, rp: target.retentionPolicy, q: statement, epoch: 'ms' });
  const response = await fetch(new URL('/query', target.url), {
    method: 'POST',
    headers: { authorization: `Token ${target.token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const parsed = (await response.json().catch(() => ({ error: `HTTP ${response.status}` }))) as InfluxResponse;
  const error = parsed.error ?? parsed.results?.find((r) => r.error)?.error ?? (response.ok ? undefined : `HTTP ${response.status}`);
  if (error) return { series: [], error };
  const series: Series[] = [];
  for (const s of parsed.results?.[0]?.series ?? []) {
    const timeColumn = s.columns.indexOf('time');
    s.columns.forEach((column, i) => {
      if (i === timeColumn) return;
      const points: Point[] = s.values.map((row) => ({
        time: timeColumn >= 0 ? (row[timeColumn] as number) : null,
        value: typeof row[i] === 'number' ? (row[i] as number) : null,
      }));
      series.push({ name: column, labels: { ...(s.tags ?? {}) }, points });
    });
  }
  return { series };
}

/** Tag values as a template variable's options (rows of key, value). */
export async function influxTagValues(target: InfluxTarget, statement: string): Promise<string[]> {
  const body = new URLSearchParams({ db: target.database, rp: target.retentionPolicy, q: statement });
  const response = await fetch(new URL('/query', target.url), { method: 'POST', headers: { authorization: `Token ${target.token}` }, body });
  const parsed = (await response.json()) as InfluxResponse;
  const error = parsed.error ?? parsed.results?.[0]?.error;
  if (error) throw new Error(`variable query failed: ${error}: ${statement}`);
  return (parsed.results?.[0]?.series ?? []).flatMap((s) => s.values.map((row) => String(row[s.columns.indexOf('value')])));
}

export async function runInfluxQL(target: InfluxTarget, query: InfluxQLQuery, scope: Scope): Promise<QueryResult> {
  const sent = interpolateInfluxQL(query.query, scope);
  const { series, error } = await influxQuery(target, sent);
  return { refId: query.refId ?? 'A', sent, series, documents: [], ...(error ? { error } : {}) };
}

/** The _msearch request Grafana's Elasticsearch datasource builds for one query. */
export function msearchBody(query: ElasticsearchQuery, index: string, scope: Scope): string {
  const { fromMs, toMs } = scope.range;
  const filter = [
    { range: { [query.timeField]: { gte: fromMs, lte: toMs, format: 'epoch_millis' } } },
    { query_string: { analyze_wildcard: true, query: interpolateLucene(query.query || '*', scope) } },
  ];
  const header = { search_type: 'query_then_fetch', ignore_unavailable: true, index };
  const documentMetric = query.metrics.find((m) => m.type === 'logs' || m.type === 'raw_data');
  let body: object;
  if (documentMetric) {
    const size = Number(documentMetric.type === 'logs' ? documentMetric.settings.limit : documentMetric.settings.size);
    body = { size, query: { bool: { filter } }, sort: [{ [query.timeField]: { order: 'desc', unmapped_type: 'boolean' } }, { _doc: { order: 'desc' } }] };
  } else {
    body = { size: 0, query: { bool: { filter } }, aggs: bucketAggs(query.bucketAggs, query.metrics, scope) };
  }
  return `${JSON.stringify(header)}\n${JSON.stringify(body)}\n`;
}

function bucketAggs(aggs: EsBucketAggregation[], metrics: EsMetric[], scope: Scope): Record<string, object> {
  const [outer, ...inner] = aggs;
  if (!outer) return metricAggs(metrics);
  const nested = inner.length > 0 ? bucketAggs(inner, metrics, scope) : metricAggs(metrics);
  const children = Object.keys(nested).length > 0 ? { aggs: nested } : {};
  if (outer.type === 'terms') {
    const settings = outer.settings ?? {};
    return {
      [outer.id]: {
        terms: { field: outer.field, size: Number(settings.size ?? 10), order: { [settings.orderBy ?? '_count']: settings.order ?? 'desc' }, min_doc_count: Number(settings.min_doc_count ?? 1) },
        ...children,
      },
    };
  }
  const interval = outer.settings?.interval;
  return {
    [outer.id]: {
      date_histogram: {
        field: outer.field,
        fixed_interval: !interval || interval === 'auto' ? formatDuration(scope.intervalMs) : interval,
        min_doc_count: Number(outer.settings?.min_doc_count ?? 0),
        extended_bounds: { min: scope.range.fromMs, max: scope.range.toMs },
        format: 'epoch_millis',
      },
      ...children,
    },
  };
}

function metricAggs(metrics: EsMetric[]): Record<string, object> {
  const aggs: Record<string, object> = {};
  for (const m of metrics) if (m.type === 'percentiles') aggs[m.id] = { percentiles: { field: m.field, percents: m.settings.percents.map(Number) } };
  return aggs;
}

interface Bucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
  [agg: string]: unknown;
}

/** Buckets to series: terms keys become labels, date histogram keys times, metrics values. */
function bucketSeries(query: ElasticsearchQuery, aggregations: Record<string, unknown>): Series[] {
  const out = new Map<string, Series>();
  const walk = (level: number, container: Record<string, unknown>, labels: Record<string, string>, time: number | null) => {
    const agg = query.bucketAggs[level];
    if (!agg) {
      for (const metric of query.metrics) {
        if (metric.type === 'count') add('count', labels, time, container.doc_count as number);
        if (metric.type === 'percentiles') {
          const values = (container[metric.id] as { values: Record<string, number | null> }).values;
          for (const [percent, value] of Object.entries(values)) add(`p${Number(percent)}`, labels, time, value);
        }
      }
      return;
    }
    for (const bucket of (container[agg.id] as { buckets: Bucket[] }).buckets) {
      if (agg.type === 'terms') walk(level + 1, bucket, { ...labels, [agg.field!]: String(bucket.key_as_string ?? bucket.key) }, time);
      else walk(level + 1, bucket, labels, Number(bucket.key));
    }
  };
  const add = (name: string, labels: Record<string, string>, time: number | null, value: number | null) => {
    const key = `${name}\u0000${JSON.stringify(labels)}`;
    let series = out.get(key);
    if (!series) out.set(key, (series = { name, labels, points: [] }));
    series.points.push({ time, value });
  };
  walk(0, aggregations, {}, null);
  return [...out.values()];
}

export async function runElasticsearch(target: ElasticsearchTarget, query: ElasticsearchQuery, scope: Scope): Promise<QueryResult> {
  const sent = msearchBody(query, target.index, scope);
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
  if (target.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`;
  const response = await fetch(new URL('/_msearch', target.url), { method: 'POST', headers, body: sent });
  const parsed = (await response.json()) as { responses?: { error?: { reason?: string }; hits?: { hits: { _source: Record<string, unknown> }[] }; aggregations?: Record<string, unknown> }[]; error?: { reason?: string } };
  const answer = parsed.responses?.[0];
  const error = parsed.error?.reason ?? answer?.error?.reason ?? (response.ok ? undefined : `HTTP ${response.status}`);
  const base = { refId: query.refId ?? 'A', sent };
  if (error || !answer) return { ...base, series: [], documents: [], error: error ?? 'no response' };
  const documentQuery = query.metrics.some((m) => m.type === 'logs' || m.type === 'raw_data');
  return documentQuery
    ? { ...base, series: [], documents: answer.hits?.hits.map((h) => h._source) ?? [] }
    : { ...base, series: bucketSeries(query, answer.aggregations ?? {}), documents: [] };
}

export async function runPromQL(target: PrometheusTarget, query: { refId?: string; expr?: string }, scope: Scope): Promise<QueryResult> {
  const sent = interpolatePromQL(query.expr ?? '', scope, target.scrapeIntervalMs);
  const step = Math.max(scope.intervalMs, target.scrapeIntervalMs) / 1000;
  const params = new URLSearchParams({ query: sent, start: String(scope.range.fromMs / 1000), end: String(scope.range.toMs / 1000), step: String(step) });
  const response = await fetch(new URL('/api/v1/query_range', target.url), { method: 'POST', body: params });
  const parsed = (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  const base = { refId: query.refId ?? 'A', sent, documents: [] };
  if (parsed.status !== 'success') return { ...base, series: [], error: parsed.error ?? `HTTP ${response.status}` };
  return {
    ...base,
    series: parsed.data!.result.map((r) => ({ name: 'value', labels: r.metric, points: r.values.map(([t, v]) => ({ time: t * 1000, value: Number(v) })) })),
  };
}

