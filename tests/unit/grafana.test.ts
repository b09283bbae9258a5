// The Grafana provisioning files and dashboards: each rule that makes Grafana refuse to start or
// stop reconciling is stated and checked here (Grafana itself cannot run on this machine; its live
// acceptance is the compose smoke test).
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertingDocument, generateGrafana } from '../../generators/grafana.js';
import { DATASOURCE_UIDS } from '../../grafana/datasources.js';
import { grafanaResources } from '../../grafana/index.js';
import { ElasticsearchQueryBuilder } from '../../grafana/queries/elasticsearch.js';
import { InfluxQLQueryBuilder, escapeRegex, statusAtLeastRegex } from '../../grafana/queries/influxql.js';
import { referenceConfig, referenceFields } from '../../src/config/preset.js';
import { kitConfigSchema, type KitConfigInput } from '../../src/config/schema.js';

const kit = (overrides: Partial<KitConfigInput> = {}) => kitConfigSchema.parse({ ...referenceConfig, ...overrides });
const files = (config = kit()) => Object.fromEntries(generateGrafana(config).map((a) => [a.path, a.content]));
const datasourcesFile = (config = kit()) => parse(files(config)['grafana/provisioning/datasources/cdnkit.yaml']!) as { datasources: Record<string, unknown>[] };
const dashboards = (config = kit()) => grafanaResources(config).dashboards.map((d) => d.dashboard);

/** Every object with a `datasource` key, anywhere in a dashboard. */
function datasourceRefs(value: unknown, found: { uid?: string; type?: string }[] = []): { uid?: string; type?: string }[] {
  if (Array.isArray(value)) value.forEach((v) => datasourceRefs(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'datasource' && v && typeof v === 'object') found.push(v as { uid?: string });
      else datasourceRefs(v, found);
    }
  }
  return found;
}

describe('datasource provisioning', () => {
  it('gives each datasource a fixed uid of the form Grafana accepts, so a regenerated file never changes one', () => {
    const uids = datasourcesFile().datasources.map((d) => d.uid);
    expect(uids).toEqual([DATASOURCE_UIDS.influxdb, DATASOURCE_UIDS.elasticsearch, DATASOURCE_UIDS.prometheus]);
    for (const uid of uids) expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(datasourcesFile(kit({ product: 'other' })).datasources.map((d) => d.uid)).toEqual(uids);
  });

  it('marks exactly one datasource as the default (two defaults in one org stop Grafana)', () => {
    expect(datasourcesFile().datasources.filter((d) => d.isDefault === true)).toHaveLength(1);
  });

  it('keeps every datasource url within 255 characters, and refuses nothing it cannot keep', () => {
    for (const d of datasourcesFile().datasources) expect(String(d.url).length).toBeLessThanOrEqual(255);
  });

  it("points each datasource where the config says: the sinks' urls, and grafana.prometheusUrl (the compose stack's by default)", () => {
    const { sinks } = kit();
    expect(datasourcesFile().datasources.map((d) => d.url)).toEqual([sinks.influxdb.url, sinks.elasticsearch.url, 'http://prometheus:9090']);
    const moved = datasourcesFile(kit({ grafana: { prometheusUrl: 'https://prom.example.net:9443' } })).datasources;
    expect(moved[2]!.url).toBe('https://prom.example.net:9443');
  });

  it('queries InfluxDB with InfluxQL against the bucket (its DBRP database), Elasticsearch by index pattern and time field', () => {
    const [influx, es] = datasourcesFile(kit({ sinks: { influxdb: { bucket: 'edge' }, elasticsearch: { indexPrefix: 'errs' } } })).datasources;
    expect(influx!.jsonData).toMatchObject({ version: 'InfluxQL', dbName: 'edge' });
    expect(es!.jsonData).toMatchObject({ index: 'errs-*', timeField: '@timestamp' });
  });

  it('writes secrets only as environment references, and doubles every literal $ (Grafana interpolates values)', () => {
    const config = kit({
      sinks: { influxdb: { tokenEnv: 'MY_TOKEN', url: 'http://influx:8086/$prefix' }, elasticsearch: { usernameEnv: 'ES_USER', passwordEnv: 'ES_PASS' } },
      grafana: { folder: 'CDN $pend' },
    });
    const [influx, es] = datasourcesFile(config).datasources;
    expect(influx!.secureJsonData).toEqual({ httpHeaderValue1: 'Token ${MY_TOKEN}' });
    expect(influx!.url).toBe('http://influx:8086/$$prefix');
    expect(es!.basicAuthUser).toBe('${ES_USER}');
    expect(es!.secureJsonData).toEqual({ basicAuthPassword: '${ES_PASS}' });
    const provider = parse(files(config)['grafana/provisioning/dashboards/cdnkit.yaml']!) as { providers: { folder: string }[] };
    expect(provider.providers[0]!.folder).toBe('CDN $$pend');
  });
});

