// Bridges as the user runs them: `cdnkit bridge metrics|logs` child processes of the built CLI.
// The local run starts its bridges with this module; so do the tests (one can kill -9 a bridge for
// real) and the benchmark (it measures what users run).
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { BRIDGE_ENV } from '../bridge/bridge.js';
import { builtCli } from '../package-root.js';
import { freePort, howItEnds, residentBytes, spawnChild, stopProcess } from './process.js';

export interface BridgeOptions {
  /** Another build of the CLI to run (the benchmark compares builds); default the package's own. */
  cli?: string;
  /** host:port for /metrics, /healthz and /readyz; default a free port on 127.0.0.1. */
  listen?: string;
  /** Flags for node itself, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Also write everything the bridge prints to this file. */
  logFile?: string;
}

export interface BridgeProcess {
  kind: 'metrics' | 'logs';
  pid: number;
  /** Resolves once it exited, with how (see howItEnds). */
  ended: Promise<string>;
  /** http://<host>:<port> of its /metrics, /healthz, /readyz (0.0.0.0 shown as 127.0.0.1). */
  operations: string;
  logFile: string | undefined;
  /** The last 200 KB it printed: structured JSON logs. */
  output(): string;
  /** Resident memory, bytes; undefined once it exited. */
  rss(): number | undefined;
  /** A counter or gauge from /metrics, summed over its label sets. */
  metric(name: string): Promise<number>;
  /** Several, from one scrape. */
  metrics(...names: string[]): Promise<Record<string, number>>;
  /** Until /readyz answers 200 (consuming, and the sink answers). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Until its log says it joined the consumer group, whatever the sink does. */
  waitJoined(timeoutMs?: number): Promise<void>;
  /** "<status> <body>" of /readyz. */
  readyz(): Promise<string>;
  /** SIGTERM, SIGKILL after `graceMs`; the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
  exited(): boolean;
}

export function sumMetric(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * This process's environment without the bridge's overrides: a run pointed at other servers
 * (CDNKIT_KAFKA_BROKERS, CDNKIT_ES_URL, ...) must not redirect a bridge whose kit config names
 * the servers it is meant to use, such as a secured node or a throwaway server.
 */
export function inheritedEnv(): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  for (const name of Object.values(BRIDGE_ENV)) delete inherited[name];
  return inherited;
}

export async function startBridgeProcess(
  kind: 'metrics' | 'logs',
  configFile: string,
  env: Record<string, string>,
  { cli = builtCli(), nodeFlags = [], logFile, listen }: BridgeOptions = {},
): Promise<BridgeProcess> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
  const address = listen ?? `127.0.0.1:${await freePort()}`;
  const child: ChildProcess = spawnChild(process.execPath, [...nodeFlags, cli, 'bridge', kind, '-c', configFile], {
    env: { ...inheritedEnv(), ...env, [BRIDGE_ENV.listen]: address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const log = logFile ? createWriteStream(logFile) : undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-200_000);
      log?.write(d);
    });
  }
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const operations = `http://${address.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
  const scrape = async () => (await fetch(`${operations}/metrics`)).text();
  const where = () => (logFile ? `see ${logFile}` : `its output:\n${output.slice(-5000)}`);
  const waitFor = async (what: string, done: () => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited()) throw new Error(`bridge ${kind} exited with ${child.exitCode ?? child.signalCode}; ${where()}`);
      if (await done()) return;
      if (Date.now() > deadline) throw new Error(`bridge ${kind}: ${what} did not happen within ${timeoutMs} ms; ${where()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    kind,
    pid: child.pid!,
    ended: howItEnds(child),
    operations,
    logFile,
    output: () => output,
    rss: () => residentBytes(child.pid!),
    metric: async (name) => sumMetric(await scrape(), name),
    async metrics(...names) {
      const text = await scrape();
      return Object.fromEntries(names.map((n) => [n, sumMetric(text, n)]));
    },
    waitReady: (timeoutMs = 60_000) => waitFor('ready', () => fetch(`${operations}/readyz`).then((r) => r.ok, () => false), timeoutMs),
    waitJoined: (timeoutMs = 60_000) => waitFor('joining the consumer group', async () => output.includes('"msg":"joined the consumer group"'), timeoutMs),
    readyz: () => fetch(`${operations}/readyz`).then(async (r) => `${r.status} ${(await r.text()).trim()}`, (e: Error) => e.message),
    async stop(graceMs = 20_000) {
      await stopProcess(child, `${kind} bridge`, graceMs);
      return exit;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exit;
    },
    exited,
  };
}
