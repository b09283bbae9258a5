// Overview (breadth): every product at a glance, each linking to its detail dashboard.
import { DashboardBuilder, DashboardLinkBuilder, DashboardLinkType } from '@grafana/grafana-foundation-sdk/dashboard';
import { ROLE_TAGS, type DashboardModel } from '../model.js';
import { panel } from '../panels.js';
import { InfluxQLQueryBuilder } from '../queries/influxql.js';
import {
  DASHBOARD_UIDS,
  aliasOf,
  countQuery,
  hitRatioTargets,
  percentileQuery,
  statusClassTargets,
  tagVariable,
  variableFilter,
} from './common.js';

export function overviewDashboard(model: DashboardModel): DashboardBuilder {
  const variables = [ROLE_TAGS.product, ROLE_TAGS.environment].filter(model.has);
  const filter = variableFilter(variables);
  const byProduct = variables.includes(ROLE_TAGS.product) ? [ROLE_TAGS.product] : [];
  const detailLink = `/d/${DASHBOARD_UIDS.productDetail}?\${__url_time_range}&var-${ROLE_TAGS.product}=\${__data.fields.${ROLE_TAGS.product}}`;
  const dashboard = new DashboardBuilder(`${model.product}: CDN overview`)
    .uid(DASHBOARD_UIDS.overview)
    .tags(['cdnkit', 'cdn'])
    .description('Breadth: every product behind the CDN, request rate, status classes, cache hits, errors and latency.')
    .time({ from: 'now-1h', to: 'now' })
    .refresh('1m')
    .link(new DashboardLinkBuilder('CDN dashboards').type(DashboardLinkType.Dashboards).tags(['cdnkit']).asDropdown(true).includeVars(true).keepTime(true));
  for (const variable of variables) dashboard.withVariable(tagVariable(model, variable));

  dashboard.withPanel(
    panel('table', {
      title: 'Products',
      description: 'Requests per product over the time range; click a product to open its detail dashboard.',
      unit: 'short',
      width: 24,
      targets: [new InfluxQLQueryBuilder({ ...countQuery(model, { filter, groupByTags: byProduct }), timeBucket: undefined, fill: undefined }).table()],
      links: [new DashboardLinkBuilder('Product detail').url(detailLink)],
    }),
  );
  dashboard.withPanel(
    panel('timeseries', {
      title: 'Requests per minute',
      description: 'Every request the CDN answered, per product.',
      unit: 'reqpm',
      targets: [new InfluxQLQueryBuilder(countQuery(model, { filter, groupByTags: byProduct })).alias(aliasOf(byProduct, 'requests'))],
    }),
  );
  if (model.has(ROLE_TAGS.status)) {
    dashboard.withPanel(
      panel('timeseries', {
        title: 'Status classes',
        description: 'Requests per minute by status class (1xx to 5xx), all selected products.',
        unit: 'reqpm',
        targets: statusClassTargets(model, filter),
      }),
    );
    dashboard.withPanel(
      panel('timeseries', {
        title: '4xx and 5xx per minute',
        description: 'Client and server errors per minute, per product.',
        unit: 'reqpm',
        targets: statusClassTargets(model, filter, byProduct).slice(3),
      }),
    );
  }
  if (model.has(ROLE_TAGS.cache)) {
    dashboard.withPanel(
      panel('timeseries', {
        title: 'Cache hit ratio',
        description: 'Requests answered from cache (cache status starting with HIT) over all requests, per product.',
        unit: 'percentunit',
        targets: hitRatioTargets(model, filter, byProduct),
      }),
    );
  }
  for (const timing of model.timings) {
    dashboard.withPanel(
      panel('timeseries', {
        title: `${timing.name} p95 and p99`,
        description: `95th and 99th percentile of ${timing.name} (${timing.description}), per product.`,
        unit: timing.unit,
        targets: [new InfluxQLQueryBuilder(percentileQuery(model, timing.name, filter, byProduct)).alias(aliasOf(byProduct, '$col'))],
      }),
    );
  }
  return dashboard;
}
