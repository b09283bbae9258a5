// Grafana file provisioning for the compose stack: datasources, a dashboards provider and the
// dashboards (built in grafana/). Grafana interpolates environment variables in provisioning
// YAML values ($VAR, ${VAR}), so secrets stay references and every literal `$` is written `$$`.
// Dashboard JSON files are not interpolated: their `$` are Grafana's own variables and macros.
import { stringify } from 'yaml';
import type { KitConfig } from '../src/config/schema.js';
import type { Rule } from '@grafana/grafana-foundation-sdk/alerting';
import { FOLDER_UID, RULE_GROUP, type AlertResources } from '../grafana/alerts.js';
import { grafanaResources } from '../grafana/index.js';
import type { EnvReference, ProvisionedDatasource } from '../grafana/datasources.js';
import type { Artifact } from './artifact.js';

/** Where the compose stack mounts the generated dashboards inside the Grafana container. */
export const DASHBOARDS_PATH = '/var/lib/grafana/dashboards/cdnkit';

type Interpolated = string | EnvReference | (string | EnvReference)[];

/** A literal for an interpolated provisioning value: `$` doubled so Grafana keeps it. */
export function escapeDollar(text: string): string {
  return text.replaceAll('$', '$$$$');
}

function interpolated(value: Interpolated): string {
  if (Array.isArray(value)) return value.map(interpolated).join('');
  return typeof value === 'string' ? escapeDollar(value) : `\${${value.env}}`;
}

/** Every string of a provisioning document as Grafana must read it. */
function provisioningValues(value: unknown): unknown {
  if (typeof value === 'string') return escapeDollar(value);
  if (Array.isArray(value)) return value.map(provisioningValues);
  if (value !== null && typeof value === 'object') {
    if ('env' in value) return interpolated(value as EnvReference);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, provisioningValues(v)]));
  }
  return value;
}

function datasourceEntry(ds: ProvisionedDatasource): object {
  const { secureJsonData, basicAuthUser, ...plain } = ds;
  return {
    ...(provisioningValues(plain) as object),
    ...(basicAuthUser === undefined ? {} : { basicAuthUser: interpolated(basicAuthUser) }),
    ...(secureJsonData === undefined ? {} : { secureJsonData: Object.fromEntries(Object.entries(secureJsonData).map(([k, v]) => [k, interpolated(v)])) }),
  };
}

/**
 * A rule as the provisioning file has it, which differs from the HTTP API's shape the SDK types:
 * keepFiringFor and missing_series_evals_to_resolve are cased the other way round, and labels are
 * interpolated (a literal `$` doubled) while annotations and queries are not.
 */
function provisionedRule(rule: Rule): object {
  return {
    uid: rule.uid,
    title: rule.title,
    condition: rule.condition,
    // JSON drops the SDK's marker method (_implementsDataqueryVariant), as it does in the dashboards.
    data: rule.data.map((q) => ({ refId: q.refId, relativeTimeRange: q.relativeTimeRange, datasourceUid: q.datasourceUid, model: JSON.parse(JSON.stringify(q.model)) as object })),
    noDataState: rule.noDataState,
    execErrState: rule.execErrState,
    for: rule.for,
    ...(rule.keep_firing_for === undefined ? {} : { keepFiringFor: rule.keep_firing_for }),
    ...(rule.missingSeriesEvalsToResolve === undefined ? {} : { missing_series_evals_to_resolve: rule.missingSeriesEvalsToResolve }),
    annotations: rule.annotations,
    labels: provisioningValues(rule.labels ?? {}),
    isPaused: rule.isPaused ?? false,
  };
}

/** Alert rules (folder by title, interval as a duration), contact point, policy and template. */
export function alertingDocument(config: KitConfig, alerts: AlertResources): object {
  const { contactPoint, policy, template } = alerts;
  return {
    apiVersion: 1,
    groups: [{ orgId: 1, name: RULE_GROUP, folder: escapeDollar(config.grafana.folder), interval: config.grafana.alerts.evaluationInterval, rules: alerts.rules.map(provisionedRule) }],
    contactPoints: [
      {
        orgId: 1,
        name: contactPoint.name,
        receivers: [
          {
            uid: contactPoint.uid,
            type: contactPoint.type,
            // The webhook URL is an environment reference already: everything else is literal.
            settings: Object.fromEntries(
              Object.entries(contactPoint.settings as Record<string, string>).map(([k, v]) => [k, k === 'url' ? v : escapeDollar(v)]),
            ),
            disableResolveMessage: contactPoint.disableResolveMessage ?? false,
          },
        ],
      },
    ],
    policies: [{ orgId: 1, ...policy }],
    templates: [{ orgId: 1, name: template.name, template: template.template }],
  };
}

const yamlFile = (banner: string, document: object) => `# ${banner}\n${stringify(document, { lineWidth: 0 })}`;

export function generateGrafana(config: KitConfig): Artifact[] {
  const resources = grafanaResources(config);
  return [
    {
      path: 'grafana/provisioning/datasources/cdnkit.yaml',
      content: yamlFile('Generated by cdnkit: datasources with fixed uids (dashboards and rules refer to them).', {
        apiVersion: 1,
        datasources: resources.datasources.map(datasourceEntry),
      }),
      description: 'Grafana datasource provisioning: InfluxDB (InfluxQL), Elasticsearch, Prometheus; secrets as environment references',
    },
    {
      path: 'grafana/provisioning/dashboards/cdnkit.yaml',
      content: yamlFile('Generated by cdnkit: the dashboards provider.', {
        apiVersion: 1,
        providers: [
          provisioningValues({
            name: 'cdnkit',
            orgId: 1,
            folder: config.grafana.folder,
            folderUid: FOLDER_UID,
            type: 'file',
            disableDeletion: false,
            allowUiUpdates: true,
            updateIntervalSeconds: 60,
            options: { path: DASHBOARDS_PATH, foldersFromFilesStructure: false },
          }),
        ],
      }),
      description: `Grafana dashboards provider: the files of grafana/dashboards/, mounted at ${DASHBOARDS_PATH}`,
    },
    {
      path: 'grafana/provisioning/alerting/cdnkit.yaml',
      content: yamlFile('Generated by cdnkit: alert rules, the Slack contact point (webhook URL from the environment), policy and message template.', alertingDocument(config, resources.alerts)),
      description: `Grafana alerting provisioning: ${resources.alerts.rules.length} rules, Slack contact point ($${config.grafana.slack.webhookUrlEnv}), notification policy, message template`,
    },
    ...resources.dashboards.map(({ name, dashboard }) => ({
      path: `grafana/dashboards/${name}.json`,
      content: `${JSON.stringify(dashboard, null, 2)}\n`,
      description: `Grafana dashboard "${dashboard.title}" (uid ${dashboard.uid})`,
    })),
  ];
}
