// The check's expansion of Grafana's macros and variables, and its math expressions: what Grafana
// documents, stated value by value.
import { describe, expect, it } from 'vitest';
import { evaluateMath } from '../../grafana/check/math.js';
import { interpolateInfluxQL, interpolateLucene, interpolatePromQL, panelIntervalMs } from '../../grafana/check/interpolate.js';
import { formatDuration } from '../../grafana/durations.js';
import { msearchBody } from '../../grafana/check/sources.js';
import { ElasticsearchQueryBuilder } from '../../grafana/queries/elasticsearch.js';

const range = { fromMs: 1_700_000_000_000, toMs: 1_700_003_600_000 };
const scope = { range, intervalMs: 60_000, variables: { api: ['a.b', 'c/d'], pop: ['IAD'] } };

describe('macros and variables', () => {
  it('expands $timeFilter to epoch-millisecond bounds, $__interval to a duration, $__interval_ms to an integer', () => {
    expect(interpolateInfluxQL('SELECT 1 WHERE $timeFilter GROUP BY time($__interval), x LIMIT $__interval_ms', scope)).toBe(
      'SELECT 1 WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m), x LIMIT 60000',
    );
    expect(interpolateInfluxQL('time($interval) time(${__interval})', scope)).toBe('time(1m) time(1m)');
  });

  it('expands a multi-value variable to a regex alternation of escaped values, a single value to itself escaped', () => {
    expect(interpolateInfluxQL('"api_name" =~ /^$api$/ AND "pop" =~ /^${pop}$/ AND x =~ /^[[api]]$/', scope)).toBe(
      '"api_name" =~ /^(a\\.b|c\\/d)$/ AND "pop" =~ /^IAD$/ AND x =~ /^(a\\.b|c\\/d)$/',
    );
    expect(interpolateInfluxQL('$unknown stays', scope)).toBe('$unknown stays');
    expect(interpolateLucene('api_name:$api', scope)).toBe('api_name:("a.b" OR "c/d")');
  });

  it('sizes $__interval as Grafana does: range / max data points, rounded, at least the panel minimum', () => {
    expect(panelIntervalMs({ fromMs: 0, toMs: 720_000 }, 12, undefined)).toBe(60_000);
    expect(panelIntervalMs({ fromMs: 0, toMs: 3_600_000 }, 1000, undefined)).toBe(5_000);
    expect(panelIntervalMs({ fromMs: 0, toMs: 3_600_000 }, 1000, '1m')).toBe(60_000);
    expect([500, 1_000, 60_000, 7_200_000].map(formatDuration)).toEqual(['500ms', '1s', '1m', '2h']);
  });

  it('gives PromQL $__rate_interval as max($__interval + scrape interval, 4 × scrape interval)', () => {
    expect(interpolatePromQL('rate(x[$__rate_interval])', { ...scope, intervalMs: 15_000 }, 15_000)).toBe('rate(x[1m])');
    expect(interpolatePromQL('rate(x[$__rate_interval])', scope, 15_000)).toBe('rate(x[75s])');
  });
});

describe('Elasticsearch _msearch', () => {
  it('filters on the time field in epoch_millis, applies the query string, nests bucket aggregations in order', () => {
    const query = new ElasticsearchQueryBuilder('resp_status:503').count().percentiles('elapsed_time', [99]).terms('api_name', 5).dateHistogram().build();
    const [header, body] = msearchBody(query, 'cdn-logs-*', scope).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(header).toEqual({ search_type: 'query_then_fetch', ignore_unavailable: true, index: 'cdn-logs-*' });
    expect(body).toEqual({
      size: 0,
      query: {
        bool: {
          filter: [
            { range: { '@timestamp': { gte: range.fromMs, lte: range.toMs, format: 'epoch_millis' } } },
            { query_string: { analyze_wildcard: true, query: 'resp_status:503' } },
          ],
        },
      },
      aggs: {
        '3': {
          terms: { field: 'api_name', size: 5, order: { _count: 'desc' }, min_doc_count: 1 },
          aggs: {
            '4': {
              date_histogram: { field: '@timestamp', fixed_interval: '1m', min_doc_count: 0, extended_bounds: { min: range.fromMs, max: range.toMs }, format: 'epoch_millis' },
              aggs: { '2': { percentiles: { field: 'elapsed_time', percents: [99] } } },
            },
          },
        },
      },
    });
  });
});

describe('math expressions', () => {
  const series = (labels: Record<string, string>, values: [number, number][]) => ({ name: 'requests', labels, points: values.map(([time, value]) => ({ time, value })) });
  it('joins series by identical labels and time, and applies numbers to every point', () => {
    const hits = [series({ product: 'a' }, [[0, 1], [60, 3]]), series({ product: 'b' }, [[0, 2]])];
    const all = [series({ product: 'b' }, [[0, 4]]), series({ product: 'a' }, [[0, 4], [60, 0]])];
    expect(evaluateMath('$hits / $all * 100', { hits, all })).toEqual([
      { name: 'requests', labels: { product: 'a' }, points: [{ time: 0, value: 25 }, { time: 60, value: null }] },
      { name: 'requests', labels: { product: 'b' }, points: [{ time: 0, value: 50 }] },
    ]);
    expect(() => evaluateMath('$nope + 1', { hits })).toThrow(/\$nope/);
    expect(evaluateMath('$all * ($all >= 4) + (1 < 2 && 0 || 1)', { all })[0]!.points).toEqual([{ time: 0, value: 5 }]);
    expect(evaluateMath('$all * ($all >= 4)', { all })[1]!.points).toEqual([{ time: 0, value: 4 }, { time: 60, value: 0 }]);
  });
});
