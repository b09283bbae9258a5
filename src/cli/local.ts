// `cdnkit local`: the pipeline without Docker, on real servers this machine runs (obtained and
// cached by src/local): `local up` runs the whole wiring in the foreground until Ctrl-C; `local
// servers up|down` keeps just the servers running in the background (`npm run services:up|down`).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { LocalRun, SimulatorOptions } from '../local/stack.js';
import { loadOrExit } from './commands.js';
import { configOption, wholeNumber } from './options.js';

interface UpFlags {
  config: string;
  dir: string;
  prometheusListen: string;
  simulate?: boolean;
  rps: number;
  duration?: string;
  scenario?: string;
  inject?: string[];
  seed: number;
}

export function addLocalCommand(program: Command): void {
  const local = program.command('local').description('Run the pipeline on this machine without Docker: real servers, receivers, bridges, Prometheus, a simulator.');
  local
    .command('up')
    .description('Start the whole pipeline for a kit config in the foreground; Ctrl-C stops everything it started.')
    .addOption(configOption())
    .addOption(new Option('--dir <dir>', 'the run\'s folder: config copy, generated artifacts, logs, Prometheus data').default('cdnkit-local'))
    .addOption(
      new Option('--prometheus-listen <host:port>', 'where Prometheus serves').default('127.0.0.1:9090').argParser((value) => {
        if (!/^[^:\s]+:\d{1,5}$/.test(value)) throw new InvalidArgumentError('write host:port, e.g. 127.0.0.1:9090');
        return value;
      }),
    )
    .option('--simulate', 'also run `cdnkit simulate` live into the receivers (Fastly-style syslog)')
    .addOption(new Option('--rps <requests>', 'with --simulate: requests per second').default(200).argParser(wholeNumber(1)))
    .option('--duration <duration>', 'with --simulate: stop sending after this long (e.g. 90s, 10m); default: until Ctrl-C')
    .option('--scenario <file>', 'with --simulate: a YAML file of scenarios (see cdnkit simulate --help)')
    .addOption(new Option('--inject <scenario>', 'with --simulate: a scenario as type:key=value,... (repeatable)').argParser((v: string, all: string[] | undefined) => [...(all ?? []), v]))
    .addOption(new Option('--seed <n>', 'with --simulate: seed of the traffic').default(1).argParser(wholeNumber(1)))
    .addHelpText(
      'after',
      `
What runs, in this order (and is stopped in the reverse order):
  servers     Kafka, Elasticsearch and InfluxDB at 127.0.0.1:19092, :19200 and :18086: the ones already
              running there (npm test's, or \`cdnkit local servers up\`), else started here, downloaded and
              built on first use into ~/.cache/cdnkit with progress shown (minutes, once)
  receivers   rsyslogd on the rsyslog config generated for receivers.logsPort and receivers.metricsPort
  bridges     cdnkit bridge metrics and logs, serving /metrics on bridges.<kind>.listen
  Prometheus  scraping both bridges every 5 s
  simulator   with --simulate: live traffic into the receivers, its ground truth in <dir>/truth.json

The config's own servers are not used: <dir>/cdnkit.yaml is a copy with the local servers in place
of kafka.brokers and the sinks' addresses (without TLS and SASL), and everything runs on that copy;
point \`cdnkit grafana check\` and \`cdnkit grafana push\` at it. The topics, the bucket and the index
template of the config are created on the local servers. Each process logs into <dir>/logs/, and
<dir>/state.json lists their pids while the run is up.

Every process it starts dies with it, even on kill -9. When one of them exits on its own (but the
simulator finishing its --duration), the run stops everything and exits 1.

Exit status: 0 stopped by Ctrl-C or SIGTERM, 1 failed to start or a process failed, 2 usage error.

Examples:
  $ cdnkit local up -c cdnkit.yaml --simulate
  $ cdnkit local up -c cdnkit.yaml --simulate --rps 500 --duration 30m \\
      --inject errors:api=checkout,start=5m,duration=3m        a 5xx burst five minutes in`,
    )
    .action(up);

  const servers = local.command('servers').description('Keep the local servers (Kafka, Elasticsearch, InfluxDB) running in the background.');
  servers
    .command('up')
    .description('Start the servers in a background process (or find them running) and print where they are.')
    .addHelpText('after', '\nA later `cdnkit local up` or `npm test` finds them and reuses them.\n\nExample:\n  $ cdnkit local servers up')
    .action(serversUp);
  servers.command('down').description('Stop the servers `local servers up` started.').action(serversDown);
  servers.command('serve', { hidden: true }).action(serversServe);
}

