// Elasticsearch queries as Grafana's Elasticsearch datasource stores them. The SDK's metric
// aggregation builders emit `type: "unknown"` (count, percentiles, logs, raw data), which Grafana
// cannot run, so the metric aggregations are typed here; the bucket aggregations are the SDK's.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { BucketAggregationType, TermsOrder, type DateHistogram, type Terms } from '@grafana/grafana-foundation-sdk/elasticsearch';
import { ES_TIME_FIELD, elasticsearchRef } from '../datasources.js';

export type EsMetric =
  | { id: string; type: 'count' }
  | { id: string; type: 'percentiles'; field: string; settings: { percents: string[] } }
  | { id: string; type: 'logs'; settings: { limit: string } }
  | { id: string; type: 'raw_data'; settings: { size: string } };

export type EsBucketAggregation = Terms | DateHistogram;

export interface ElasticsearchQuery extends Dataquery {
  refId?: string;
  hide?: boolean;
  datasource?: DataSourceRef;
  /** Lucene query string; `*` for all. */
  query: string;
  alias?: string;
  timeField: string;
  metrics: EsMetric[];
  /** Nested in this order: the first is the outermost. */
  bucketAggs: EsBucketAggregation[];
}

export class ElasticsearchQueryBuilder implements Builder<ElasticsearchQuery> {
  private readonly internal: ElasticsearchQuery;
  private nextId = 1;

  constructor(query = '*') {
    this.internal = { datasource: elasticsearchRef, query, timeField: ES_TIME_FIELD, metrics: [], bucketAggs: [], _implementsDataqueryVariant() {} };
  }

  build(): ElasticsearchQuery {
    return this.internal;
  }

  private id(): string {
    return String(this.nextId++);
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  count(): this {
    this.internal.metrics.push({ id: this.id(), type: 'count' });
    return this;
  }

  percentiles(field: string, percents: number[]): this {
    this.internal.metrics.push({ id: this.id(), type: 'percentiles', field, settings: { percents: percents.map(String) } });
    return this;
  }

  /** The latest documents, newest first. */
  logs(limit: number): this {
    this.internal.metrics.push({ id: this.id(), type: 'logs', settings: { limit: String(limit) } });
    return this;
  }

  rawData(size: number): this {
    this.internal.metrics.push({ id: this.id(), type: 'raw_data', settings: { size: String(size) } });
    return this;
  }

  /** Top `size` values of a keyword field by document count. */
  terms(field: string, size: number): this {
    this.internal.bucketAggs.push({
      id: this.id(),
      type: BucketAggregationType.Terms,
      field,
      settings: { size: String(size), order: TermsOrder.Desc, orderBy: '_count', min_doc_count: '1' },
    });
    return this;
  }

  /** Buckets of $__interval (or a fixed interval) on the time field. */
  dateHistogram(interval = 'auto'): this {
    this.internal.bucketAggs.push({ id: this.id(), type: BucketAggregationType.DateHistogram, field: ES_TIME_FIELD, settings: { interval, min_doc_count: '0' } });
    return this;
  }
}
