// `cdnkit simulate`: realistic CDN traffic, as the generated edge would send it, with its ground
// truth. Declared here (not in main.ts) so the command stays in one place.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ConfigError, formatProblem } from '../config/load.js';
import { loadOrExit } from './commands.js';
import { configOption, wholeNumber } from './options.js';

interface SimulateFlags {
  config: string;
  seed: number;
  start?: string;
  rate: number;
  live?: boolean;
  rps?: number;
  day: string;
  duration?: string;
  count?: number;
  to: string;
  host?: string;
  metricsHost?: string;
  format: 'blank' | 'classic';
  scenario?: string;
  inject?: string[];
  truth?: string;
  quiet?: boolean;
}

export function addSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('Send realistic CDN traffic, exactly as the generated edge would log it, and write its ground truth.')
    .addOption(configOption())
    .addOption(new Option('--seed <n>', 'seed of the traffic: the same config, seed and --start give the same bytes').default(1).argParser(wholeNumber(0)))
    .option('--start <time>', 'event time of the first request, ISO-8601 (default: now; give it for repeatable output)')
    .addOption(new Option('--rate <lines>', 'lines sent per second; 0 sends as fast as the destination takes them').default(100).argParser(wholeNumber(0)))
    .option('--live', 'send each request when its event time comes: event times are the wall clock (from now), paced by --rps instead of --rate')
    .addOption(new Option('--rps <requests>', 'simulated requests per second of event time (default: --rate, or 1000 with --rate 0)').argParser(wholeNumber(0)))
    .option('--day <duration>', 'length of one simulated day, to compress the daily traffic shape (e.g. 10m)', '24h')
    .option('--duration <duration>', 'stop when event time is this far past --start (e.g. 90s, 10m, 2h)')
    .addOption(new Option('--count <requests>', 'stop after this many requests').argParser(wholeNumber(0)))
    .option('--to <destination>', 'stdout, syslog (the receivers\' TCP ports), kafka (the topics), or a file path', 'stdout')
    .option('--host <host>', 'host of the syslog receivers (default: receivers.host, or 127.0.0.1 when it is 0.0.0.0)')
    .option('--metrics-host <host>', 'host of the metrics receiver, when it is not --host (receiver sets scaled apart, one per log type)')
    .addOption(new Option('--format <format>', "Fastly's syslog message format").choices(['blank', 'classic']).default('blank'))
    .option('--scenario <file>', 'a YAML file of scenarios (see below)')
    .addOption(new Option('--inject <scenario>', 'a scenario as type:key=value,... (repeatable)').argParser((value: string, all: string[] | undefined) => [...(all ?? []), value]))
    .option('--truth <file>', 'write the exact aggregates of what was sent, as JSON')
    .option('-q, --quiet', 'no progress line')
    .addHelpText(
      'after',
      `
Every request becomes one line-protocol point (to the metrics port or topic) and, when its status is
at or above errors.minStatus, one line of error JSON (to the logs port or topic), built from the
config's fields exactly as the generated Fastly and Varnish edges build them. Fields named as in the
reference preset follow the traffic model (APIs, backends, POPs and regions, client IPs by country,
Zipf-popular URLs, cache and status mix, long-tailed latency per backend, a daily shape); any other
field gets a value of its type, or from its "simulate" hint (values with weights, or a range).

Pacing: --rate paces the sending only; event times follow the simulated clock (--rps, --day).
With --live, event times are the wall clock instead: for dashboards that show the last minutes.
When the receiver is slow the simulator waits for it rather than buffering, and says so.

Scenarios (type, then keys; start and duration are offsets like 2m):
  errors    a 5xx burst         api=<name> and/or backend=<name>, share=0.5
  latency   a latency spike     pop=<code>, factor=10
  drop      a traffic drop      pop=<code> (optional), factor=0.2 (share of traffic left)
  auth      a 401/403 storm     api=<name>, pop=<code>, share=0.8
  failover  backend failover    backend=<name>, to=<name> (default <backend>-failover)
A scenario file:
  scenarios:
    - { type: errors, api: checkout, start: 2m, duration: 3m, share: 0.6 }
    - { type: latency, pop: LHR, start: 5m, duration: 2m, factor: 8 }

Environment: CDNKIT_KAFKA_BROKERS (comma-separated host:port) overrides kafka.brokers for --to kafka.

The ground truth (--truth) holds, per minute and per product, status, status class, cache status,
API, backend, POP and region: request and error counts, elapsed time and time to first byte in ms
(count, sum, min, max, p95, p99 by nearest rank); errors by URL path, backend and POP; distinct
client IPs by country.

Examples:
  $ cdnkit simulate -c cdnkit.yaml --rate 20                       watch the traffic on stdout
  $ cdnkit simulate -c cdnkit.yaml --to syslog --live --rps 500 --format classic   a live demo source
  $ cdnkit simulate -c cdnkit.yaml --to kafka --rate 0 --count 1000000 --seed 7 \\
      --start 2026-01-01T00:00:00Z --truth truth.json                same bytes every time
  $ cdnkit simulate -c cdnkit.yaml --to syslog --day 10m --duration 30m \\
      --inject errors:api=checkout,start=5m,duration=3m             a day in ten minutes, with a 5xx burst`,
    )
    .action(simulateCommand);
}

