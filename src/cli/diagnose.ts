// `cdnkit doctor` and `cdnkit dead-letters`: the commands that say why data does not flow.
// src/diagnose does the work; this file reads flags, redacts and prints.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { KitConfig } from '../config/schema.js';
import { loadOrExit } from './commands.js';
import { configOption, wholeNumber } from './options.js';

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('not a URL; write e.g. http://127.0.0.1:9464');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('http or https only');
  if (url.username || url.password) throw new InvalidArgumentError('put no credentials in the URL');
  return value;
}

/** Every secret the config names and the environment holds, replaced wherever it might be printed. */
async function redactorFor(config: KitConfig): Promise<(text: string) => string> {
  const { redactor, secretValues } = await import('../../grafana/push/index.js');
  return redactor(secretValues(config, process.env));
}

interface DoctorFlags {
  config: string;
  receiversHost?: string;
  bridgeMetricsUrl?: string;
  bridgeLogsUrl?: string;
  grafanaUrl?: string;
  timeout: number;
}

async function doctor(flags: DoctorFlags): Promise<void> {
  const { config } = loadOrExit({ config: flags.config }, undefined, 'nothing was checked');
  const { formatResult, runDoctor } = await import('../diagnose/doctor.js');
  const redact = await redactorFor(config);
  const started = Date.now();
  const results = await runDoctor(
    config,
    {
      ...(flags.receiversHost ? { receiversHost: flags.receiversHost } : {}),
      bridgeUrls: { ...(flags.bridgeMetricsUrl ? { metrics: flags.bridgeMetricsUrl } : {}), ...(flags.bridgeLogsUrl ? { logs: flags.bridgeLogsUrl } : {}) },
      ...(flags.grafanaUrl ? { grafanaUrl: flags.grafanaUrl } : {}),
      timeoutMs: flags.timeout * 1000,
    },
    (result) => process.stdout.write(`${redact(formatResult(result))}\n`),
  );
  const count = (status: string) => results.filter((r) => r.status === status).length;
  const failed = count('FAIL');
  process.stdout.write(
    `${results.length} checks: ${count('ok')} ok, ${failed} failed, ${count('warn')} warnings, ${count('skip')} skipped, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  if (failed > 0) process.exitCode = 1;
}

interface DeadLetterFlags {
  config: string;
  since: string;
  limit: number;
  follow?: boolean;
}

async function deadLetters(flags: DeadLetterFlags): Promise<void> {
  const { config } = loadOrExit({ config: flags.config }, undefined, 'nothing was read');
  const { formatLetter, formatSummary, parseSince, readDeadLetters } = await import('../diagnose/dead-letters.js');
  let since;
  try {
    since = parseSince(flags.since, Date.now());
  } catch (error) {
    process.stderr.write(`cdnkit dead-letters: --since ${(error as Error).message}\n(run with --help for usage)\n`);
    process.exit(2);
  }
  const redact = await redactorFor(config);
  const say = (lines: string[]) => process.stdout.write(lines.map((l) => `${redact(l)}\n`).join(''));
  const stop = new AbortController();
  if (flags.follow) {
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
  }
  try {
    const summary = await readDeadLetters(config, {
      since,
      limit: flags.limit,
      follow: flags.follow ?? false,
      signal: stop.signal,
      onCaughtUp: (caughtUp) => {
        if (flags.follow) say([...formatSummary(caughtUp), '', 'following new dead letters (Ctrl-C stops):']);
      },
      onLetter: (letter) => say(formatLetter(letter)),
    });
    if (!flags.follow) say(formatSummary(summary));
  } catch (error) {
    process.stderr.write(`cdnkit dead-letters: ${redact((error as Error).message)}\n`);
    process.exitCode = 1;
  }
}

export function addDiagnoseCommands(program: Command): void {
  program
    .command('doctor')
    .description('Check every hop of the pipeline the config names, in the order data flows: receivers, Kafka, bridges, InfluxDB, Elasticsearch, Grafana. One line per check: ok, or FAIL with the reason and what to change.')
    .addOption(configOption())
    .option('--receivers-host <host>', 'where to reach the syslog receivers (default receivers.host; 0.0.0.0 means this host)')
    .option('--bridge-metrics-url <url>', "the metrics bridge's operations endpoint (default http://<bridges.metrics.listen>)", httpUrl)
    .option('--bridge-logs-url <url>', "the logs bridge's operations endpoint (default http://<bridges.logs.listen>)", httpUrl)
    .option('--grafana-url <url>', 'also check that this Grafana answers (not checked without it)', httpUrl)
    .addOption(new Option('--timeout <seconds>', 'per check').default(3).argParser(wholeNumber(1)))
    .addHelpText(
      'after',
      `
What it checks, connecting as the bridges do (same settings, same environment overrides and secrets):
  receivers      receivers.logsPort and metricsPort accept TCP on receivers.host (or --receivers-host)
  kafka          the brokers answer with kafka.tls / kafka.sasl; the three topics exist, their
                 partitions; how many dead letters the dead-letter topic holds
  bridge metrics /readyz (consuming and the sink answers); consumer lag and lines dead-lettered,
  bridge logs    from /metrics. A bridge that does not answer at its default address is a warning
                 ("not checked"): bridges often run elsewhere. With --bridge-*-url it must answer.
  influxdb       reachable; the token in $<sinks.influxdb.tokenEnv> accepted; org and bucket exist;
                 the DBRP mapping database=<bucket> that Grafana's InfluxQL dashboards need
  elasticsearch  reachable, credentials accepted, cluster not red; the index template
                 <sinks.elasticsearch.indexPrefix> installed and matching the config
  grafana        answers /api/health (only with --grafana-url)
All checks run at once, each with its own timeout, and print in that order; no secret is printed.

Environment: as for \`cdnkit bridge\`: CDNKIT_KAFKA_BROKERS, CDNKIT_INFLUX_URL, CDNKIT_INFLUX_ORG,
CDNKIT_INFLUX_BUCKET, CDNKIT_ES_URL override the config; secrets in the variables the config names.

Exit status: 0 every check passed (warnings allowed), 1 a check failed or the config is invalid,
2 usage error.

Examples:
  $ CDNKIT_INFLUX_TOKEN=... cdnkit doctor -c cdnkit.yaml
  ok    receivers      logs syslog receiver at 127.0.0.1:5140 accepts TCP
  FAIL  kafka          topic cdn-logs (kafka.topics.logs) does not exist — fix: cdnkit stack setup kafka creates it; ...
  $ cdnkit doctor -c cdnkit.yaml --receivers-host edge-rx.internal --bridge-metrics-url http://bridges:9464`,
    )
    .action(doctor);

  program
    .command('dead-letters')
    .description('Read the dead-letter topic without disturbing it and say why lines land there: counts by reason and source topic, and sample lines of each.')
    .addOption(configOption())
    .option('--since <when>', 'where to start: beginning, end, a duration back from now (15m, 2h, 7d), an ISO-8601 time, or an offset (a whole number, in each partition)', 'beginning')
    .addOption(new Option('--limit <n>', 'sample lines shown per reason and source topic').default(3).argParser(wholeNumber(0)))
    .option('-f, --follow', 'after the summary, print each new dead letter as it arrives, until Ctrl-C')
    .addHelpText(
      'after',
      `
Each dead letter is a line a bridge could not deliver, unchanged, with headers saying why:
cdnkit-reason (the reason), cdnkit-bridge, cdnkit-source-topic, -partition and -offset. Counts are
grouped by the reason's kind (its text up to the first ":", the reason label of the bridges'
cdnkit_bridge_dead_lettered_lines_total metric) and the source topic; each sample shows the full
reason, where the line came from, and the line (JSON-escaped, cut at 200 characters).

It reads in a consumer group of its own (a random id, nothing committed), so the bridges' groups
and lag are untouched; it reads up to the end as it was when it started, then stops (or follows).

Exit status: 0 read (whether or not there were dead letters), 1 Kafka or the topic unreachable, or
an invalid config, 2 usage error.

Examples:
  $ cdnkit dead-letters -c cdnkit.yaml                  everything retained, 3 samples per reason
  $ cdnkit dead-letters -c cdnkit.yaml --since 1h --limit 10
  $ cdnkit dead-letters -c cdnkit.yaml --since end -f   only new ones, as they come`,
    )
    .action(deadLetters);
}
