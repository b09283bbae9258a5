// A real Prometheus scraping the bridges' /metrics, as the local run and the tests start it.
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { howItEnds, sleep, spawnChild, stopProcess, tailOfFile } from './process.js';

export interface PrometheusOptions {
  /** The prometheus program (ensurePrometheus()). */
  bin: string;
  /** Its folder: prometheus.yml, data/ and prometheus.log go there. */
  dir: string;
  /** host:port it serves its API and UI on. */
  listen: string;
  /** Its prometheus.yml: bridgeScrapeConfig() for bridges it should scrape, or the compose stack's file. */
  config: string;
}

/** A prometheus.yml that scrapes the bridges' operations endpoints (host:port each). */
export function bridgeScrapeConfig(targets: string[], scrapeIntervalSeconds: number): string {
  return [
    'global:',
    `  scrape_interval: ${scrapeIntervalSeconds}s`,
    'scrape_configs:',
    '  - job_name: cdnkit-bridges',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
}

export interface RunningPrometheus {
  pid: number;
  /** Resolves once it exited, with how (see howItEnds). */
  ended: Promise<string>;
  url: string;
  logFile: string;
  /** The result vector of an instant query. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus and waits until it is ready (/-/ready); it exits at once on a config it refuses. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  mkdirSync(options.dir, { recursive: true });
  const configFile = join(options.dir, 'prometheus.yml');
  const logFile = join(options.dir, 'prometheus.log');
  writeFileSync(configFile, options.config);
  const log = openSync(logFile, 'w');
  const child = spawnChild(
    options.bin,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(options.dir, 'data')}`, `--web.listen-address=${options.listen}`],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const url = `http://${options.listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
  const stop = () => stopProcess(child, 'prometheus', 10_000);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited with ${child.exitCode ?? child.signalCode}; ${logFile}:\n${tailOfFile(logFile)}`);
    if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready at ${url} within 60 s; ${logFile}:\n${tailOfFile(logFile)}`);
    }
    await sleep(200);
  }
  return {
    pid: child.pid!,
    ended: howItEnds(child),
    url,
    logFile,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
      if (!response.ok) throw new Error(`prometheus query ${promql}: HTTP ${response.status} ${await response.text()}`);
      return ((await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
    },
    stop,
  };
}
