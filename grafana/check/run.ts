// `cdnkit grafana check`: every panel query of the generated dashboards, run against the user's
// own InfluxDB, Elasticsearch and Prometheus exactly as Grafana would send it (variables and
// macros expanded), reporting panels that error or return no data.
import type { Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE_UIDS } from '../datasources.js';
import type { ElasticsearchQuery } from '../queries/elasticsearch.js';
import type { InfluxQLQuery } from '../queries/influxql.js';
import { hasData, type QueryResult, type Series } from './frames.js';
import { panelIntervalMs, type Scope, type TimeRange, type VariableValues } from './interpolate.js';
import { evaluateMath } from './math.js';
import { influxTagValues, runElasticsearch, runInfluxQL, runPromQL, type ElasticsearchTarget, type InfluxTarget, type PrometheusTarget } from './sources.js';

export interface CheckTargets {
  influxdb: InfluxTarget;
  elasticsearch: ElasticsearchTarget;
  /** Without it, the Prometheus panels are reported as not checked. */
  prometheus?: PrometheusTarget;
}

export interface CheckOptions {
  range: TimeRange;
  /** Grafana sizes $__interval by the panel's width in pixels; without a browser, this. */
  maxDataPoints?: number;
  /** Selected values per variable; a variable not named here is "All" (every value its query finds). */
  variables?: VariableValues;
}

export interface PanelCheck {
  dashboardUid: string;
  panelId: number;
  title: string;
  status: 'ok' | 'error' | 'no data' | 'not checked';
  /** What was wrong, for error and not checked. */
  reason?: string;
  /** Visible queries and expressions, by refId. */
  results: QueryResult[];
}

export const DEFAULT_MAX_DATA_POINTS = 1000;

type Target = Dataquery & { refId?: string; hide?: boolean; datasource?: DataSourceRef; expression?: string; type?: string };

/** Each query variable's options, from its own query, narrowed to the selection. */
export async function resolveVariables(dashboard: Dashboard, targets: CheckTargets, selected: VariableValues = {}): Promise<VariableValues> {
  const values: VariableValues = {};
  for (const variable of dashboard.templating.list ?? []) {
    if (variable.type !== 'query' || typeof variable.query !== 'string') continue;
    const options = variable.datasource?.uid === DATASOURCE_UIDS.influxdb ? await influxTagValues(targets.influxdb, variable.query) : [];
    values[variable.name] = selected[variable.name] ?? options;
  }
  return values;
}

export async function checkPanel(dashboardUid: string, panel: Panel, targets: CheckTargets, scope: Omit<Scope, 'intervalMs'>, maxDataPoints: number): Promise<PanelCheck> {
  const intervalMs = panelIntervalMs(scope.range, panel.maxDataPoints ?? maxDataPoints, panel.interval);
  const full: Scope = { ...scope, intervalMs };
  const base = { dashboardUid, panelId: panel.id ?? 0, title: panel.title ?? '' };
  const queries = (panel.targets ?? []) as Target[];
  const results = new Map<string, QueryResult>();
  for (const query of queries) {
    const uid = query.datasource?.uid ?? panel.datasource?.uid;
    const refId = query.refId ?? 'A';
    if (uid === '__expr__') continue;
    if (uid === DATASOURCE_UIDS.influxdb) results.set(refId, await runInfluxQL(targets.influxdb, query as unknown as InfluxQLQuery, full));
    else if (uid === DATASOURCE_UIDS.elasticsearch) results.set(refId, await runElasticsearch(targets.elasticsearch, query as unknown as ElasticsearchQuery, full));
    else if (uid === DATASOURCE_UIDS.prometheus) {
      if (!targets.prometheus) return { ...base, status: 'not checked', reason: 'no Prometheus to query', results: [] };
      results.set(refId, await runPromQL(targets.prometheus, query as { refId?: string; expr?: string }, full));
    } else return { ...base, status: 'error', reason: `query ${refId}: unknown datasource uid ${uid}`, results: [] };
  }
  for (const query of queries.filter((q) => q.datasource?.uid === '__expr__')) {
    const refId = query.refId ?? 'A';
    if (query.type !== 'math') return { ...base, status: 'error', reason: `expression ${refId}: only math expressions appear on panels`, results: [] };
    const inputs: Record<string, Series[]> = Object.fromEntries([...results].map(([id, r]) => [id, r.series]));
    try {
      results.set(refId, { refId, sent: query.expression!, series: evaluateMath(query.expression!, inputs), documents: [] });
    } catch (error) {
      results.set(refId, { refId, sent: query.expression!, series: [], documents: [], error: (error as Error).message });
    }
  }
  const failed = [...results.values()].find((r) => r.error);
  const visible = queries.filter((q) => !q.hide).map((q) => results.get(q.refId ?? 'A')!);
  if (failed) return { ...base, status: 'error', reason: `query ${failed.refId}: ${failed.error}`, results: visible };
  return { ...base, status: visible.some(hasData) ? 'ok' : 'no data', results: visible };
}

export async function checkDashboards(dashboards: Dashboard[], targets: CheckTargets, options: CheckOptions): Promise<PanelCheck[]> {
  const checks: PanelCheck[] = [];
  for (const dashboard of dashboards) {
    const variables = await resolveVariables(dashboard, targets, options.variables);
    for (const panel of (dashboard.panels ?? []) as Panel[]) {
      checks.push(await checkPanel(dashboard.uid ?? '', panel, targets, { range: options.range, variables }, options.maxDataPoints ?? DEFAULT_MAX_DATA_POINTS));
    }
  }
  return checks;
}
