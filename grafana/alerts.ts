// Alert rules, contact point, notification policy and message template, built through the SDK's
// alerting types (the shape of Grafana's HTTP API; generators/grafana.ts turns them into the
// provisioning file's shape). Rules query InfluxDB only: alerting on errors must come from the
// metric stream, within seconds, not from a search index that lags.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import {
  ContactPointBuilder,
  NotificationPolicyBuilder,
  NotificationTemplateBuilder,
  QueryBuilder,
  RuleBuilder,
  type ContactPoint,
  type NotificationPolicy,
  type NotificationTemplate,
  type Rule,
} from '@grafana/grafana-foundation-sdk/alerting';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { TypeMathBuilder, TypeReduceBuilder, TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
import type { KitConfig } from '../src/config/schema.js';
import { DASHBOARD_UIDS, countQuery } from './dashboards/common.js';
import { DATASOURCE_UIDS, expressionRef, type EnvReference } from './datasources.js';
import { formatDuration, parseDuration, prometheusDuration } from './durations.js';
import { ROLE_TAGS, type DashboardModel } from './model.js';
import { InfluxQLQueryBuilder, type Condition, type SelectSpec } from './queries/influxql.js';

/** Severities, defined once: the label every rule carries and the policy can route on. */
export const SEVERITY = { critical: 'critical', warning: 'warning' } as const;
export const CONTACT_POINT = 'cdnkit-slack';
export const RULE_GROUP = 'cdnkit';
export const FOLDER_UID = 'cdnkit';
export const TEMPLATE_NAME = 'cdnkit';
/** The label every cdnkit rule carries: a notification route matches its alerts by it. */
export const RULE_MARKER = { name: 'cdnkit', value: 'true' } as const;

export interface AlertResources {
  rules: Rule[];
  contactPoint: ContactPoint;
  policy: NotificationPolicy;
  template: NotificationTemplate;
}

type Comparison = 'gt' | 'lt';

interface Windows {
  /** The recent window, and the baseline window before it, as `time` bounds in the query text. */
  recent: { from: string };
  baseline: { from: string; to: string };
  recentSeconds: number;
  baselineSeconds: number;
  /** How many recent windows fit in the baseline: the baseline count divided by this is comparable. */
  ratio: number;
}

function windows(config: KitConfig): Windows {
  const recent = parseDuration(config.grafana.alerts.window);
  const baseline = parseDuration(config.grafana.alerts.baseline);
  return {
    recent: { from: formatDuration(recent) },
    baseline: { from: formatDuration(recent + baseline), to: formatDuration(recent) },
    recentSeconds: recent / 1000,
    baselineSeconds: (recent + baseline) / 1000,
    ratio: baseline / recent,
  };
}

function influx(refId: string, spec: SelectSpec, seconds: { from: number; to?: number }): QueryBuilder {
  return new QueryBuilder(refId)
    .datasourceUid(DATASOURCE_UIDS.influxdb)
    .relativeTimeRange({ from: seconds.from, to: seconds.to ?? 0 })
    .model(new InfluxQLQueryBuilder(spec).refId(refId));
}

const expression = (refId: string, model: Builder<Dataquery>) => new QueryBuilder(refId).datasourceUid('__expr__').model(model);
/** Each series to one number: the window's queries have no time buckets, so the sum is the value. */
const reduce = (refId: string, input: string) =>
  expression(refId, new TypeReduceBuilder().refId(refId).datasource(expressionRef).expression(input).reducer('sum').settings({ mode: 'dropNN' }));
const math = (refId: string, text: string) => expression(refId, new TypeMathBuilder().refId(refId).datasource(expressionRef).expression(text));
const threshold = (refId: string, input: string, type: Comparison, value: number) =>
  expression(refId, new TypeThresholdBuilder().refId(refId).datasource(expressionRef).expression(input).conditions([{ evaluator: { type, params: [value] } }]));

/** A count over a fixed window (no time buckets): one value per group. */
function windowCount(model: DashboardModel, where: Condition[], groupByTags: string[], window: SelectSpec['window']): SelectSpec {
  return { ...countQuery(model, { filter: [], where, groupByTags }), timeBucket: undefined, fill: undefined, window };
}

interface RuleSpec {
  uid: string;
  title: string;
  severity: keyof typeof SEVERITY;
  summary: string;
  description: string;
  panel: { dashboardUid: string; title: string };
  data: QueryBuilder[];
  condition: string;
  noDataState: Rule['noDataState'];
}

function panelId(dashboards: Dashboard[], at: RuleSpec['panel']): number {
  const panel = dashboards.find((d) => d.uid === at.dashboardUid)?.panels?.find((p) => 'title' in p && p.title === at.title);
  if (!panel?.id) throw new Error(`alert rule refers to a panel that is not generated: ${at.dashboardUid} / ${at.title}`);
  return panel.id;
}

function ruleSpecs(config: KitConfig, model: DashboardModel): RuleSpec[] {
  const w = windows(config);
  const a = config.grafana.alerts;
  const recent = { from: w.recentSeconds };
  const base = { from: w.baselineSeconds, to: w.recentSeconds };
  const product = model.has(ROLE_TAGS.product) ? [ROLE_TAGS.product] : [];
  const serverErrors: Condition = { tag: ROLE_TAGS.status, matches: 'regex', regex: '^5' };
  const errors: Condition = { tag: ROLE_TAGS.status, matches: 'regex', regex: model.errorStatusRegex };
  const specs: RuleSpec[] = [];
  /** The 5xx ratio rule; `serverErrorCount` is the numerator's query. */
  const serverErrorRule = (uid: string, by: string[], serverErrorCount: SelectSpec, panel: RuleSpec['panel'], what: string, summary: string): RuleSpec => ({
    uid,
    title: `5xx ratio per ${what}`,
    severity: 'critical',
    summary: `${summary} (${a.minRequests} requests or more)`,
    description: `{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}: 5xx share {{ humanizePercentage $values.E.Value }} over the last ${a.window}.`,
    panel,
    data: [
      influx('A', serverErrorCount, recent),
      influx('B', windowCount(model, [], by, w.recent), recent),
      reduce('C', 'A'),
      reduce('D', 'B'),
      // A few requests make no ratio: groups below minRequests count as 0.
      math('E', `$C / $D * ($D >= ${a.minRequests})`),
      threshold('F', 'E', 'gt', a.serverErrorRatio),
    ],
    condition: 'F',
    noDataState: 'OK',
  });
  if (model.has(ROLE_TAGS.status)) {
    const overThreshold = `5xx responses above ${a.serverErrorRatio * 100} % of requests`;
    if (model.has(ROLE_TAGS.api)) {
      const byApi = [...product, ROLE_TAGS.api];
      // A burst on one API is that API's alert, not also the product's: the product rule counts
      // the 5xx of every API but the one with the most (an InfluxQL subquery: sum - max per
      // product), so it fires when errors are spread across APIs, and pages once for one API.
      const beyondWorstApi: SelectSpec = {
        from: windowCount(model, [serverErrors], byApi, w.recent),
        select: [{ aggregate: { fn: 'sum', field: 'requests' }, minus: { fn: 'max', field: 'requests' }, as: 'requests' }],
        where: [],
        groupByTags: product,
      };
      const productSummary = `${overThreshold} per product, not counting its API with the most (that one is the per-API rule's)`;
      specs.push(serverErrorRule('cdnkit-5xx-ratio-product', product, beyondWorstApi, { dashboardUid: DASHBOARD_UIDS.overview, title: '4xx and 5xx per minute' }, 'product', productSummary));
      const apiPanel = { dashboardUid: DASHBOARD_UIDS.productDetail, title: `Errors by ${ROLE_TAGS.api}` };
      specs.push(serverErrorRule('cdnkit-5xx-ratio-api', byApi, windowCount(model, [serverErrors], byApi, w.recent), apiPanel, 'API', `${overThreshold} per API`));
    } else {
      const productPanel = { dashboardUid: DASHBOARD_UIDS.overview, title: '4xx and 5xx per minute' };
      specs.push(serverErrorRule('cdnkit-5xx-ratio-product', product, windowCount(model, [serverErrors], product, w.recent), productPanel, 'product', `${overThreshold} per product`));
    }
    specs.push({
      uid: 'cdnkit-error-ratio-baseline',
      title: 'Error ratio against its baseline',
      severity: 'warning',
      summary: `Error share ${a.errorRatioIncrease} times its share in the ${a.baseline} before`,
      description: `{{ $labels.product }}: the share of responses logged as errors over the last ${a.window} is {{ humanize $values.I.Value }} times its baseline.`,
      panel: { dashboardUid: DASHBOARD_UIDS.overview, title: 'Status classes' },
      data: [
        influx('A', windowCount(model, [errors], product, w.recent), recent),
        influx('B', windowCount(model, [], product, w.recent), recent),
        influx('C', windowCount(model, [errors], product, w.baseline), base),
        influx('D', windowCount(model, [], product, w.baseline), base),
        reduce('E', 'A'),
        reduce('F', 'B'),
        reduce('G', 'C'),
        reduce('H', 'D'),
        math('I', `($E / $F) / ($G / $H) * ($F >= ${a.minRequests})`),
        threshold('J', 'I', 'gt', a.errorRatioIncrease),
      ],
      condition: 'J',
      noDataState: 'OK',
    });
  }
  specs.push({
    uid: 'cdnkit-traffic-drop',
    title: 'Traffic drop against its baseline',
    severity: 'warning',
    summary: `Requests below ${a.trafficDropRatio * 100} % of the rate of the ${a.baseline} before`,
    description: `{{ $labels.product }}: requests over the last ${a.window} are {{ humanizePercentage $values.E.Value }} of the baseline rate.`,
    panel: { dashboardUid: DASHBOARD_UIDS.overview, title: 'Requests per minute' },
    data: [
      influx('A', windowCount(model, [], product, w.recent), recent),
      influx('B', windowCount(model, [], product, w.baseline), base),
      reduce('C', 'A'),
      reduce('D', 'B'),
      math('E', `$C * ${w.ratio} / $D`),
      threshold('F', 'E', 'lt', a.trafficDropRatio),
    ],
    condition: 'F',
    noDataState: 'OK',
  });
  const elapsed = model.timings.find((t) => t.name === 'elapsed_time');
  if (elapsed) {
    const byPop = [...product, ...(model.has(ROLE_TAGS.pop) ? [ROLE_TAGS.pop] : [])];
    specs.push({
      uid: 'cdnkit-p99-elapsed',
      title: 'p99 elapsed time',
      severity: 'warning',
      summary: `p99 of ${elapsed.name} above ${a.p99ElapsedMs} ms`,
      description: `{{ $labels.product }} {{ $labels.pop }}: p99 ${elapsed.name} {{ $values.B.Value }} ms over the last ${a.window}.`,
      panel: { dashboardUid: DASHBOARD_UIDS.overview, title: `${elapsed.name} p95 and p99` },
      data: [
        influx(
          'A',
          { from: model.measurement, select: [{ aggregate: { fn: 'percentile', field: elapsed.name, percentile: 99 }, as: 'p99' }], where: [], groupByTags: byPop, window: w.recent },
          recent,
        ),
        reduce('B', 'A'),
        threshold('C', 'B', 'gt', a.p99ElapsedMs),
      ],
      condition: 'C',
      noDataState: 'OK',
    });
  }
  specs.push({
    uid: 'cdnkit-no-data',
    title: 'No data from the pipeline',
    severity: 'critical',
    summary: `No request reached InfluxDB in the last ${a.window}`,
    description: 'Nothing was written to the metrics bucket: the CDN, the receivers, Kafka or the metrics bridge has stopped. See the pipeline-health dashboard.',
    panel: { dashboardUid: DASHBOARD_UIDS.overview, title: 'Requests per minute' },
    data: [influx('A', windowCount(model, [], [], w.recent), recent), reduce('B', 'A'), threshold('C', 'B', 'lt', 1)],
    condition: 'C',
    // No rows at all is exactly what this rule is for.
    noDataState: 'Alerting',
  });
  return specs;
}

const MESSAGE_TEMPLATE = `{{ define "cdnkit.slack.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}{{ end }}
{{ define "cdnkit.slack.text" }}{{ range .Alerts }}*{{ .Annotations.summary }}* ({{ .Labels.severity }})
{{ .Annotations.description }}
{{ if .PanelURL }}Panel: {{ .PanelURL }}{{ else if .DashboardURL }}Dashboard: {{ .DashboardURL }}{{ end }}
{{ end }}{{ end }}`;

export function alertResources(config: KitConfig, model: DashboardModel, dashboards: Dashboard[]): AlertResources {
  const a = config.grafana.alerts;
  const rules = ruleSpecs(config, model).map((spec) =>
    new RuleBuilder(spec.title)
      .uid(spec.uid)
      .folderUID(FOLDER_UID)
      .ruleGroup(RULE_GROUP)
      .orgID(1)
      .queries(spec.data)
      .condition(spec.condition)
      .noDataState(spec.noDataState)
      .execErrState('Error')
      // Grafana answers `for` in Prometheus' canonical form (120s -> 2m): written so, it compares equal.
      .forDuration(prometheusDuration(parseDuration(a.for)))
      .isPaused(false)
      .labels({ severity: SEVERITY[spec.severity], [RULE_MARKER.name]: RULE_MARKER.value })
      .annotations({
        summary: spec.summary,
        description: spec.description,
        // Grafana shows the rule's state on this panel and links its messages to it.
        __dashboardUid__: spec.panel.dashboardUid,
        __panelId__: String(panelId(dashboards, spec.panel)),
      })
      .build(),
  );
  // The webhook URL is a secret: only ever an environment reference in the model. The provisioning
  // file writes it as ${VAR}; `grafana push` reads the variable when it sends the contact point.
  const slack: Record<string, string | EnvReference> = {
    url: { env: config.grafana.slack.webhookUrlEnv },
    title: '{{ template "cdnkit.slack.title" . }}',
    text: '{{ template "cdnkit.slack.text" . }}',
  };
  if (config.grafana.slack.channel) slack.recipient = config.grafana.slack.channel;
  return {
    rules,
    contactPoint: new ContactPointBuilder().uid(CONTACT_POINT).name(CONTACT_POINT).type('slack').settings(slack).disableResolveMessage(false).build(),
    policy: new NotificationPolicyBuilder()
      .receiver(CONTACT_POINT)
      .groupBy(['grafana_folder', 'alertname', ...[ROLE_TAGS.product, ROLE_TAGS.api].filter(model.has)])
      .groupWait('30s')
      .groupInterval('5m')
      .repeatInterval('4h')
      .build(),
    template: new NotificationTemplateBuilder().name(TEMPLATE_NAME).template(MESSAGE_TEMPLATE).build(),
  };
}
