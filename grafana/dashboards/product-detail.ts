// Product detail (depth): the same traffic sliced by every configured tag, with a variable each.
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { ROLE_TAGS, type DashboardModel } from '../model.js';
import { panel } from '../panels.js';
import { InfluxQLQueryBuilder } from '../queries/influxql.js';
import { DASHBOARD_UIDS, aliasOf, countQuery, hitRatioTargets, percentileQuery, statusClassTargets, tagVariable, variableFilter } from './common.js';

/** Tags that are one constant per kit: a variable, but no "by" panel. */
const CONSTANT_TAGS: string[] = [ROLE_TAGS.product, ROLE_TAGS.environment];

export function productDetailDashboard(model: DashboardModel): DashboardBuilder {
  const filter = variableFilter(model.tags);
  const dashboard = new DashboardBuilder(`${model.product}: CDN product detail`)
    .uid(DASHBOARD_UIDS.productDetail)
    .tags(['cdnkit', 'cdn'])
    .description('Depth: one product sliced by every tag of the kit config, each tag a variable.')
    .time({ from: 'now-1h', to: 'now' })
    .refresh('1m');
  for (const tag of model.tags) dashboard.withVariable(tagVariable(model, tag));

  if (model.has(ROLE_TAGS.status)) {
    dashboard.withPanel(
      panel('timeseries', { title: 'Status classes', description: 'Requests per minute by status class.', unit: 'reqpm', targets: statusClassTargets(model, filter) }),
    );
  }
  if (model.has(ROLE_TAGS.cache)) {
    dashboard.withPanel(
      panel('timeseries', {
        title: 'Cache hit ratio',
        description: 'Requests answered from cache (cache status starting with HIT) over all requests.',
        unit: 'percentunit',
        targets: hitRatioTargets(model, filter, []),
      }),
    );
  }
  for (const tag of model.tags.filter((t) => !CONSTANT_TAGS.includes(t))) {
    dashboard.withPanel(
      panel('timeseries', {
        title: `Requests by ${tag}`,
        description: `Requests per minute, one series per value of the ${tag} tag.`,
        unit: 'reqpm',
        targets: [new InfluxQLQueryBuilder(countQuery(model, { filter, groupByTags: [tag] })).alias(aliasOf([tag]))],
      }),
    );
  }
  if (model.has(ROLE_TAGS.status)) {
    const errors = { tag: ROLE_TAGS.status, matches: 'regex', regex: model.errorStatusRegex } as const;
    for (const tag of [ROLE_TAGS.api, ROLE_TAGS.backend, ROLE_TAGS.actualBackend].filter(model.has)) {
      dashboard.withPanel(
        panel('timeseries', {
          title: `Errors by ${tag}`,
          description: `Requests per minute logged as errors (status ${model.errorStatusRegex}), by ${tag}.`,
          unit: 'reqpm',
          targets: [new InfluxQLQueryBuilder(countQuery(model, { filter, where: [errors], groupByTags: [tag] })).alias(aliasOf([tag]))],
        }),
      );
    }
    const authTags = [ROLE_TAGS.pop, ROLE_TAGS.api].filter(model.has);
    dashboard.withPanel(
      panel('timeseries', {
        title: `401 and 403 by ${authTags.join(' and ') || 'status'}`,
        description: 'Refused requests (401 Unauthorized, 403 Forbidden) per minute: a credential or WAF storm shows here first.',
        unit: 'reqpm',
        targets: [
          new InfluxQLQueryBuilder(
            countQuery(model, { filter, where: [{ tag: ROLE_TAGS.status, matches: 'regex', regex: '^(401|403)$' }], groupByTags: [...authTags, ROLE_TAGS.status] }),
          ).alias(aliasOf([...authTags, ROLE_TAGS.status])),
        ],
      }),
    );
  }
  const byApi = model.has(ROLE_TAGS.api) ? [ROLE_TAGS.api] : [];
  for (const timing of model.timings) {
    dashboard.withPanel(
      panel('timeseries', {
        title: `${timing.name} p95 and p99${byApi.length ? ` by ${ROLE_TAGS.api}` : ''}`,
        description: `95th and 99th percentile of ${timing.name} (${timing.description}).`,
        unit: timing.unit,
        targets: [new InfluxQLQueryBuilder(percentileQuery(model, timing.name, filter, byApi)).alias(aliasOf(byApi, '$col'))],
      }),
    );
  }
  return dashboard;
}
