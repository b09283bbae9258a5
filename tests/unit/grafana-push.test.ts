// The plan of `cdnkit grafana push`, against Grafana's GET answers as its HTTP API documents them
// (tests/unit/support/grafana-answers.ts): what is created, updated or left alone, in which order,
// with which bodies, and that no secret reaches any printed line. Whether a live Grafana accepts the
// bodies is the compose stack's smoke test; no Grafana runs here.
import { describe, expect, it } from 'vitest';
import { grafanaResources } from '../../grafana/index.js';
import { MAX_DATASOURCE_URL, pushSetProblems, RULE_UID } from '../../grafana/push/checks.js';
import { applyPlan } from '../../grafana/push/client.js';
import { changes, type Json } from '../../grafana/push/compare.js';
import { redactor, secretValues } from '../../grafana/push/index.js';
import { describeStep, plan, type PlanStep } from '../../grafana/push/plan.js';
import { pushResources, type Environment, type PushResource } from '../../grafana/push/resources.js';
import { referenceConfig } from '../../src/config/preset.js';
import { kitConfigSchema, type KitConfigInput } from '../../src/config/schema.js';
import { applyWrite, freshGrafana } from './support/grafana-answers.js';

const SECRETS = {
  CDNKIT_INFLUX_TOKEN: 'influx-token-5ecret',
  CDNKIT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXXSECRET',
  ES_USER: 'cdn-reader',
  ES_PASS: 'es-pass-5ecret',
  CDNKIT_GRAFANA_TOKEN: 'glsa_grafana_5ecret',
};
const kit = (overrides: Partial<KitConfigInput> = {}) =>
  kitConfigSchema.parse({ ...referenceConfig, sinks: { elasticsearch: { usernameEnv: 'ES_USER', passwordEnv: 'ES_PASS' } }, ...overrides });
const resourcesOf = (config = kit(), env: Environment = SECRETS) => pushResources(config, grafanaResources(config), env);
const planOn = (answers: Map<string, Json | undefined>, options: { env?: Environment; resendSecrets?: boolean; config?: ReturnType<typeof kit> } = {}) =>
  plan(resourcesOf(options.config ?? kit(), options.env ?? SECRETS), answers, { env: options.env ?? SECRETS, resendSecrets: options.resendSecrets ?? false });
const actions = (steps: PlanStep[]) => steps.map((s) => `${s.action} ${s.resource.kind} ${s.resource.id}`);
const printed = (steps: PlanStep[]) => steps.flatMap((s) => [...describeStep(s, false), ...describeStep(s, true)]).join('\n');

/** Sends every write of the plan into the documented answers, as a push would. */
function applied(steps: PlanStep[], answers = freshGrafana()) {
  for (const s of steps) if (s.request) applyWrite(answers, s.request);
  return answers;
}

