// What the smoke test asks Grafana's own /api/ds/query for: every panel of every generated
// dashboard, its queries as Grafana's frontend sends them (template variables expanded, with the
// macros Grafana's backends expand left to them or expanded the same way), and how to tell
// whether an answer holds data. Pure: the smoke script does the HTTP; the tests check coverage.
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { interpolateInfluxQL, interpolateLucene, interpolatePromQL, panelIntervalMs, type Scope, type TimeRange, type VariableValues } from '../../grafana/check/interpolate.js';
import { DATASOURCE_UIDS, expressionRef } from '../../grafana/datasources.js';
import { parseDuration } from '../../grafana/durations.js';

/** The Prometheus datasource's scrape interval (its jsonData.timeInterval), for $__rate_interval. */
export const PROMETHEUS_SCRAPE_MS = parseDuration('15s');
export const MAX_DATA_POINTS = 1000;

interface Target {
  refId?: string;
  hide?: boolean;
  datasource?: { type?: string; uid?: string };
  query?: string;
  expr?: string;
  [key: string]: unknown;
}

export interface PanelRequest {
  dashboardUid: string;
  panelId: number;
  title: string;
  /** refIds whose data the panel shows (not hidden). */
  visible: string[];
  /** The body of POST /api/ds/query. */
  body: { from: string; to: string; queries: Record<string, unknown>[] };
}

/** The query variables of a dashboard that read their options from InfluxDB, as ds/query bodies. */
export function variableRequests(dashboard: Dashboard, range: TimeRange): { name: string; body: PanelRequest['body'] }[] {
  return (dashboard.templating.list ?? [])
    .filter((v) => v.type === 'query' && typeof v.query === 'string' && v.datasource?.uid === DATASOURCE_UIDS.influxdb)
    .map((v) => ({
      name: v.name,
      body: {
        from: String(range.fromMs),
        to: String(range.toMs),
        queries: [{ refId: 'A', datasource: v.datasource, query: v.query as string, rawQuery: true, resultFormat: 'table', maxDataPoints: MAX_DATA_POINTS, intervalMs: 60_000 }],
      },
    }));
}

function sentTarget(target: Target, panel: Panel, scope: Scope): Record<string, unknown> {
  const datasource = target.datasource ?? panel.datasource;
  const common = { ...target, refId: target.refId ?? 'A', datasource, intervalMs: scope.intervalMs, maxDataPoints: panel.maxDataPoints ?? MAX_DATA_POINTS };
  switch (datasource?.uid) {
    case DATASOURCE_UIDS.influxdb:
      return { ...common, query: interpolateInfluxQL(target.query ?? '', scope) };
    case DATASOURCE_UIDS.elasticsearch:
      return { ...common, query: interpolateLucene(target.query ?? '', scope) };
    case DATASOURCE_UIDS.prometheus:
      return { ...common, expr: interpolatePromQL(target.expr ?? '', scope, PROMETHEUS_SCRAPE_MS) };
    case expressionRef.uid:
      return { ...target, refId: target.refId ?? 'A', datasource: expressionRef };
    default:
      throw new Error(`panel "${panel.title}": query ${target.refId ?? 'A'} has an unknown datasource uid ${datasource?.uid}`);
  }
}

/** One request per panel of every dashboard; `variables` by dashboard uid (absent: no variables). */
export function panelRequests(dashboards: Dashboard[], variables: Record<string, VariableValues>, range: TimeRange): PanelRequest[] {
  return dashboards.flatMap((dashboard) =>
    ((dashboard.panels ?? []) as Panel[]).map((panel) => {
      const scope: Scope = {
        range,
        intervalMs: panelIntervalMs(range, panel.maxDataPoints ?? MAX_DATA_POINTS, panel.interval),
        variables: variables[dashboard.uid ?? ''] ?? {},
      };
      const targets = (panel.targets ?? []) as unknown as Target[];
      return {
        dashboardUid: dashboard.uid ?? '',
        panelId: panel.id ?? 0,
        title: panel.title ?? '',
        visible: targets.filter((t) => !t.hide).map((t) => t.refId ?? 'A'),
        body: { from: String(range.fromMs), to: String(range.toMs), queries: targets.map((t) => sentTarget(t, panel, scope)) },
      };
    }),
  );
}

/** The part of Grafana's /api/ds/query answer read here: data frames by refId. */
export interface DsQueryResponse {
  results?: Record<string, { error?: string; frames?: { schema?: { fields?: { name: string }[] }; data?: { values?: unknown[][] } }[] }>;
}

/** Errors of the answer, by refId. */
export function responseErrors(response: DsQueryResponse): string[] {
  return Object.entries(response.results ?? {}).flatMap(([refId, r]) => (r.error ? [`${refId}: ${r.error}`] : []));
}

/** Whether a visible query returned at least one row with a value besides the time. */
export function hasPanelData(response: DsQueryResponse, visible: string[]): boolean {
  return visible.some((refId) =>
    (response.results?.[refId]?.frames ?? []).some((frame) => {
      const columns = frame.data?.values ?? [];
      const names = frame.schema?.fields?.map((f) => f.name) ?? [];
      return columns.some((column, i) => names[i] !== 'Time' && names[i] !== 'time' && column.some((v) => v !== null && v !== undefined));
    }),
  );
}

/** The distinct values of a variable query's answer: its "value" column (SHOW TAG VALUES), else the last. */
export function variableValues(response: DsQueryResponse): string[] {
  const frames = response.results?.A?.frames ?? [];
  return [
    ...new Set(
      frames.flatMap((frame) => {
        const names = frame.schema?.fields?.map((f) => f.name.toLowerCase()) ?? [];
        const columns = frame.data?.values ?? [];
        const at = names.indexOf('value');
        return (columns[at >= 0 ? at : columns.length - 1] ?? []).map(String);
      }),
    ),
  ];
}
