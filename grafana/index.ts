// Grafana as code: the datasources, dashboards and alerting derived from the kit config, built through
// @grafana/grafana-foundation-sdk's types. generators/grafana.ts writes them as provisioning files.
import type { Dashboard, DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import type { KitConfig } from '../src/config/schema.js';
import { errorLogsDashboard } from './dashboards/error-logs.js';
import { overviewDashboard } from './dashboards/overview.js';
import { pipelineHealthDashboard } from './dashboards/pipeline-health.js';
import { productDetailDashboard } from './dashboards/product-detail.js';
import { alertResources, type AlertResources } from './alerts.js';
import { datasources, type ProvisionedDatasource } from './datasources.js';
import { dashboardModel } from './model.js';

export interface GrafanaResources {
  datasources: ProvisionedDatasource[];
  /** File name (without .json) -> dashboard. */
  dashboards: { name: string; dashboard: Dashboard }[];
  alerts: AlertResources;
}

export function grafanaResources(config: KitConfig): GrafanaResources {
  const model = dashboardModel(config);
  const built = (builder: DashboardBuilder): Dashboard => {
    const dashboard = builder.build();
    // Fixed panel ids: alert rules point at a panel by dashboard uid and panel id.
    dashboard.panels?.forEach((panel, i) => (panel.id = i + 1));
    return dashboard;
  };
  const dashboards = [
    { name: 'overview', dashboard: built(overviewDashboard(model)) },
    { name: 'product-detail', dashboard: built(productDetailDashboard(model)) },
    { name: 'error-logs', dashboard: built(errorLogsDashboard(model)) },
    { name: 'pipeline-health', dashboard: built(pipelineHealthDashboard(model)) },
  ];
  return {
    datasources: datasources(config),
    dashboards,
    alerts: alertResources(config, model, dashboards.map((d) => d.dashboard)),
  };
}