function fail(message: string): never {
  process.stderr.write(`cdnkit simulate: ${message}\n`);
  process.exit(2);
}

/** What a slow receiver cost: time spent waiting for it, and how far it put the run behind its pace. */
function slowness(p: { waitedSeconds: number; behindSeconds: number }): string {
  const waited = p.waitedSeconds > 0.5 ? `; the receiver was slow: waited ${p.waitedSeconds.toFixed(1)} s for it` : '';
  const behind = p.behindSeconds > 0 ? `; ${p.behindSeconds.toFixed(1)} s behind the pace` : '';
  return waited + behind;
}

async function simulateCommand(flags: SimulateFlags): Promise<void> {
  const { config } = loadOrExit({ config: flags.config });
  const { parseDuration, parseScenarioFlag, loadScenarioFile } = await import('../simulate/scenarios.js');
  const duration = (flag: string, value: string) => {
    try {
      return parseDuration(value);
    } catch (error) {
      return fail(`${flag}: ${(error as Error).message}`);
    }
  };
  if (flags.live && flags.start !== undefined) fail('--live sends in real time from now; leave out --start');
  const startMs = flags.start === undefined ? Date.now() : Date.parse(flags.start);
  if (Number.isNaN(startMs)) fail(`--start: "${flags.start}" is not an ISO-8601 time, e.g. 2026-01-01T00:00:00Z`);
  const dayMs = duration('--day', flags.day);
  const durationMs = flags.duration === undefined ? undefined : duration('--duration', flags.duration);
  let scenarios;
  try {
    scenarios = [...(flags.scenario ? loadScenarioFile(flags.scenario) : []), ...(flags.inject ?? []).map(parseScenarioFlag)];
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
      process.exit(1);
    }
    fail((error as Error).message);
  }

  const { edgeTraffic, runSimulation } = await import('../simulate/run.js');
  const options = {
    config,
    seed: flags.seed,
    startMs,
    rate: flags.rate,
    live: flags.live === true,
    requestsPerSecond: flags.rps ?? (flags.rate > 0 ? flags.rate : 1000),
    dayMs,
    ...(flags.count === undefined ? {} : { count: flags.count }),
    ...(durationMs === undefined ? {} : { durationMs }),
    scenarios,
    format: flags.format,
    truth: flags.truth !== undefined,
  };
  let traffic;
  try {
    traffic = edgeTraffic(options);
  } catch (error) {
    fail((error as Error).message);
  }

  const destinations = await import('../simulate/destinations.js');
  const destination =
    flags.to === 'syslog'
      ? await destinations.syslogDestination(config, flags.host, flags.metricsHost)
      : flags.to === 'kafka'
        ? await destinations.kafkaDestination(config)
        : destinations.streamDestination(flags.to);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());

  const tty = process.stderr.isTTY;
  const say = (text: string) => process.stderr.write(tty ? `\r\u001b[K${text}` : `${text}\n`);
  let lastSaid = 0;
  const result = await runSimulation(
    {
      ...options,
      signal: abort.signal,
      onProgress: (p) => {
        if (flags.quiet || (!tty && p.elapsedSeconds - lastSaid < 5)) return;
        lastSaid = p.elapsedSeconds;
        say(
          `${p.requests} requests, ${p.metricLines + p.errorLines} lines (${p.errorLines} errors), ${Math.round(p.linesPerSecond)} lines/s, event time ${new Date(p.eventTimeMs).toISOString()}${slowness(p)}`,
        );
      },
    },
    destination,
    traffic,
  );
  const s = result.summary;
  if (tty && !flags.quiet) process.stderr.write('\n');
  if (flags.truth) writeFileSync(flags.truth, `${JSON.stringify(result.truth, null, 2)}\n`);
  const span = Number.isNaN(s.firstEventMs) ? 'nothing' : `${new Date(s.firstEventMs).toISOString()} .. ${new Date(s.eventTimeMs).toISOString()}`;
  process.stderr.write(
    `sent ${s.requests} requests: ${s.metricLines} metric lines and ${s.errorLines} error logs to ${destination.description} in ${s.elapsedSeconds.toFixed(1)} s ` +
      `(${Math.round(s.meanLinesPerSecond)} lines/s); event time ${span}` +
      slowness(s) +
      (flags.truth ? `; ground truth in ${flags.truth}` : '') +
      '\n',
  );
  // Open handles (stdin, a lingering socket) must not keep a finished run alive.
  process.exit(0);
}
