// `cdnkit local up`: the pipeline of the compose stack, without Docker, for development and demos.
// Real servers (Kafka, Elasticsearch, InfluxDB: the running ones, or started here), the rsyslog
// receivers generated from the kit config, both bridges, Prometheus scraping them and, if asked,
// the simulator — each a child process that dies with this one (spawnChild), stopped in reverse
// order by stop().
//
// The user's config names the servers of their real deployment; the run writes a copy into its
// folder with kafka.brokers and the sinks' addresses replaced by the local servers (no TLS or SASL:
// they are plain local listeners), generates the artifacts from that copy and runs everything on
// it, so `cdnkit grafana check -c <dir>/cdnkit.yaml` and `grafana push` reach the same servers.
import { closeSync, existsSync, openSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { writeArtifacts } from '../../generators/artifact.js';
import { generateAll } from '../../generators/index.js';
import { loadConfigFile } from '../config/load.js';
import type { KitConfig } from '../config/schema.js';
import { builtCli } from '../package-root.js';
import { setupElasticsearchTemplate } from '../stack/setup.js';
import { startBridgeProcess, type BridgeProcess } from './bridge-process.js';
import { alive, howItEnds, isLocal, portInUse, spawnChild, stopProcess } from './process.js';
import { step } from './progress.js';
import { bridgeScrapeConfig, startPrometheus, type RunningPrometheus } from './prometheus.js';
import { startRsyslogd, type Rsyslogd } from './rsyslogd.js';
import { startElasticsearch } from './services/elasticsearch.js';
import { startServices } from './services/index.js';
import { ensureBucket, startInfluxDB } from './services/influxdb.js';
import { startKafka } from './services/kafka.js';
import { ensurePrometheus, ensureRsyslog } from './tools.js';

/** Prometheus scrapes the bridges this often: a demo's pipeline panels fill within seconds. */
const SCRAPE_INTERVAL_SECONDS = 5;

export interface SimulatorOptions {
  /** Simulated requests per second (live: event times are the wall clock). */
  rps: number;
  /** Stop after this long (e.g. 90s, 10m); runs until the local run stops when absent. */
  duration?: string;
  scenario?: string;
  inject: string[];
  seed: number;
}

export interface LocalRunOptions {
  /** The user's kit config file (already validated). */
  configFile: string;
  /** The run's folder: config copy, artifacts, logs, Prometheus data, state.json. */
  dir: string;
  /** host:port for Prometheus. */
  prometheusListen: string;
  simulate?: SimulatorOptions;
}

/** A process the run started, as state.json lists it. */
export interface RunProcess {
  name: string;
  pid: number;
  logFile: string;
}

/** What `<dir>/state.json` holds while the run is up; removed when it stopped. */
export interface LocalRunState {
  /** The `cdnkit local up` process. */
  pid: number;
  configFile: string;
  processes: RunProcess[];
  servers: { kafka: string; elasticsearch: string; influxdb: string };
  prometheus: string;
  bridges: { metrics: string; logs: string };
  receivers: { logs: string; metrics: string };
  truthFile: string | undefined;
}

export interface LocalRun {
  state: LocalRunState;
  /** The InfluxDB token (the local server's operator token). */
  influxToken: string;
  /** The effective config (servers replaced by the local ones). */
  config: KitConfig;
  /** Which servers this run started (the others were already running and are left alone). */
  startedServers: string[];
  /** Resolves when a process exits on its own: the simulator finishing (`expected`), or a failure. */
  nextExit(): Promise<{ name: string; how: string; expected: boolean }>;
  /** Stops every process it started, in reverse order, and removes state.json. Safe to call twice. */
  stop(): Promise<void>;
}

interface Stoppable extends RunProcess {
  ended: Promise<string>;
  /** Exiting with code 0 is the end of its work, not a failure (the simulator with a duration). */
  finishes: boolean;
  stop(): Promise<void>;
}

export function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

/** The state of a run in `dir` whose `cdnkit local up` process is alive, or undefined. */
export function runningState(dir: string): LocalRunState | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  const state = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LocalRunState;
  return alive(state.pid) ? state : undefined;
}

/** host:port as a client dials it: a wildcard listen address becomes loopback. */
function dialable(hostPort: string): string {
  return hostPort.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:');
}

