// `cdnkit grafana check`: runs every panel query of the generated dashboards against the user's own
// sinks, as Grafana would send it, reports panels that error or return no data, and says which
// alert rules would fire now.
import { Command, InvalidArgumentError, Option } from 'commander';
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

async function check(flags: CheckFlags): Promise<void> {
  let config: KitConfig;
  try {
    config = loadConfigFile(flags.config).config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    process.exit(1);
  }
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
    .addOption(new Option('-c, --config <file>', 'the kit config').default('cdnkit.yaml'))
    .option('--from <time>', 'start of the time range: now-<n>[smhd] or ISO-8601', 'now-1h')
    .option('--to <time>', 'end of the time range', 'now')
    .addOption(
      new Option('--max-data-points <n>', "points per panel, which sizes $__interval (Grafana uses the panel's width in pixels)").default(1000).argParser((v) => {
        if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('a whole number above 0');
        return Number(v);
      }),
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
}
