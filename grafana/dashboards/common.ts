// What the InfluxDB dashboards share: their uids, the template variables, the filter every query
// carries, and the few query shapes the panels are made of.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import { TypeMathBuilder } from '@grafana/grafana-foundation-sdk/expr';
import { expressionRef, influxRef } from '../datasources.js';
import { ROLE_TAGS, type DashboardModel } from '../model.js';
import { InfluxQLQueryBuilder, tagValuesStatement, type Condition, type SelectSpec } from '../queries/influxql.js';

export const DASHBOARD_UIDS = {
  overview: 'cdnkit-overview',
  productDetail: 'cdnkit-product-detail',
  errorLogs: 'cdnkit-error-logs',
  pipelineHealth: 'cdnkit-pipeline-health',
} as const;

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** A multi-value variable over a tag's values, "All" selected by default. */
export function tagVariable(model: DashboardModel, tag: string): QueryVariableBuilder {
  const statement = tagValuesStatement(model.measurement, tag);
  return new QueryVariableBuilder(tag)
    .label(tag)
    .datasource(influxRef)
    .query(statement)
    .definition(statement)
    .multi(true)
    .includeAll(true)
    .current({ text: 'All', value: '$__all' })
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
}

/** The conditions tying a query to the dashboard's variables. */
export function variableFilter(variables: string[]): Condition[] {
  return variables.map((tag) => ({ tag, matches: 'variable', variable: tag }));
}

export interface CountSpec {
  filter: Condition[];
  /** Extra conditions: a status class, a cache status. */
  where?: Condition[];
  groupByTags?: string[];
  /** A fixed bucket (1m: requests per minute) or $__interval. */
  bucket?: string;
}

/** Requests counted per time bucket: one point per request, so a count of the count field. */
export function countQuery(model: DashboardModel, spec: CountSpec): SelectSpec {
  return {
    from: model.measurement,
    select: [{ aggregate: { fn: 'count', field: model.countField }, as: 'requests' }],
    where: [...spec.filter, ...(spec.where ?? [])],
    timeBucket: spec.bucket ?? '1m',
    groupByTags: spec.groupByTags ?? [],
    fill: '0',
  };
}

export function percentileQuery(model: DashboardModel, field: string, filter: Condition[], groupByTags: string[]): SelectSpec {
  return {
    from: model.measurement,
    select: [
      { aggregate: { fn: 'percentile', field, percentile: 95 }, as: 'p95' },
      { aggregate: { fn: 'percentile', field, percentile: 99 }, as: 'p99' },
    ],
    where: filter,
    timeBucket: '$__interval',
    groupByTags,
    fill: 'none',
  };
}

/** Label a series by its GROUP BY tags, as Grafana's alias patterns do. */
export function aliasOf(groupByTags: string[], suffix?: string): string {
  return [...groupByTags.map((t) => `$tag_${t}`), ...(suffix ? [suffix] : [])].join(' ') || (suffix ?? '$col');
}

/** The status-class queries, one per class, each named by its class. */
export function statusClassTargets(model: DashboardModel, filter: Condition[], groupByTags: string[] = []): Builder<Dataquery>[] {
  return STATUS_CLASSES.map((cls) =>
    new InfluxQLQueryBuilder(countQuery(model, { filter, where: [{ tag: ROLE_TAGS.status, matches: 'regex', regex: `^${cls[0]}` }], groupByTags })).alias(
      aliasOf(groupByTags, cls),
    ),
  );
}

/**
 * Cache hits over all requests: two hidden counts and a server-side math expression, per
 * $__interval and group, so the ratio is of the same requests Grafana counted.
 */
export function hitRatioTargets(model: DashboardModel, filter: Condition[], groupByTags: string[]): Builder<Dataquery>[] {
  const hits = countQuery(model, { filter, where: [{ tag: ROLE_TAGS.cache, matches: 'regex', regex: '^HIT' }], groupByTags, bucket: '$__interval' });
  const all = countQuery(model, { filter, groupByTags, bucket: '$__interval' });
  return [
    hidden(new InfluxQLQueryBuilder(hits).refId('hits').alias(aliasOf(groupByTags, 'hits'))),
    hidden(new InfluxQLQueryBuilder(all).refId('all').alias(aliasOf(groupByTags, 'all'))),
    new TypeMathBuilder().refId('ratio').datasource(expressionRef).expression('$hits / $all'),
  ];
}

function hidden(builder: InfluxQLQueryBuilder): Builder<Dataquery> {
  return { build: () => ({ ...builder.build(), hide: true }) };
}
