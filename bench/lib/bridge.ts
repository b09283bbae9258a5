// A bridge as the user runs it: `node dist/src/cli/main.js bridge metrics|logs -c <config>`, a child
// process with its own operations port; its output goes to a log file for the report.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { rssBytes } from './proc.js';

/** The built CLI; BENCH_BRIDGE_CLI points at another build (e.g. a patched copy) to compare. */
export const CLI = process.env.BENCH_BRIDGE_CLI ?? fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Bridge {
  kind: 'metrics' | 'logs';
  pid: number;
  operations: string;
  logFile: string;
  /** Sum over label sets of a counter or gauge on /metrics. */
  metric(name: string): Promise<number>;
  /** Several at once, from one scrape. */
  metrics(...names: string[]): Promise<Record<string, number>>;
  rss(): number | undefined;
  waitReady(timeoutMs?: number): Promise<void>;
  /** Until its log says it joined the consumer group (/readyz also needs the sink's ping). */
  waitJoined(timeoutMs?: number): Promise<void>;
  /** HTTP status of /readyz and its body. */
  readyz(): Promise<string>;
  /** SIGTERM (graceful), SIGKILL after `graceMs`; the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited(): boolean;
}

export function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function startBridge(
  kind: 'metrics' | 'logs',
  configFile: string,
  env: Record<string, string>,
  logFile: string,
  nodeFlags: string[] = [],
): Promise<Bridge> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, CLI, 'bridge', kind, '-c', configFile], {
    env: { ...process.env, ...env, CDNKIT_BRIDGE_LISTEN: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const operations = `http://127.0.0.1:${port}`;
  const scrape = async () => (await fetch(`${operations}/metrics`)).text();
  return {
    kind,
    pid: child.pid!,
    operations,
    logFile,
    metric: async (name) => sumMetric(await scrape(), name),
    async metrics(...names) {
      const text = await scrape();
      return Object.fromEntries(names.map((n) => [n, sumMetric(text, n)]));
    },
    rss: () => rssBytes(child.pid!),
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`bridge ${kind} exited with ${child.exitCode}; see ${logFile}`);
        if (await fetch(`${operations}/readyz`).then((r) => r.ok, () => false)) return;
        if (Date.now() > deadline) throw new Error(`bridge ${kind} not ready after ${timeoutMs} ms; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async waitJoined(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`bridge ${kind} exited with ${child.exitCode}; see ${logFile}`);
        if (existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"msg":"joined the consumer group"')) return;
        if (Date.now() > deadline) throw new Error(`bridge ${kind} did not join its consumer group in ${timeoutMs} ms; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    readyz: () => fetch(`${operations}/readyz`).then(async (r) => `${r.status} ${(await r.text()).trim()}`, (e: Error) => e.message),
    async stop(graceMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exit;
        clearTimeout(timer);
        return code;
      }
      return exit;
    },
    exited: () => child.exitCode !== null || child.signalCode !== null,
  };
}