/** The user's config with the local servers (and the run's Prometheus, for Grafana's datasource) in place of theirs. */
function localConfig(
  config: KitConfig,
  servers: { brokers: string[]; influxUrl: string; influxOrg: string; esUrl: string; prometheusUrl: string },
  out: string,
): KitConfig {
  const { tls: _tls, sasl: _sasl, ...kafka } = config.kafka;
  const { apiKeyEnv: _key, usernameEnv: _user, passwordEnv: _password, caFile: _ca, ...elasticsearch } = config.sinks.elasticsearch;
  return {
    ...config,
    kafka: { ...kafka, brokers: servers.brokers },
    sinks: {
      influxdb: { ...config.sinks.influxdb, url: servers.influxUrl, org: servers.influxOrg },
      elasticsearch: { ...elasticsearch, url: servers.esUrl },
    },
    grafana: { ...config.grafana, prometheusUrl: servers.prometheusUrl },
    // The receivers read the tenant tables from where generate writes them.
    ...(config.tenants ? { tenants: { ...config.tenants, tablesDir: join(out, 'receivers', 'rsyslog') } } : {}),
  };
}

export async function startLocalRun(options: LocalRunOptions): Promise<LocalRun> {
  const dir = resolve(options.dir);
  const already = runningState(dir);
  if (already) throw new Error(`a local run is already up in ${dir} (pid ${already.pid}); stop it with Ctrl-C there, or use another --dir`);
  const user = loadConfigFile(options.configFile).config;

  // Every port the run will listen on, checked before anything starts.
  const listens = [
    { what: 'the logs receiver (receivers.logsPort)', port: user.receivers.logsPort },
    { what: 'the metrics receiver (receivers.metricsPort)', port: user.receivers.metricsPort },
    { what: 'the metrics bridge (bridges.metrics.listen)', port: Number(user.bridges.metrics.listen.split(':').pop()) },
    { what: 'the logs bridge (bridges.logs.listen)', port: Number(user.bridges.logs.listen.split(':').pop()) },
    { what: 'Prometheus (--prometheus-listen)', port: Number(options.prometheusListen.split(':').pop()) },
  ];
  for (const { what, port } of listens) {
    if (await portInUse(port)) throw new Error(`port ${port}, for ${what}, is in use; choose another in ${options.configFile} or with the flag`);
  }

  for (const old of ['cdnkit.yaml', 'out', 'logs', 'rsyslog', 'prometheus', 'truth.json', 'state.json']) rmSync(join(dir, old), { recursive: true, force: true });
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const processes: Stoppable[] = [];
  const stopAll = async () => {
    for (const p of [...processes].reverse()) await p.stop();
    processes.length = 0;
  };

  const servers = await step('servers: reuse the running ones or start them', () => startServices());
  try {
    const [kafka, influx, es] = await Promise.all([startKafka(), startInfluxDB(), startElasticsearch()]);
    const config = localConfig(
      user,
      { brokers: kafka.brokers, influxUrl: influx.url, influxOrg: influx.org, esUrl: es.url, prometheusUrl: `http://${dialable(options.prometheusListen)}` },
      join(dir, 'out'),
    );
    const configFile = join(dir, 'cdnkit.yaml');
    writeFileSync(
      configFile,
      `# Written by \`cdnkit local up\` from ${resolve(options.configFile)}: the same kit, with the local servers\n# in place of kafka.brokers and the sinks' addresses. Regenerated at every start.\n${stringify(config)}`,
    );
    loadConfigFile(configFile); // the copy must read back as the config it is

    const { topics } = config.kafka;
    await kafka.ensureTopics(Object.fromEntries(Object.values(topics).map((t) => [t.name, t.partitions])));
    await step(`influxdb: bucket ${config.sinks.influxdb.bucket}`, () => ensureBucket(influx, config.sinks.influxdb.bucket));
    const out = join(dir, 'out');
    await step(`generate the artifacts into ${out}`, async () => writeArtifacts(out, generateAll(config)));
    await step('elasticsearch: index template', () => setupElasticsearchTemplate(config, join(out, 'elasticsearch', 'index-template.json'), () => {}));

    const { rsyslogd } = await ensureRsyslog();
    const receivers = await step('rsyslogd: start the generated receivers', () =>
      startRsyslogd({
        rsyslogd,
        configText: readFileSync(join(out, 'receivers', 'rsyslog', 'cdnkit.conf'), 'utf8'),
        ports: [config.receivers.logsPort, config.receivers.metricsPort],
        dir: join(dir, 'rsyslog'),
        logFile: join(logs, 'rsyslogd.log'),
      }),
    );
    processes.push(asStoppable('rsyslogd', receivers, join(logs, 'rsyslogd.log')));

    const bridges: Partial<Record<'metrics' | 'logs', BridgeProcess>> = {};
    for (const kind of ['metrics', 'logs'] as const) {
      const logFile = join(logs, `bridge-${kind}.log`);
      const bridge = await step(`bridge ${kind}: start and wait until ready`, async () => {
        const started = await startBridgeProcess(kind, configFile, { [config.sinks.influxdb.tokenEnv]: influx.token }, { listen: config.bridges[kind].listen, logFile });
        processes.push(asStoppable(`bridge ${kind}`, { ...started, stop: () => started.stop().then(() => undefined) }, logFile));
        await started.waitReady();
        return started;
      });
      bridges[kind] = bridge;
    }

    const bin = await ensurePrometheus();
    const prometheus: RunningPrometheus = await step('prometheus: start, scraping the bridges', () =>
      startPrometheus({
        bin,
        dir: join(dir, 'prometheus'),
        listen: options.prometheusListen,
        config: bridgeScrapeConfig([dialable(config.bridges.metrics.listen), dialable(config.bridges.logs.listen)], SCRAPE_INTERVAL_SECONDS),
      }),
    );
    processes.push(asStoppable('prometheus', prometheus, prometheus.logFile));

    const truthFile = options.simulate ? join(dir, 'truth.json') : undefined;
    if (options.simulate) processes.push(startSimulator(configFile, options.simulate, truthFile!, join(logs, 'simulate.log')));

    const receiverHost = isLocal(config.receivers.host) || config.receivers.host === '0.0.0.0' ? '127.0.0.1' : config.receivers.host;
    const state: LocalRunState = {
      pid: process.pid,
      configFile,
      processes: processes.map(({ name, pid, logFile }) => ({ name, pid, logFile })),
      servers: { kafka: kafka.brokers.join(','), elasticsearch: es.url, influxdb: influx.url },
      prometheus: prometheus.url,
      bridges: { metrics: bridges.metrics!.operations, logs: bridges.logs!.operations },
      receivers: { logs: `${receiverHost}:${config.receivers.logsPort}`, metrics: `${receiverHost}:${config.receivers.metricsPort}` },
      truthFile,
    };
    writeFileSync(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);

    let stopping: Promise<void> | undefined;
    const watched = new Set<Stoppable>(processes);
    return {
      state,
      influxToken: influx.token,
      config,
      startedServers: [kafka, es, influx].filter((s) => s.started).map((s) => s.name),
      nextExit: () =>
        Promise.race(
          [...watched].map((p) =>
            p.ended.then((how) => {
              watched.delete(p);
              return { name: p.name, how, expected: p.finishes && how === 'exit code 0' };
            }),
          ),
        ),
      stop: () =>
        (stopping ??= (async () => {
          await stopAll();
          await step('servers: stop the ones this run started', () => servers.stop());
          rmSync(stateFile(dir), { force: true });
        })()),
    };
  } catch (error) {
    await stopAll();
    await servers.stop();
    throw error;
  }
}

