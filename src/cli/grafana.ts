// `cdnkit grafana check`: runs every panel query of the generated dashboards against the user's own
// sinks, as Grafana would send it, reports panels that error or return no data, and says which
// alert rules would fire now. `cdnkit grafana push`: keeps them in an existing Grafana through its
// HTTP API (grafana/push does the work; this file reads flags and environment and prints).
import { Command, InvalidArgumentError, Option } from 'commander';
import { configOption, wholeNumber } from './options.js';
import { ConfigError, formatProblem, loadConfigFile } from '../config/load.js';
import type { KitConfig } from '../config/schema.js';

interface CheckFlags {
  config: string;
  from: string;
  to: string;
  maxDataPoints: number;
  prometheus?: string;
  var: string[];
}

/** `now`, `now-15m` or an ISO-8601 time, as epoch ms. */
export function parseTime(text: string, nowMs: number): number {
  const relative = /^now(?:-(\d+)([smhd]))?$/.exec(text);
  if (relative) {
    const size = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(relative[2] ?? 's') as 's'];
    return nowMs - Number(relative[1] ?? 0) * size;
  }
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError(`"${text}" is not a time: write now, now-1h or an ISO-8601 time`);
  return parsed;
}

const env = (name: string | undefined) => (name ? process.env[name] || undefined : undefined);

function loadConfigOrExit(file: string): KitConfig {
  try {
    return loadConfigFile(file).config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    process.exit(1);
  }
}

/** A usage error: the command cannot start as called (exit 2, as commander's own). */
function usageError(message: string): never {
  process.stderr.write(`cdnkit grafana push: ${message}\n(run with --help for usage)\n`);
  process.exit(2);
}

interface PushFlags {
  config: string;
  url?: string;
  token?: string;
  dryRun?: boolean;
  resendSecrets?: boolean;
}

