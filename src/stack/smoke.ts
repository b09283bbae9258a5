// `npm run stack:smoke`: the compose stack end to end, for machines with Docker (the project's own
// machines have no Docker engine, so this runs in CI: .github/workflows/stack-smoke.yml).
//
// In a compose project of its own (cdnkit-smoke, with its own .env and generated files in a temp
// folder): brings the stack up with the demo profile and waits for health; sends a minute of
// live traffic with a 5xx burst on one API; asks Grafana's /api/ds/query for every panel of every
// generated dashboard and requires data in each; waits for the burst's alert to reach the webhook
// sink standing in for Slack; checks that Elasticsearch and Kibana see the errors; tears it down.
// Exit status 0 when every check passed. --keep leaves the stack running for a look.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grafanaResources } from '../../grafana/index.js';
import { loadConfigFile } from '../config/load.js';
import type { KitConfig } from '../config/schema.js';
import { packageRoot } from '../package-root.js';
import { parseEnvExample, renderEnvFile, stackProblems } from './env-file.js';
import { hasPanelData, panelRequests, responseErrors, variableRequests, variableValues, type DsQueryResponse } from './panel-queries.js';
import { ERROR_LOGS_DATA_VIEW_ID } from './setup.js';

const PROJECT = 'cdnkit-smoke';
const BURST_API = 'checkout';
const GRAFANA = 'http://127.0.0.1:3000';
const ELASTICSEARCH = 'http://127.0.0.1:9200';
const KIBANA = 'http://127.0.0.1:5601';
const WEBHOOK_SINK = 'http://127.0.0.1:8080';
/** logstash-metrics, published on receivers.metricsPort. */
const METRICS_RECEIVER = { host: '127.0.0.1', port: 5141 };