describe('grafana push plan', () => {
  it('creates everything on a fresh Grafana, in dependency order, with the documented methods and paths', () => {
    const steps = planOn(freshGrafana());
    expect(actions(steps)).toEqual([
      'create folder cdnkit',
      'create datasource cdnkit-influxdb',
      'create datasource cdnkit-elasticsearch',
      'create datasource cdnkit-prometheus',
      'create dashboard cdnkit-overview',
      'create dashboard cdnkit-product-detail',
      'create dashboard cdnkit-error-logs',
      'create dashboard cdnkit-pipeline-health',
      'create template cdnkit',
      'create contact point cdnkit-slack',
      // Grafana's default tree exists; cdnkit's route in it does not.
      'create policy cdnkit=true',
      'create rule group cdnkit/cdnkit',
    ]);
    expect(steps.map((s) => `${s.request!.method} ${s.request!.path}`)).toEqual([
      'POST /api/folders',
      'POST /api/datasources',
      'POST /api/datasources',
      'POST /api/datasources',
      'POST /api/dashboards/db',
      'POST /api/dashboards/db',
      'POST /api/dashboards/db',
      'POST /api/dashboards/db',
      'PUT /api/v1/provisioning/templates/cdnkit',
      'POST /api/v1/provisioning/contact-points',
      'PUT /api/v1/provisioning/policies',
      'PUT /api/v1/provisioning/folder/cdnkit/rule-groups/cdnkit',
    ]);
  });

  it('sends bodies in the API shape: folder by uid, dashboards into it with overwrite, rules as their group with the interval in seconds', () => {
    const config = kit({ grafana: { folder: 'Edge CDN', alerts: { evaluationInterval: '30s', for: '120s' } } });
    const bodies = Object.fromEntries(planOn(freshGrafana(), { config }).map((s) => [`${s.resource.kind} ${s.resource.id}`, s.request!.body as Record<string, Json>]));
    expect(bodies['folder cdnkit']).toEqual({ uid: 'cdnkit', title: 'Edge CDN' });
    expect(bodies['dashboard cdnkit-overview']).toMatchObject({ folderUid: 'cdnkit', overwrite: true, dashboard: { uid: 'cdnkit-overview', schemaVersion: 42 } });
    const group = bodies['rule group cdnkit/cdnkit'] as { title: string; folderUid: string; interval: number; rules: Record<string, Json>[] };
    expect(group).toMatchObject({ title: 'cdnkit', folderUid: 'cdnkit', interval: 30 });
    expect(group.rules.map((r) => r.uid)).toEqual(grafanaResources(config).alerts.rules.map((r) => r.uid));
    // As Grafana answers it (Prometheus' form), so an unchanged rule compares equal.
    for (const rule of group.rules) expect(rule).toMatchObject({ folderUID: 'cdnkit', ruleGroup: 'cdnkit', for: '2m' });
    const influx = bodies['datasource cdnkit-influxdb']!;
    expect(influx).not.toHaveProperty('editable');
    expect(influx).toMatchObject({ uid: 'cdnkit-influxdb', type: 'influxdb', isDefault: false, jsonData: { version: 'InfluxQL' } });
    expect(bodies['datasource cdnkit-elasticsearch']).toMatchObject({ basicAuth: true, basicAuthUser: 'cdn-reader', secureJsonData: { basicAuthPassword: SECRETS.ES_PASS } });
    expect(bodies['contact point cdnkit-slack']).toMatchObject({ uid: 'cdnkit-slack', type: 'slack', settings: { url: SECRETS.CDNKIT_SLACK_WEBHOOK_URL } });
    expect(bodies['template cdnkit']!.template).toContain('define "cdnkit.slack.title"');
  });

  it('is idempotent: on the state its own writes leave, the next plan changes nothing', () => {
    const after = applied(planOn(freshGrafana()));
    const again = planOn(after);
    expect(again.filter((s) => s.action !== 'unchanged').map((s) => [actions([s]), s.changes])).toEqual([]);
    expect(again.every((s) => s.request === undefined)).toBe(true);
    // And the same after an update round.
    const renamed = kit({ grafana: { folder: 'Renamed' } });
    const third = planOn(applied(planOn(after, { config: renamed }), after), { config: renamed });
    expect(third.filter((s) => s.action !== 'unchanged')).toEqual([]);
  });

  it('updates exactly the resource that differs, and names the keys that differ', () => {
    const answers = applied(planOn(freshGrafana()));
    const overview = answers.get('/api/dashboards/uid/cdnkit-overview') as { dashboard: { title: string; panels: { title: string }[] } };
    overview.dashboard.panels[1]!.title = 'Edited in the UI';
    let steps = planOn(answers);
    expect(actions(steps.filter((s) => s.action !== 'unchanged'))).toEqual(['update dashboard cdnkit-overview']);
    expect(steps.find((s) => s.action === 'update')!.changes).toEqual([{ path: 'dashboard.panels[1].title', kind: 'changed', from: 'Edited in the UI', to: 'Requests per minute' }]);
    expect(printed(steps)).toContain('dashboard.panels[1].title: "Edited in the UI" -> "Requests per minute"');

    const fresh = applied(planOn(freshGrafana()));
    const group = fresh.get('/api/v1/provisioning/folder/cdnkit/rule-groups/cdnkit') as { rules: { uid: string; for: string }[] };
    group.rules.find((r) => r.uid === 'cdnkit-no-data')!.for = '10m';
    group.rules.push({ uid: 'made-by-hand', for: '1m' });
    steps = planOn(fresh);
    expect(actions(steps.filter((s) => s.action !== 'unchanged'))).toEqual(['update rule group cdnkit/cdnkit']);
    expect(steps.find((s) => s.action === 'update')!.changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['changed rules[cdnkit-no-data].for', 'removed rules[made-by-hand]']);
  });

  it('keeps the routes an existing notification policy tree has, and puts its own route first', () => {
    const answers = freshGrafana();
    const theirs = { receiver: 'pagerduty', object_matchers: [['team', '=', 'db']] };
    answers.set('/api/v1/provisioning/policies', { receiver: 'grafana-default-email', routes: [theirs], provenance: '' });
    const step = planOn(answers).find((s) => s.resource.kind === 'policy')!;
    const tree = step.request!.body as { receiver: string; routes: Record<string, Json>[] };
    expect(tree.receiver).toBe('grafana-default-email');
    expect(tree).not.toHaveProperty('provenance');
    expect(tree.routes).toHaveLength(2);
    expect(tree.routes[0]).toMatchObject({ receiver: 'cdnkit-slack', object_matchers: [['cdnkit', '=', 'true']], group_by: ['grafana_folder', 'alertname', 'product', 'api_name'] });
    expect(tree.routes[1]).toEqual(theirs);
    applyWrite(answers, step.request!);
    expect(planOn(answers).find((s) => s.resource.kind === 'policy')!.action).toBe('unchanged');
  });

  it('never makes its datasource the org default, and leaves one the owner made default so', () => {
    const answers = applied(planOn(freshGrafana()));
    (answers.get('/api/datasources/uid/cdnkit-influxdb') as { isDefault: boolean; url: string }).isDefault = true;
    (answers.get('/api/datasources/uid/cdnkit-influxdb') as { url: string }).url = 'http://elsewhere:8086';
    const step = planOn(answers).find((s) => s.resource.id === 'cdnkit-influxdb')!;
    expect(step.action).toBe('update');
    expect(step.request).toMatchObject({ method: 'PUT', path: '/api/datasources/uid/cdnkit-influxdb', body: { isDefault: true, url: 'http://influxdb:8086' } });
  });
});