describe('dashboards', () => {
  it('are schemaVersion 42 (Grafana 12 and 13), with fixed uids and unique panel ids', () => {
    for (const d of dashboards()) {
      expect(d.schemaVersion).toBe(42);
      expect(d.uid).toMatch(/^cdnkit-[a-z-]+$/);
      const ids = d.panels!.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('reference datasources only by the uids provisioned with them: no __inputs, no ${DS_...}', () => {
    const known = new Set([...datasourcesFile().datasources.map((d) => d.uid), '__expr__']);
    for (const [path, content] of Object.entries(files()).filter(([p]) => p.endsWith('.json'))) {
      expect(content, path).not.toContain('__inputs');
      expect(content, path).not.toContain('${DS_');
      const refs = datasourceRefs(JSON.parse(content));
      expect(refs.length, path).toBeGreaterThan(0);
      for (const ref of refs) expect(known, `${path}: ${JSON.stringify(ref)}`).toContain(ref.uid);
    }
  });

  it('give every panel a description and a unit', () => {
    for (const d of dashboards()) {
      for (const p of d.panels!) {
        const panel = p as { title: string; description?: string; fieldConfig?: { defaults?: { unit?: string } } };
        expect(panel.description, `${d.title}: ${panel.title}`).toBeTruthy();
        expect(panel.fieldConfig?.defaults?.unit, `${d.title}: ${panel.title}`).toBeTruthy();
      }
    }
  });

  it('make a template variable and a panel of a custom tag, and percentile panels of a custom numeric field', () => {
    const config = kit({
      fields: [
        ...referenceFields,
        { name: 'tenant', roles: ['log', 'tag'], fastly: 'req.http.Tenant', varnish: 'req.http.Tenant' },
        { name: 'origin_ms', type: 'integer', roles: ['field'], fastly: 'req.http.Origin-Ms', varnish: 'req.http.Origin-Ms' },
      ],
    });
    const detail = dashboards(config).find((d) => d.uid === 'cdnkit-product-detail')!;
    expect(detail.templating.list!.map((v) => v.name)).toContain('tenant');
    const titles = detail.panels!.map((p) => (p as { title: string }).title);
    expect(titles).toContain('Requests by tenant');
    expect(titles).toContain('origin_ms p95 and p99 by api_name');
    expect(dashboards().find((d) => d.uid === 'cdnkit-product-detail')!.templating.list!.map((v) => v.name)).not.toContain('tenant');
  });
});

describe('units', () => {
  const unitOf = (config: ReturnType<typeof kit>, title: string) =>
    (dashboards(config).find((d) => d.uid === 'cdnkit-overview')!.panels!.find((p) => (p as { title: string }).title === title) as { fieldConfig: { defaults: { unit: string } } }).fieldConfig.defaults.unit;

  it("come from a field's unit in the config, the reference names giving only the default", () => {
    expect(unitOf(kit(), 'elapsed_time p95 and p99')).toBe('ms');
    expect(unitOf(kit(), 'time_to_first_byte p95 and p99')).toBe('s');
    const config = kit({
      fields: [
        ...referenceFields.map((f) => (f.name === 'elapsed_time' ? { ...f, unit: 's' as const } : f)),
        { name: 'body_size', type: 'integer', roles: ['field'], unit: 'decbytes', fastly: 'resp.body_bytes_written', varnish: { ncsa: '%b' } },
        { name: 'queue_ms', type: 'integer', roles: ['field'], fastly: 'req.http.Queue-Ms', varnish: 'req.http.Queue-Ms' },
      ],
    });
    expect(unitOf(config, 'elapsed_time p95 and p99')).toBe('s');
    expect(unitOf(config, 'body_size p95 and p99')).toBe('decbytes');
    expect(unitOf(config, 'queue_ms p95 and p99')).toBe('none');
  });
});

describe('query objects', () => {
  it('InfluxQL: assembled from typed parts, with Grafana macros and variables left for Grafana to expand', () => {
    const query = new InfluxQLQueryBuilder({
      from: 'cdnmetrics',
      select: [{ aggregate: { fn: 'percentile', field: 'elapsed_time', percentile: 99 }, as: 'p99' }],
      where: [
        { tag: 'api_name', matches: 'variable', variable: 'api_name' },
        { tag: 'pop', matches: 'equals', value: "o'hare" },
      ],
      timeBucket: '$__interval',
      groupByTags: ['api_name'],
      fill: 'none',
    })
      .refId('A')
      .build();
    expect(query).toMatchObject({
      refId: 'A',
      rawQuery: true,
      resultFormat: 'time_series',
      datasource: { type: 'influxdb', uid: DATASOURCE_UIDS.influxdb },
      query: `SELECT percentile("elapsed_time", 99) AS "p99" FROM "cdnmetrics" WHERE $timeFilter AND "api_name" =~ /^$api_name$/ AND "pop" = 'o\\'hare' GROUP BY time($__interval), "api_name" fill(none)`,
    });
    expect(escapeRegex('a.b/c|d')).toBe('a\\.b\\/c\\|d');
  });

  it('statusAtLeastRegex matches exactly the statuses from the threshold to 599', () => {
    const wrong: string[] = [];
    for (let min = 100; min <= 599; min++) {
      const regex = new RegExp(statusAtLeastRegex(min));
      for (let status = 100; status <= 599; status++) if (regex.test(String(status)) !== status >= min) wrong.push(`${min} vs ${status}`);
    }
    expect(wrong).toEqual([]);
    expect(statusAtLeastRegex(400)).toBe('^(40[0-9]|4[1-9][0-9]|5[0-9][0-9])$');
  });

  it('Elasticsearch: metric aggregations carry their real type (the SDK emits "unknown"), bucket aggregations nest in order', () => {
    const query = new ElasticsearchQueryBuilder('resp_status:[500 TO 599]').count().percentiles('elapsed_time', [95, 99]).terms('api_name', 10).dateHistogram('1m').build();
    expect(query.metrics).toEqual([
      { id: '1', type: 'count' },
      { id: '2', type: 'percentiles', field: 'elapsed_time', settings: { percents: ['95', '99'] } },
    ]);
    expect(query.bucketAggs).toEqual([
      { id: '3', type: 'terms', field: 'api_name', settings: { size: '10', order: 'desc', orderBy: '_count', min_doc_count: '1' } },
      { id: '4', type: 'date_histogram', field: '@timestamp', settings: { interval: '1m', min_doc_count: '0' } },
    ]);
    expect(query).toMatchObject({ query: 'resp_status:[500 TO 599]', timeField: '@timestamp', datasource: { uid: DATASOURCE_UIDS.elasticsearch } });
    expect(new ElasticsearchQueryBuilder().logs(100).build().metrics).toEqual([{ id: '1', type: 'logs', settings: { limit: '100' } }]);
    expect(JSON.stringify(dashboards())).not.toContain('"unknown"');
  });
});

describe('alerting provisioning', () => {
  type FileRule = { uid: string; title: string; condition: string; data: { refId: string; datasourceUid: string; model: { expression?: string } }[]; labels: Record<string, string>; annotations: Record<string, string>; for: string; keepFiringFor?: string; missing_series_evals_to_resolve?: number };
  type AlertingFile = {
    groups: { name: string; folder: string; interval: string; rules: FileRule[] }[];
    contactPoints: { name: string; receivers: { uid: string; type: string; settings: Record<string, string> }[] }[];
    policies: { receiver: string; group_by: string[] }[];
    templates: { name: string; template: string }[];
  };
  const alerting = (config = kit()) => parse(files(config)['grafana/provisioning/alerting/cdnkit.yaml']!) as AlertingFile;

  it('gives every rule a unique uid Grafana accepts (^[a-zA-Z0-9_-]{1,40}$)', () => {
    const uids = alerting().groups[0]!.rules.map((r) => r.uid);
    expect(uids.length).toBe(6);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  });

  it('uses the file shape: folder by title, interval as a duration, for from the config', () => {
    const config = kit({ grafana: { folder: 'Edge', alerts: { evaluationInterval: '30s', for: '5m' } } });
    const group = alerting(config).groups[0]!;
    expect(group).toMatchObject({ name: 'cdnkit', folder: 'Edge', interval: '30s' });
    for (const rule of group.rules) expect(rule.for).toBe('5m');
    const provider = parse(files(config)['grafana/provisioning/dashboards/cdnkit.yaml']!) as { providers: { folder: string }[] };
    expect(provider.providers[0]!.folder).toBe(group.folder);
  });

  it('cases keepFiringFor and missing_series_evals_to_resolve as the file expects, and doubles $ in labels but not in annotations', () => {
    const resources = grafanaResources(kit()).alerts;
    const rule = { ...resources.rules[0]!, keep_firing_for: '10m', missingSeriesEvalsToResolve: 3, labels: { team: 'pay$', severity: 'critical' } };
    const document = alertingDocument(kit(), { ...resources, rules: [rule] }) as AlertingFile;
    const written = document.groups[0]!.rules[0]!;
    expect(written.keepFiringFor).toBe('10m');
    expect(written.missing_series_evals_to_resolve).toBe(3);
    expect(written).not.toHaveProperty('keep_firing_for');
    expect(written).not.toHaveProperty('missingSeriesEvalsToResolve');
    expect(written.labels).toEqual({ team: 'pay$$', severity: 'critical' });
    expect(written.annotations.description).toContain('$labels');
    expect(written.annotations.description).not.toContain('$$');
  });

  it('refers only to generated datasources, dashboards and panels, and to its own queries', () => {
    const datasourceUids = new Set([...datasourcesFile().datasources.map((d) => d.uid), '__expr__']);
    const panels = new Set(dashboards().flatMap((d) => d.panels!.map((p) => `${d.uid}/${p.id}`)));
    for (const rule of alerting().groups[0]!.rules) {
      const refIds = rule.data.map((q) => q.refId);
      expect(refIds, rule.uid).toContain(rule.condition);
      for (const q of rule.data) {
        expect(datasourceUids, rule.uid).toContain(q.datasourceUid);
        for (const ref of (q.model.expression ?? '').match(/\$\w+/g) ?? []) expect(refIds, `${rule.uid} ${q.refId}`).toContain(ref.slice(1));
      }
      expect(panels, rule.uid).toContain(`${rule.annotations.__dashboardUid__}/${rule.annotations.__panelId__}`);
    }
  });

  it('sends to Slack with the webhook URL only as an environment reference; no generated file holds the URL', () => {
    const secret = 'https://hooks.slack.com/services/T000/B000/XXXXSECRET';
    process.env.MY_SLACK_HOOK = secret;
    try {
      const config = kit({ grafana: { slack: { webhookUrlEnv: 'MY_SLACK_HOOK', channel: '#cdn-$alerts' } } });
      const document = alerting(config);
      const receiver = document.contactPoints[0]!.receivers[0]!;
      expect(receiver).toMatchObject({ type: 'slack', settings: { url: '${MY_SLACK_HOOK}', recipient: '#cdn-$$alerts' } });
      expect(document.policies[0]).toMatchObject({ receiver: document.contactPoints[0]!.name, group_by: ['grafana_folder', 'alertname', 'product', 'api_name'] });
      expect(document.templates[0]!.template).toContain('.PanelURL');
      for (const [path, content] of Object.entries(files(config))) expect(content, path).not.toContain('hooks.slack.com');
    } finally {
      delete process.env.MY_SLACK_HOOK;
    }
  });
});
