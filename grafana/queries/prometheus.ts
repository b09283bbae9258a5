// PromQL queries of the bridges' own metrics (src/bridge/telemetry.ts), through the SDK's builder.
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { prometheusRef } from '../datasources.js';

export function promQuery(expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().datasource(prometheusRef).expr(expr).legendFormat(legend).format(PromQueryFormat.TimeSeries).range();
}
