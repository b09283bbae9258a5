// Pipeline health (Prometheus): the bridges' own /metrics (src/bridge/telemetry.ts).
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import type { DashboardModel } from '../model.js';
import { panel } from '../panels.js';
import { promQuery } from '../queries/prometheus.js';
import { DASHBOARD_UIDS } from './common.js';

const rate = (metric: string, by: string) => `sum by (${by}) (rate(${metric}[$__rate_interval]))`;

export function pipelineHealthDashboard(model: DashboardModel): DashboardBuilder {
  const dashboard = new DashboardBuilder(`${model.product}: CDN pipeline health`)
    .uid(DASHBOARD_UIDS.pipelineHealth)
    .tags(['cdnkit', 'cdn'])
    .description('The Kafka bridges: lines in, written, retried and dead-lettered, batch latency and consumer lag.')
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s');
  const panels = [
    { title: 'Lines consumed', description: 'Lines read from Kafka per second, per bridge.', unit: 'cps', expr: rate('cdnkit_bridge_consumed_lines_total', 'bridge'), legend: '{{bridge}}' },
    { title: 'Lines written', description: 'Lines the sink acknowledged per second, per bridge.', unit: 'cps', expr: rate('cdnkit_bridge_written_lines_total', 'bridge'), legend: '{{bridge}}' },
    { title: 'Lines retried', description: 'Lines written again after a retriable sink failure, per second: the sink is struggling.', unit: 'cps', expr: rate('cdnkit_bridge_retried_lines_total', 'bridge'), legend: '{{bridge}}' },
    { title: 'Lines dead-lettered', description: 'Lines sent to the dead-letter topic per second, by bridge and kind of reason.', unit: 'cps', expr: rate('cdnkit_bridge_dead_lettered_lines_total', 'bridge, reason'), legend: '{{bridge}} {{reason}}' },
    {
      title: 'Batch latency p99',
      description: 'From receiving a batch to committing its offsets, 99th percentile, per bridge.',
      unit: 's',
      expr: `histogram_quantile(0.99, ${rate('cdnkit_bridge_batch_duration_seconds_bucket', 'bridge, le')})`,
      legend: '{{bridge}}',
    },
    { title: 'Consumer lag', description: 'Messages behind the partitions\' high watermarks after the last batch, per bridge and topic.', unit: 'short', expr: 'sum by (bridge, topic) (cdnkit_bridge_consumer_lag_lines)', legend: '{{bridge}} {{topic}}' },
  ];
  for (const p of panels) dashboard.withPanel(panel('timeseries', { title: p.title, description: p.description, unit: p.unit, targets: [promQuery(p.expr, p.legend)] }));
  return dashboard;
}