async function up(flags: UpFlags): Promise<void> {
  const { checkAll } = await import('../../generators/index.js');
  loadOrExit({ config: flags.config }, checkAll);
  const simulate: SimulatorOptions | undefined = flags.simulate
    ? { rps: flags.rps, seed: flags.seed, inject: flags.inject ?? [], ...(flags.duration ? { duration: flags.duration } : {}), ...(flags.scenario ? { scenario: flags.scenario } : {}) }
    : undefined;
  const { startLocalRun } = await import('../local/stack.js');

  // A signal during start-up stops the run once the current step is done; a second one quits at
  // once (every child still dies with this process).
  let signalled: NodeJS.Signals | undefined;
  let stopping = false;
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (signalled) {
        if (!stopping) process.exit(130);
        return;
      }
      signalled = signal;
      onSignal(signal);
    });
  }
  onSignal = () => process.stderr.write('[cdnkit] stopping once the current step is done (again to quit at once)\n');

  const startedAt = Date.now();
  let run: LocalRun;
  try {
    run = await startLocalRun({ configFile: flags.config, dir: flags.dir, prometheusListen: flags.prometheusListen, ...(simulate ? { simulate } : {}) });
  } catch (error) {
    process.stderr.write(`cdnkit local up: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const stopThenExit = async (code: number) => {
    stopping = true;
    await run.stop();
    process.stderr.write(`[cdnkit] stopped everything this run started\n`);
    process.exit(code);
  };
  if (signalled) return stopThenExit(0);
  process.stdout.write(describe(run, flags, (Date.now() - startedAt) / 1000));
  onSignal = (signal) => {
    process.stderr.write(`[cdnkit] ${signal}: stopping\n`);
    void stopThenExit(0);
  };
  for (;;) {
    const exit = await run.nextExit();
    if (stopping) return;
    if (exit.expected) {
      process.stdout.write(`The simulator finished; its ground truth is in ${run.state.truthFile}. The rest keeps running.\n`);
      continue;
    }
    const log = run.state.processes.find((p) => p.name === exit.name)?.logFile;
    process.stderr.write(`cdnkit local up: ${exit.name} ended on its own (${exit.how}); see ${log}. Stopping the rest.\n`);
    return stopThenExit(1);
  }
}

function describe(run: LocalRun, flags: UpFlags, seconds: number): string {
  const { state, config } = run;
  /** Relative to the working folder when inside it, else absolute: short and still copy-pastable. */
  const here = (file: string) => {
    const path = relative(process.cwd(), file);
    return path === '' ? '.' : path.startsWith('..') ? file : path;
  };
  const pidOf = (name: string) => state.processes.find((p) => p.name === name);
  const proc = (name: string) => `pid ${pidOf(name)!.pid}, log ${here(pidOf(name)!.logFile)}`;
  const serverNote = (name: string) => (run.startedServers.includes(name) ? 'started by this run' : 'already running, reused');
  const { influxdb, elasticsearch } = config.sinks;
  const topics = config.kafka.topics;
  const simulator = pidOf('simulator');
  const lines = [
    '',
    `The local run is up (${seconds.toFixed(1)} s). Ctrl-C stops everything it started.`,
    '',
    `  Kafka          ${state.servers.kafka} (${serverNote('kafka')}); topics ${topics.metrics.name}, ${topics.logs.name}, ${topics.deadLetter.name}`,
    `  InfluxDB       ${state.servers.influxdb} (${serverNote('influxdb')}); org ${influxdb.org}, bucket ${influxdb.bucket}, token ${run.influxToken}`,
    `  Elasticsearch  ${state.servers.elasticsearch} (${serverNote('elasticsearch')}); indices ${elasticsearch.indexPrefix}-*`,
    `  receivers      syslog over TCP: logs ${state.receivers.logs}, metrics ${state.receivers.metrics} (rsyslogd ${proc('rsyslogd')})`,
    `  bridge metrics ${state.bridges.metrics}/metrics (${proc('bridge metrics')})`,
    `  bridge logs    ${state.bridges.logs}/metrics (${proc('bridge logs')})`,
    `  Prometheus     ${state.prometheus} (${proc('prometheus')})`,
    ...(simulator
      ? [`  simulator      ${flags.rps} requests/s live${flags.duration ? ` for ${flags.duration}` : ''} into the receivers (${proc('simulator')})`]
      : []),
    '',
    `  config copy    ${here(state.configFile)} (the local servers in place of yours)`,
    `  artifacts      ${here(join(state.configFile, '..', 'out'))}/`,
    `  pids           ${here(join(state.configFile, '..', 'state.json'))}`,
    '',
    'Check that every dashboard panel has data:',
    `  ${influxdb.tokenEnv}=${run.influxToken} cdnkit grafana check -c ${here(state.configFile)} --prometheus ${state.prometheus} --from now-15m`,
    'Point an existing Grafana at it (its datasources then use the addresses above, Prometheus included, which Grafana must reach):',
    `  ${config.grafana.tokenEnv}=<a Grafana service account token> ${influxdb.tokenEnv}=${run.influxToken} cdnkit grafana push -c ${here(state.configFile)} --url <your Grafana, e.g. http://127.0.0.1:3000>`,
    ...(simulator
      ? []
      : ['Send traffic:', `  cdnkit simulate -c ${here(state.configFile)} --to syslog --format classic --live --rps 200`]),
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// `cdnkit local servers up|down`: a background process owning the servers, found again by its
// state file. It is the one process meant to outlive the command that started it (a daemon); the
// servers it starts die with it.

async function serversPaths(): Promise<{ state: string; log: string }> {
  const { cacheDir } = await import('../local/cache.js');
  return { state: join(cacheDir('services'), 'state.json'), log: join(cacheDir('services'), 'services.log') };
}

interface ServersState {
  pid: number;
  addresses: import('../local/services/index.js').ServiceAddresses;
}

async function readServersState(): Promise<ServersState | undefined> {
  const { state } = await serversPaths();
  const { alive } = await import('../local/process.js');
  if (!existsSync(state)) return undefined;
  const parsed = JSON.parse(readFileSync(state, 'utf8')) as ServersState;
  return alive(parsed.pid) ? parsed : undefined;
}

async function describeServers({ addresses }: ServersState): Promise<string> {
  const { kafka, elasticsearch, influxdb } = addresses;
  const { log } = await serversPaths();
  return [
    `  Kafka          ${kafka.brokers.join(',')}            (CDNKIT_KAFKA_BROKERS)`,
    ...(kafka.security
      ? [
          `                 SASL_PLAINTEXT ${kafka.security.saslBrokers}, SASL_SSL ${kafka.security.sslBrokers} (CA ${kafka.security.caFile})`,
          `                 SCRAM-SHA-256/512 and PLAIN user ${kafka.security.admin.username}, password ${kafka.security.admin.password}`,
        ]
      : []),
    `  Elasticsearch  ${elasticsearch.url}     (CDNKIT_ES_URL; no security)`,
    `  InfluxDB       ${influxdb.url}     (CDNKIT_INFLUX_URL)`,
    `                 org ${influxdb.org}, bucket ${influxdb.bucket}, token ${influxdb.token}`,
    `  log            ${log}`,
    `Stop them with: cdnkit local servers down (npm run services:down)`,
  ].join('\n');
}

async function serversUp(): Promise<void> {
  const running = await readServersState();
  if (running) {
    process.stdout.write(`Already running (pid ${running.pid}):\n${await describeServers(running)}\n`);
    return;
  }
  const { log } = await serversPaths();
  const { alive, sleep } = await import('../local/process.js');
  const fd = openSync(log, 'w');
  // Deliberately not spawnChild: this process is meant to outlive the command.
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'local', 'servers', 'serve'], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  process.stdout.write('Starting the servers (the first run downloads and builds them; progress below) ...\n');
  let shown = 0;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    process.stdout.write(text.slice(shown));
    shown = text.length;
    const state = await readServersState();
    if (state) {
      process.stdout.write(`\nReady:\n${await describeServers(state)}\n`);
      return;
    }
    if (!alive(child.pid!)) throw new Error(`the servers' process exited; see ${log}`);
    await sleep(500);
  }
}

async function serversServe(): Promise<void> {
  const { startServices } = await import('../local/services/index.js');
  const { state } = await serversPaths();
  const services = await startServices();
  writeFileSync(state, JSON.stringify({ pid: process.pid, addresses: services.addresses } satisfies ServersState, null, 2));
  const stop = async () => {
    await services.stop();
    rmSync(state, { force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // Keep the process (and the servers it owns) alive until told to stop.
  setInterval(() => undefined, 1 << 30);
}

async function serversDown(): Promise<void> {
  const state = await readServersState();
  if (!state) {
    process.stdout.write('No servers are running from `cdnkit local servers up`.\n');
    return;
  }
  const { alive, sleep } = await import('../local/process.js');
  process.kill(state.pid, 'SIGTERM');
  while (alive(state.pid)) await sleep(200);
  process.stdout.write('Stopped.\n');
}