const say = (line: string) => process.stderr.write(`stack:smoke: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passed; then throws `what`. */
async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(5000);
  }
}

function sendLine(to: { host: string; port: number }, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(to, () => socket.end(`${line}\n`));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

async function json<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const root = packageRoot();
  const composeDir = join(root, 'compose');
  const configFile = join(root, 'cdnkit.example.yaml');
  const { config } = loadConfigFile(configFile);
  const problems = stackProblems(config);
  if (problems.length > 0) throw new Error(`${configFile} does not fit the stack: ${problems.join('; ')}`);

  const work = mkdtempSync(join(tmpdir(), 'cdnkit-smoke-'));
  const generated = join(work, 'generated');
  const generate = spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), 'generate', '-c', configFile, '-o', generated], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (generate.status !== 0) throw new Error('cdnkit generate failed');
  const envFile = join(work, '.env');
  writeFileSync(envFile, renderEnvFile(parseEnvExample(readFileSync(join(composeDir, '.env.example'), 'utf8')), config, { composeDir, configFile, generatedDir: generated }), { mode: 0o600 });
  const grafanaPassword = /^GRAFANA_ADMIN_PASSWORD=(.*)$/m.exec(readFileSync(envFile, 'utf8'))![1]!;

  const compose = (args: string[], options: { check?: boolean } = {}) => {
    const argv = ['compose', '-p', PROJECT, '-f', join(composeDir, 'compose.yaml'), '--env-file', envFile, '--profile', 'demo', ...args];
    say(`docker ${argv.join(' ')}`);
    const result = spawnSync('docker', argv, { stdio: 'inherit' });
    if (options.check !== false && result.status !== 0) throw new Error(`docker compose ${args[0]} failed (exit ${result.status ?? result.signal})`);
  };

  const run = async () => {
    compose(['up', '--build', '--detach', '--wait', '--wait-timeout', '900']);
    await checks(config, compose, grafanaPassword);
  };
  return run()
    .catch((error: unknown) => {
      compose(['ps', '--all'], { check: false });
      compose(['logs', '--tail', '80'], { check: false });
      throw error;
    })
    .finally(() => {
      if (!keep) compose(['down', '--volumes', '--remove-orphans'], { check: false });
      rmSync(work, { recursive: true, force: true });
    });
}

async function checks(config: KitConfig, compose: (args: string[]) => void, grafanaPassword: string): Promise<void> {
  const startMs = Date.now();
  say(`a minute of live traffic with a 5xx burst on API ${BURST_API}`);
  compose([
    'run', '--rm', '--no-deps', 'simulator',
    'simulate', '-c', '/etc/cdnkit/cdnkit.yaml', '--to', 'syslog', '--host', 'logstash-logs', '--metrics-host', 'logstash-metrics',
    '--format', 'blank', '--live', '--rps', '200', '--duration', '60s', '--seed', '7',
    '--inject', `errors:api=${BURST_API},start=0s,duration=60s,share=0.6`,
    // The 401/403 panel needs a storm, as in tests/integration/grafana-queries.test.ts.
    '--inject', 'auth:api=users,pop=IAD,start=0s,duration=60s,share=0.8',
  ]);
  // One line no bridge can parse, so the dead-letter panel has a series (it is labelled by reason).
  await sendLine(METRICS_RECEIVER, 'this is not line protocol');

  const prefix = config.sinks.elasticsearch.indexPrefix;
  const errorCount = await waitFor('Elasticsearch has the 5xx error logs', 120_000, async () => {
    const { count } = await json<{ count: number }>(`${ELASTICSEARCH}/${prefix}-*/_count?q=resp_status:%3E%3D500`);
    return count > 0 ? count : undefined;
  });
  say(`elasticsearch: ${errorCount} error logs with status >= 500`);
  await json(`${KIBANA}/api/data_views/data_view/${ERROR_LOGS_DATA_VIEW_ID}`);
  const viaKibana = await json<{ count: number }>(`${KIBANA}/api/console/proxy?path=${encodeURIComponent(`${prefix}-*/_count`)}&method=GET`, {
    method: 'POST',
    headers: { 'kbn-xsrf': 'cdnkit' },
  });
  if (!(viaKibana.count > 0)) throw new Error(`Kibana sees no documents in ${prefix}-*`);
  say(`kibana: data view ${ERROR_LOGS_DATA_VIEW_ID} in place, ${viaKibana.count} documents through Kibana`);

  const auth = `Basic ${Buffer.from(`admin:${grafanaPassword}`).toString('base64')}`;
  const dsQuery = (body: unknown) =>
    json<DsQueryResponse>(`${GRAFANA}/api/ds/query`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const dashboards = grafanaResources(config).dashboards.map((d) => d.dashboard);
  for (const dashboard of dashboards) {
    const provisioned = await json<{ dashboard: { uid: string } }>(`${GRAFANA}/api/dashboards/uid/${dashboard.uid}`, { headers: { authorization: auth } });
    if (provisioned.dashboard.uid !== dashboard.uid) throw new Error(`Grafana has no dashboard ${dashboard.uid}`);
  }
  // Every panel with data; Prometheus rates need a few scrapes, so the panels get a few minutes.
  await waitFor('every dashboard panel has data in Grafana', 300_000, async () => {
    const range = { fromMs: startMs - 15 * 60_000, toMs: Date.now() };
    const variables: Record<string, Record<string, string[]>> = {};
    for (const dashboard of dashboards) {
      const values: Record<string, string[]> = {};
      for (const v of variableRequests(dashboard, range)) values[v.name] = variableValues(await dsQuery(v.body));
      variables[dashboard.uid ?? ''] = values;
    }
    const failing: string[] = [];
    const requests = panelRequests(dashboards, variables, range);
    for (const request of requests) {
      const response = await dsQuery(request.body);
      const errors = responseErrors(response);
      if (errors.length > 0) failing.push(`${request.dashboardUid} #${request.panelId} "${request.title}": ${errors.join('; ')}`);
      else if (!hasPanelData(response, request.visible)) failing.push(`${request.dashboardUid} #${request.panelId} "${request.title}": no data`);
    }
    if (failing.length > 0) throw new Error(`${failing.length} of ${requests.length} panels:\n  ${failing.join('\n  ')}`);
    say(`grafana: all ${requests.length} panels of ${dashboards.length} dashboards have data`);
    return true;
  });

  // The API rule fires once its condition held for grafana.alerts.for, then the policy's group wait.
  const rule = grafanaResources(config).alerts.rules.find((r) => r.uid === 'cdnkit-5xx-ratio-api')!;
  await waitFor(`the "${rule.title}" alert reaches the webhook sink`, 600_000, async () => {
    const journal = await json<{ requests: { request: { url: string; body: string } }[] }>(`${WEBHOOK_SINK}/__admin/requests`);
    return journal.requests.some((r) => r.request.url.startsWith('/slack') && r.request.body.includes(rule.title)) ? true : undefined;
  });
  say(`alert "${rule.title}" reached the webhook sink standing in for Slack`);
}

main().then(
  () => say('passed'),
  (error: unknown) => {
    say(`FAILED: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
