// InfluxQL queries as Grafana's InfluxDB datasource stores them (raw mode). The SDK has no
// InfluxDB query type, so this is one, built the way its "custom query type" example shows: the
// statement is assembled from typed parts, never written as text by hand in a panel.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { influxRef } from '../datasources.js';

export interface InfluxQLQuery extends Dataquery {
  refId?: string;
  hide?: boolean;
  datasource?: DataSourceRef;
  /** The InfluxQL statement, with Grafana's macros ($timeFilter, $__interval) and variables. */
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  /** Series name pattern: $tag_<key> is the value of a GROUP BY tag. */
  alias?: string;
}

/** A double-quoted identifier (measurement, tag or field key). */
export function identifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A single-quoted string literal. */
export function stringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Escapes a value for use inside an InfluxQL /regex/ (also what Grafana does to variable values). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** One condition of a WHERE clause. */
export type Condition =
  | { tag: string; matches: 'variable'; variable: string }
  | { tag: string; matches: 'regex'; regex: string }
  | { tag: string; matches: 'equals'; value: string };

function condition(c: Condition): string {
  switch (c.matches) {
    case 'variable':
      // Grafana expands a multi-value variable to (a|b|c) with each value regex-escaped.
      return `${identifier(c.tag)} =~ /^$${c.variable}$/`;
    case 'regex':
      return `${identifier(c.tag)} =~ /${c.regex}/`;
    case 'equals':
      return `${identifier(c.tag)} = ${stringLiteral(c.value)}`;
  }
}

export type Aggregate = { fn: 'count' | 'mean' | 'max' | 'min' | 'sum'; field: string } | { fn: 'percentile'; field: string; percentile: number };

function aggregate(a: Aggregate): string {
  return a.fn === 'percentile' ? `percentile(${identifier(a.field)}, ${a.percentile})` : `${a.fn}(${identifier(a.field)})`;
}

export interface SelectSpec {
  /** A measurement, or a subquery (whose own WHERE bounds the time: the outer query adds none). */
  from: string | SelectSpec;
  /** Each becomes one column: `SELECT <aggregate> [- <minus>] AS <alias>`. */
  select: { aggregate: Aggregate; minus?: Aggregate; as: string }[];
  where: Condition[];
  /** GROUP BY time(<interval>): $__interval on panels; a fixed duration in alert rules. */
  timeBucket?: string;
  groupByTags: string[];
  /** fill(0) where a missing bucket means none happened (counts). */
  fill?: 'none' | 'null' | '0';
  /**
   * A fixed window instead of the dashboard's ($timeFilter): alert queries, and baselines that
   * carry their time shift in their own text, e.g. { from: '1h', to: '5m' } = now-1h .. now-5m.
   */
  window?: { from: string; to?: string };
}

export function influxqlStatement(spec: SelectSpec): string {
  const columns = spec.select.map((s) => `${aggregate(s.aggregate)}${s.minus ? ` - ${aggregate(s.minus)}` : ''} AS ${identifier(s.as)}`).join(', ');
  const time = spec.window
    ? [`time >= now() - ${spec.window.from}${spec.window.to ? ` AND time < now() - ${spec.window.to}` : ''}`]
    : typeof spec.from === 'string'
      ? ['$timeFilter']
      : [];
  const conditions = [...time, ...spec.where.map(condition)];
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  const groups = [...(spec.timeBucket ? [`time(${spec.timeBucket})`] : []), ...spec.groupByTags.map(identifier)];
  const groupBy = groups.length > 0 ? ` GROUP BY ${groups.join(', ')}` : '';
  const fill = spec.timeBucket && spec.fill ? ` fill(${spec.fill})` : '';
  const from = typeof spec.from === 'string' ? identifier(spec.from) : `(${influxqlStatement(spec.from)})`;
  return `SELECT ${columns} FROM ${from}${where}${groupBy}${fill}`;
}

export class InfluxQLQueryBuilder implements Builder<InfluxQLQuery> {
  private readonly internal: InfluxQLQuery;

  constructor(spec: SelectSpec | string) {
    this.internal = {
      datasource: influxRef,
      query: typeof spec === 'string' ? spec : influxqlStatement(spec),
      rawQuery: true,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }

  build(): InfluxQLQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  table(): this {
    this.internal.resultFormat = 'table';
    return this;
  }
}

/** `SHOW TAG VALUES` for a template variable's options. */
export function tagValuesStatement(measurement: string, tag: string): string {
  return `SHOW TAG VALUES FROM ${identifier(measurement)} WITH KEY = ${identifier(tag)}`;
}

/** A regex matching the decimal numbers from `min` to 599: HTTP statuses at or above a threshold. */
export function statusAtLeastRegex(min: number): string {
  const [h, t, u] = String(min).split('').map(Number) as [number, number, number];
  const range = (from: number, to: number) => (from === to ? String(from) : `[${from}-${to}]`);
  const alternatives = [`${h}${t}${range(u, 9)}`];
  if (t < 9) alternatives.push(`${h}${range(t + 1, 9)}[0-9]`);
  if (h < 5) alternatives.push(`${range(h + 1, 5)}[0-9][0-9]`);
  return `^(${alternatives.join('|')})$`;
}