function asStoppable(name: string, running: { pid: number; ended: Promise<string>; stop(): Promise<void> }, logFile: string): Stoppable {
  return { name, pid: running.pid, logFile, ended: running.ended, finishes: false, stop: () => step(`${name}: stop`, () => running.stop()) };
}

/** `cdnkit simulate` live into the receivers, with its ground truth written when it ends. */
function startSimulator(configFile: string, options: SimulatorOptions, truthFile: string, logFile: string): Stoppable {
  const args = [
    builtCli(), 'simulate', '-c', configFile, '--to', 'syslog', '--format', 'classic', '--live', '--rps', String(options.rps),
    '--seed', String(options.seed), '--truth', truthFile,
    ...(options.duration ? ['--duration', options.duration] : []),
    ...(options.scenario ? ['--scenario', options.scenario] : []),
    ...options.inject.flatMap((s) => ['--inject', s]),
  ];
  const log = openSync(logFile, 'w');
  const child = spawnChild(process.execPath, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  const ended = howItEnds(child);
  // On SIGTERM the simulator stops sending and writes its ground truth for what it sent.
  return { name: 'simulator', pid: child.pid!, logFile, ended, finishes: true, stop: () => step('simulator: stop', () => stopProcess(child, 'simulator', 10_000)) };
}
