// The smoke test's enumeration of what it asks Grafana (src/stack/panel-queries.ts): every panel of
// every generated dashboard, each query ready for /api/ds/query, and the reading of the answer.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { grafanaResources } from '../../grafana/index.js';
import { loadConfigFile } from '../../src/config/load.js';
import { hasPanelData, panelRequests, responseErrors, variableRequests, variableValues } from '../../src/stack/panel-queries.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { config } = loadConfigFile(`${ROOT}/cdnkit.example.yaml`);
const dashboards = grafanaResources(config).dashboards.map((d) => d.dashboard);
const range = { fromMs: Date.parse('2026-01-01T00:00:00Z'), toMs: Date.parse('2026-01-01T00:15:00Z') };

/** Each variable with two values, as if its query had found them. */
const variables = Object.fromEntries(
  dashboards.map((d) => [d.uid!, Object.fromEntries(variableRequests(d, range).map((v) => [v.name, [`${v.name}-a`, `${v.name}-b`]]))]),
);

describe('the smoke test asks Grafana for every panel', () => {
  const requests = panelRequests(dashboards, variables, range);

  it('one request per panel of every dashboard, none left out, none twice', () => {
    const expected = dashboards.flatMap((d) => (d.panels ?? []).map((p) => `${d.uid}#${(p as { id: number }).id}`));
    expect(expected.length).toBeGreaterThan(20);
    expect(requests.map((r) => `${r.dashboardUid}#${r.panelId}`)).toEqual(expected);
    expect(new Set(dashboards.map((d) => d.uid))).toEqual(new Set(['cdnkit-overview', 'cdnkit-product-detail', 'cdnkit-error-logs', 'cdnkit-pipeline-health']));
  });

  it('sends every query of a panel, each with its datasource and refId, and shows the visible ones', () => {
    for (const request of requests) {
      const panel = dashboards.find((d) => d.uid === request.dashboardUid)!.panels!.find((p) => (p as { id: number }).id === request.panelId) as { targets: unknown[] };
      expect(request.body.queries).toHaveLength(panel.targets.length);
      expect(request.visible.length, request.title).toBeGreaterThan(0);
      for (const query of request.body.queries) {
        expect(query.refId).toMatch(/^\w+$/);
        expect((query.datasource as { uid: string }).uid).toMatch(/^(cdnkit-(influxdb|elasticsearch|prometheus)|__expr__)$/);
      }
      for (const refId of request.visible) expect(request.body.queries.map((q) => q.refId)).toContain(refId);
      expect(request.body).toMatchObject({ from: String(range.fromMs), to: String(range.toMs) });
    }
  });

  it('expands every template variable and InfluxQL macro as the frontend does', () => {
    const influx = requests.flatMap((r) => r.body.queries).filter((q) => (q.datasource as { uid: string }).uid === 'cdnkit-influxdb');
    expect(influx.length).toBeGreaterThan(10);
    for (const query of influx) {
      expect(query.query as string).not.toMatch(/\$[\w{]|\[\[/);
      expect(query.query as string).toContain(`time >= ${range.fromMs}ms and time <= ${range.toMs}ms`);
    }
    expect(influx.some((q) => (q.query as string).includes('(product-a|product-b)'))).toBe(true);
    const prometheus = requests.flatMap((r) => r.body.queries).filter((q) => (q.datasource as { uid: string }).uid === 'cdnkit-prometheus');
    expect(prometheus.length).toBeGreaterThan(0);
    for (const query of prometheus) expect(query.expr as string).not.toMatch(/\$__rate_interval/);
  });
});

describe('reading /api/ds/query answers', () => {
  const frame = (names: string[], values: unknown[][]) => ({ schema: { fields: names.map((name) => ({ name })) }, data: { values } });

  it('data: a value besides the time in a visible query; none in hidden ones or only times is no data', () => {
    const answer = { results: { A: { frames: [frame(['Time', 'Value'], [[1, 2], [null, 5]])] }, B: { frames: [frame(['Time', 'Value'], [[1], [null]])] } } };
    expect(hasPanelData(answer, ['A'])).toBe(true);
    expect(hasPanelData(answer, ['B'])).toBe(false);
    expect(hasPanelData({ results: { A: { frames: [] } } }, ['A'])).toBe(false);
    expect(responseErrors({ results: { A: { error: 'db not found' }, B: {} } })).toEqual(['A: db not found']);
  });

  it('variable options: the value column of SHOW TAG VALUES, distinct', () => {
    expect(variableValues({ results: { A: { frames: [frame(['key', 'value'], [['api_name', 'api_name'], ['cart', 'search']]), frame(['key', 'value'], [['api_name'], ['cart']])] } } })).toEqual(['cart', 'search']);
  });
});

it('npm run stack:smoke runs the compiled smoke script', () => {
  const scripts = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
  expect(scripts['stack:smoke']).toBe('npm run build && node dist/src/stack/smoke.js');
});