async function push(flags: PushFlags): Promise<void> {
  const config = loadConfigOrExit(flags.config);
  const { grafanaClient, pushToGrafana, redactor, secretValues, GRAFANA_USER_ENV, GRAFANA_PASSWORD_ENV } = await import('../../grafana/push/index.js');
  const url = flags.url ?? config.grafana.url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    usageError(`--url ${url}: not a URL; write e.g. https://grafana.example.com or http://localhost:3000`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') usageError(`--url ${url}: http or https only`);
  if (parsed.username || parsed.password) usageError(`--url: put no credentials in the URL; set $${config.grafana.tokenEnv}, or $${GRAFANA_USER_ENV} and $${GRAFANA_PASSWORD_ENV}`);
  const token = flags.token ?? env(config.grafana.tokenEnv);
  const user = env(GRAFANA_USER_ENV);
  const password = env(GRAFANA_PASSWORD_ENV);
  if (!token && !(user && password)) {
    usageError(`no credentials: set $${config.grafana.tokenEnv} to a service account token (or pass --token), or set $${GRAFANA_USER_ENV} and $${GRAFANA_PASSWORD_ENV}`);
  }
  const redact = redactor([...secretValues(config, process.env), ...(flags.token ? [flags.token] : [])]);
  const say = (line: string) => process.stdout.write(`${redact(line)}\n`);
  try {
    say(`${flags.dryRun ? 'dry run against' : 'pushing to'} ${parsed.origin}${parsed.pathname.replace(/\/$/, '')}`);
    await pushToGrafana(config, grafanaClient(url, token ? { token } : { user: user!, password: password! }), {
      env: process.env,
      dryRun: flags.dryRun ?? false,
      resendSecrets: flags.resendSecrets ?? false,
      report: say,
    });
  } catch (error) {
    process.stderr.write(`cdnkit grafana push: ${redact((error as Error).message)}\n`);
    process.exitCode = 1;
  }
}

async function check(flags: CheckFlags): Promise<void> {
  const config = loadConfigOrExit(flags.config);
  const { BRIDGE_ENV } = await import('../bridge/bridge.js');
  const { grafanaResources } = await import('../../grafana/index.js');
  const { checkDashboards } = await import('../../grafana/check/run.js');
  const { influxdb, elasticsearch } = config.sinks;
  const token = env(influxdb.tokenEnv);
  if (!token) throw new Error(`the InfluxDB token is read from the environment variable ${influxdb.tokenEnv}, which is not set`);
  const now = Date.now();
  const variables: Record<string, string[]> = {};
  for (const assignment of flags.var) {
    const [name, value] = assignment.split(/=(.*)/s, 2);
    if (!name || value === undefined) throw new InvalidArgumentError(`--var ${assignment}: write name=value`);
    (variables[name] ??= []).push(value);
  }
  const { evaluateRules } = await import('../../grafana/check/alerts.js');
  const resources = grafanaResources(config);
  const influxTarget = { url: env(BRIDGE_ENV.influxUrl) ?? influxdb.url, token, database: env(BRIDGE_ENV.influxBucket) ?? influxdb.bucket, retentionPolicy: 'autogen' };
  const checks = await checkDashboards(
    resources.dashboards.map((d) => d.dashboard),
    {
      influxdb: influxTarget,
      elasticsearch: {
        url: env(BRIDGE_ENV.elasticsearchUrl) ?? elasticsearch.url,
        index: `${elasticsearch.indexPrefix}-*`,
        ...(env(elasticsearch.usernameEnv) ? { username: env(elasticsearch.usernameEnv)!, password: env(elasticsearch.passwordEnv) ?? '' } : {}),
      },
      ...(flags.prometheus ? { prometheus: { url: flags.prometheus, scrapeIntervalMs: 15_000 } } : {}),
    },
    { range: { fromMs: parseTime(flags.from, now), toMs: parseTime(flags.to, now) }, maxDataPoints: flags.maxDataPoints, variables },
  );
  for (const c of checks) process.stdout.write(`${c.status.padEnd(11)} ${c.dashboardUid} / ${c.title}${c.reason ? `: ${c.reason}` : ''}\n`);
  const bad = checks.filter((c) => c.status === 'error' || c.status === 'no data');
  process.stdout.write(`${checks.length} panels: ${checks.length - bad.length} answered, ${bad.length} with an error or no data\n`);
  // Rules look at the windows before the real now, whatever --from and --to say.
  const rules = await evaluateRules(resources.alerts.rules, influxTarget);
  for (const rule of rules) {
    const firing = rule.instances.filter((i) => i.firing).map((i) => Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(',') || 'all');
    process.stdout.write(`rule ${rule.state.padEnd(7)} ${rule.uid}${firing.length ? `: ${firing.join('; ')}` : ''}${rule.reason ? `: ${rule.reason}` : ''}\n`);
  }
  if (bad.length > 0 || rules.some((r) => r.state === 'error')) process.exitCode = 1;
}

export function addGrafanaCommand(program: Command): void {
  const grafana = program.command('grafana').description('The Grafana dashboards and alerts generated from the kit config.');
  grafana
    .command('check')
    .description('Run every panel query against your InfluxDB, Elasticsearch and Prometheus, as Grafana would send it; report panels that error or return no data, and which alert rules would fire now.')
    .addOption(configOption())
    .option('--from <time>', 'start of the time range: now-<n>[smhd] or ISO-8601', 'now-1h')
    .option('--to <time>', 'end of the time range', 'now')
    .addOption(
      new Option('--max-data-points <n>', "points per panel, which sizes $__interval (Grafana uses the panel's width in pixels)").default(1000).argParser(wholeNumber(1)),
    )
    .option('--prometheus <url>', 'Prometheus scraping the bridges; without it the pipeline-health panels are not checked')
    .option('--var <name=value>', 'a template variable value (repeat for several); unset variables are "All"', (v: string, all: string[]) => [...all, v], [] as string[])
    .addHelpText(
      'after',
      `
Addresses come from the config's sinks (overridden by CDNKIT_INFLUX_URL, CDNKIT_INFLUX_BUCKET and
CDNKIT_ES_URL, as for the bridges); the InfluxDB token from <sinks.influxdb.tokenEnv>. InfluxQL goes
to /query with db = the bucket and rp = autogen (InfluxDB 2.x's DBRP mapping). Alert rules are
evaluated over their own windows before now ("firing" = the condition holds now; Grafana fires once
it held for the rule's \`for\`). Exits 1 when a panel errors or returns no data, or a rule errors.

Example:
  $ CDNKIT_INFLUX_TOKEN=... cdnkit grafana check -c cdnkit.yaml --from now-6h`,
    )
    .action(check);
  grafana
    .command('push')
    .description('Create or update the folder, datasources, dashboards, alert rules, contact point, message template and notification route in an existing Grafana, through its HTTP API; only what differs is written.')
    .addOption(configOption())
    .option('--url <url>', 'the Grafana, e.g. https://grafana.example.com (default: grafana.url of the config)')
    .option('--token <token>', 'a service account token; better set it in the environment variable named by grafana.tokenEnv (default CDNKIT_GRAFANA_TOKEN), where the process list does not show it')
    .option('--dry-run', 'read only: print what would be created or updated, and which keys differ, and write nothing')
    .option('--resend-secrets', 'also write resources whose only change may be a secret (after rotating the InfluxDB token or the Slack webhook: Grafana never shows a secret back, so push cannot see it changed)')
    .addHelpText(
      'after',
      `
What it keeps, in this order (each by a fixed uid, so a second run finds the first run's):
  folder         uid cdnkit, titled grafana.folder
  datasources    cdnkit-influxdb, cdnkit-elasticsearch, cdnkit-prometheus (never made the default)
  dashboards     cdnkit-overview, cdnkit-product-detail, cdnkit-error-logs, cdnkit-pipeline-health
  template       the Slack message template "cdnkit"
  contact point  cdnkit-slack
  policy         one route of the org's notification policy tree: alerts labelled cdnkit=true go to
                 cdnkit-slack; the tree's other routes are kept
  rule group     cdnkit (folder cdnkit): every alert rule, evaluated every grafana.alerts.evaluationInterval

It reads each one first and compares what it would send with what Grafana answers; only resources
that differ are written, so a second run changes nothing and says so. Alerting resources are
written with X-Disable-Provenance, so they stay editable in Grafana's UI (an edit there is a
difference the next push reverts).

Credentials come from the environment (or --token):
  $<grafana.tokenEnv>        a service account token (role Admin: datasources need it)
  CDNKIT_GRAFANA_USER, CDNKIT_GRAFANA_PASSWORD   basic auth instead of a token
Secrets the resources carry are read from the environment when they are written and never printed:
  $<sinks.influxdb.tokenEnv>   the InfluxDB token (CDNKIT_INFLUX_TOKEN)
  $<grafana.slack.webhookUrlEnv>  the Slack webhook URL (CDNKIT_SLACK_WEBHOOK_URL)
  $<sinks.elasticsearch.usernameEnv> and <passwordEnv>, when Elasticsearch needs basic auth
Grafana never answers a secret back: a secret counts as unchanged while one is set (see --resend-secrets).

Exit status: 0 done (or nothing to do), 1 invalid config, Grafana refused or could not be reached
(stops at the first refused write), 2 usage error (bad flag, no credentials).

Examples:
  $ CDNKIT_GRAFANA_TOKEN=glsa_... cdnkit grafana push -c cdnkit.yaml --url https://grafana.example.com --dry-run
  $ CDNKIT_GRAFANA_TOKEN=glsa_... CDNKIT_INFLUX_TOKEN=... CDNKIT_SLACK_WEBHOOK_URL=... \\
      cdnkit grafana push -c cdnkit.yaml --url https://grafana.example.com`,
    )
    .action(push);
}
