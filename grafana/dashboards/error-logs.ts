// Error logs (Elasticsearch): the JSON lines of every response at or above errors.minStatus.
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { ROLE_TAGS, type DashboardModel } from '../model.js';
import { panel } from '../panels.js';
import { ElasticsearchQueryBuilder } from '../queries/elasticsearch.js';
import { DASHBOARD_UIDS } from './common.js';

/** How many values the "top" panels show. */
export const TOP_VALUES = 20;

export function errorLogsDashboard(model: DashboardModel): DashboardBuilder {
  const dashboard = new DashboardBuilder(`${model.product}: CDN error logs`)
    .uid(DASHBOARD_UIDS.errorLogs)
    .tags(['cdnkit', 'cdn'])
    .description('The error logs in Elasticsearch: latest errors, and where they come from.')
    .time({ from: 'now-1h', to: 'now' })
    .refresh('1m');
  dashboard.withPanel(
    panel('logs', {
      title: 'Latest errors',
      description: 'The newest error log lines, every logged field expandable.',
      unit: 'none',
      width: 24,
      targets: [new ElasticsearchQueryBuilder().logs(100)],
    }),
  );
  const status = model.logKey(ROLE_TAGS.status);
  if (status) {
    dashboard.withPanel(
      panel('timeseries', {
        title: 'Errors per minute by status',
        description: 'Logged errors per minute, one series per status.',
        unit: 'reqpm',
        targets: [new ElasticsearchQueryBuilder().count().terms(status, TOP_VALUES).dateHistogram('1m')],
      }),
    );
  }
  const url = model.logKey('request_url');
  const tops: [string, string | undefined][] = [
    ['URLs', url],
    ['statuses', status],
    ['APIs', model.logKey(ROLE_TAGS.api)],
    ['backends', model.logKey(ROLE_TAGS.backend)],
    ['POPs', model.logKey(ROLE_TAGS.pop)],
  ];
  for (const [what, key] of tops) {
    if (!key) continue;
    dashboard.withPanel(
      panel('table', {
        title: `Top error ${what}`,
        description: `The ${TOP_VALUES} ${key} values with the most logged errors in the time range.`,
        unit: 'short',
        width: 8,
        targets: [new ElasticsearchQueryBuilder().count().terms(key, TOP_VALUES)],
      }),
    );
  }
  return dashboard;
}