describe('grafana push secrets', () => {
  // The Elasticsearch user name is not a secret: it is sent and compared as it is.
  const secrets = Object.entries(SECRETS).filter(([name]) => name !== 'ES_USER').map(([, value]) => value);

  it('sends each secret in its place and prints none, in plans that create, update and resend', () => {
    const creates = planOn(freshGrafana());
    const influx = creates.find((s) => s.resource.id === 'cdnkit-influxdb')!.request!.body as { secureJsonData: Record<string, string> };
    expect(influx.secureJsonData).toEqual({ httpHeaderValue1: `Token ${SECRETS.CDNKIT_INFLUX_TOKEN}` });
    const answers = applied(creates);
    (answers.get('/api/datasources/uid/cdnkit-elasticsearch') as { secureJsonFields: Record<string, boolean> }).secureJsonFields = {};
    const updates = planOn(answers);
    expect(actions(updates.filter((s) => s.action !== 'unchanged'))).toEqual(['update datasource cdnkit-elasticsearch']);
    expect(printed(updates)).toContain('secureJsonData.basicAuthPassword: (secret from $ES_PASS)');
    const resent = planOn(applied(creates), { resendSecrets: true });
    expect(actions(resent.filter((s) => s.action !== 'unchanged'))).toEqual([
      'update datasource cdnkit-influxdb',
      'update datasource cdnkit-elasticsearch',
      'update contact point cdnkit-slack',
    ]);
    for (const steps of [creates, updates, resent]) {
      const text = printed(steps);
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });

  it('a secret Grafana holds counts as unchanged: the Slack URL answered as [REDACTED] is not a difference', () => {
    const answers = applied(planOn(freshGrafana()));
    expect(answers.get('/api/v1/provisioning/contact-points?name=cdnkit-slack')).toEqual([expect.objectContaining({ settings: expect.objectContaining({ url: '[REDACTED]' }) })]);
    expect(planOn(answers).find((s) => s.resource.kind === 'contact point')!.action).toBe('unchanged');
  });

  it('plans without a secret in the environment, but writes nothing and names the variables', async () => {
    const env = { ...SECRETS, CDNKIT_SLACK_WEBHOOK_URL: undefined, CDNKIT_INFLUX_TOKEN: undefined };
    const steps = planOn(freshGrafana(), { env });
    const contact = steps.find((s) => s.resource.kind === 'contact point')!;
    expect(contact.request).toBeUndefined();
    expect(contact.missing).toEqual(['CDNKIT_SLACK_WEBHOOK_URL']);
    expect(describeStep(contact, false).join('\n')).toContain('needs the environment variable(s) CDNKIT_SLACK_WEBHOOK_URL');
    const sent: string[] = [];
    await expect(applyPlan({ get: async () => undefined, send: async (r) => void sent.push(r.path) }, steps, () => {})).rejects.toThrow(
      'nothing was written: set CDNKIT_INFLUX_TOKEN, CDNKIT_SLACK_WEBHOOK_URL first',
    );
    expect(sent).toEqual([]);
  });

  it('redacts every credential and resource secret from any text, errors included', () => {
    const redact = redactor(secretValues(kit(), SECRETS));
    const text = `POST /api/v1/provisioning/contact-points: 400 invalid url ${SECRETS.CDNKIT_SLACK_WEBHOOK_URL}; token ${SECRETS.CDNKIT_GRAFANA_TOKEN}, ${SECRETS.ES_PASS}, Token ${SECRETS.CDNKIT_INFLUX_TOKEN}`;
    const out = redact(text);
    for (const secret of secrets) expect(out).not.toContain(secret);
    expect(out).toContain('400 invalid url [redacted]');
  });
});

describe('grafana push bodies obey what makes Grafana refuse them', () => {
  const resources = resourcesOf();
  const desired = (kind: PushResource['kind']) => resources.filter((r) => r.kind === kind).map((r) => r.desired as Record<string, Json>);

  it('the generated set has no problem: rule uids, datasource urls, one default at most, references to pushed resources only', () => {
    expect(pushSetProblems(resources)).toEqual([]);
    const rules = (desired('rule group')[0]!.rules as { uid: string }[]).map((r) => r.uid);
    expect(rules).toHaveLength(6);
    for (const uid of rules) expect(uid).toMatch(RULE_UID);
    for (const ds of desired('datasource')) expect(String(ds.url).length).toBeLessThanOrEqual(MAX_DATASOURCE_URL);
  });

  it('each rule is caught: a bad rule uid, two defaults, a long url, a datasource, folder, panel or receiver that is not pushed', () => {
    const broken = (edit: (r: PushResource[]) => void) => {
      const copy = resourcesOf().map((r) => ({ ...r, desired: JSON.parse(JSON.stringify(r.desired)) as Json }));
      edit(copy);
      return pushSetProblems(copy);
    };
    const group = (r: PushResource[]) => r.find((x) => x.kind === 'rule group')!.desired as { folderUid: string; rules: { uid: string; data: { datasourceUid: string }[]; annotations: Record<string, string> }[] };
    const datasource = (r: PushResource[], i: number) => r.filter((x) => x.kind === 'datasource')[i]!.desired as { url: string; isDefault?: boolean };
    expect(broken((r) => (group(r).rules[0]!.uid = 'has space'))).toEqual(['rule "has space": uid must match ^[a-zA-Z0-9_-]{1,40}$']);
    expect(broken((r) => (group(r).rules[1]!.uid = group(r).rules[0]!.uid))).toEqual(['rule cdnkit-5xx-ratio-product: uid used twice']);
    expect(broken((r) => ((datasource(r, 0).isDefault = true), (datasource(r, 1).isDefault = true)))).toEqual(['more than one datasource is the default']);
    expect(broken((r) => (datasource(r, 2).url = `http://prometheus:9090/${'x'.repeat(250)}`))).toEqual(['datasource cdnkit-prometheus: url longer than 255 characters']);
    expect(broken((r) => (group(r).rules[0]!.data[0]!.datasourceUid = 'other'))).toEqual(['rule cdnkit-5xx-ratio-product: datasource other is not pushed']);
    expect(broken((r) => (group(r).rules[0]!.annotations.__panelId__ = '99'))).toEqual(['rule cdnkit-5xx-ratio-product: panel cdnkit-overview/99 is not pushed']);
    expect(broken((r) => (group(r).folderUid = 'elsewhere'))).toEqual(['rule group cdnkit/cdnkit: folder elsewhere is not pushed']);
    expect(broken((r) => ((r.find((x) => x.kind === 'policy')!.desired as { receiver: string }).receiver = 'nobody'))).toEqual(['policy: receiver nobody is not pushed']);
    expect(
      broken((r) => {
        const d = r.find((x) => x.kind === 'dashboard')!.desired as { dashboard: { panels: { datasource?: { uid: string } }[] } };
        d.dashboard.panels[0]!.datasource = { uid: 'missing-ds' };
      }),
    ).toEqual(['dashboard cdnkit-overview: datasource missing-ds is not pushed']);
  });
});

describe('comparing with what Grafana answers', () => {
  it('compares only what cdnkit sets, arrays whole, arrays of objects with a uid by uid', () => {
    expect(changes({ a: 1, b: { c: [1, 2] } }, { a: 1, id: 7, b: { c: [1, 2], d: 0 } })).toEqual([]);
    expect(changes({ b: { c: [1, 2] } }, { b: { c: [1, 3, 4] } })).toEqual([
      { path: 'b.c[1]', kind: 'changed', from: 3, to: 2 },
      { path: 'b.c[2]', kind: 'removed', from: 4 },
    ]);
    expect(changes({ rules: [{ uid: 'x', for: '1m' }, { uid: 'y' }] }, { rules: [{ uid: 'y' }, { uid: 'x', for: '2m' }] })).toEqual([{ path: 'rules[x].for', kind: 'changed', from: '2m', to: '1m' }]);
    expect(changes({ a: { b: 1 } }, { a: null })).toEqual([{ path: 'a', kind: 'changed', from: null, to: { b: 1 } }]);
    expect(changes({ a: 1 }, {})).toEqual([{ path: 'a', kind: 'added', to: 1 }]);
  });
});
