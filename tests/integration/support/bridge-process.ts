// Bridges as the user runs them: `cdnkit bridge metrics|logs` child processes of the built CLI,
// with a kit config written for the test, so a test can kill -9 one for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { KitConfigInput } from '../../../src/config/schema.js';
import { referenceConfig } from '../../../src/config/preset.js';
import { freePort } from '../../harness/process.js';

const CLI = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));


/** Writes a kit config file: the reference preset with the test's overrides. */
export function writeKitConfig(overrides: Partial<KitConfigInput>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cdnkit-bridge-config-')), 'cdnkit.yaml');
  writeFileSync(file, stringify({ ...referenceConfig, ...overrides }));
  return file;
}

export interface BridgeProcess {
  pid: number;
  /** http://127.0.0.1:<port> of its /metrics, /healthz, /readyz. */
  operations: string;
  /** Everything it printed: structured JSON logs. */
  output(): string;
  /** Resident memory, bytes, from /proc. */
  rss(): number;
  /** Counter or gauge value from /metrics (summed over label sets). */
  metric(name: string): Promise<number>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM, and the exit code once it exited. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export async function startBridgeProcess(kind: 'metrics' | 'logs', configFile: string, env: Record<string, string>): Promise<BridgeProcess> {
  if (!readFileSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [CLI, 'bridge', kind, '-c', configFile], {
    env: { ...process.env, ...env, CDNKIT_BRIDGE_LISTEN: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output = (output + d).slice(-200_000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-200_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const operations = `http://127.0.0.1:${port}`;
  const bridge: BridgeProcess = {
    pid: child.pid!,
    operations,
    output: () => output,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
    async metric(name) {
      const text = await (await fetch(`${operations}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    },
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`bridge ${kind} exited with ${child.exitCode}:\n${output}`);
        const ready = await fetch(`${operations}/readyz`).then((r) => r.ok, () => false);
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`bridge ${kind} not ready after ${timeoutMs} ms:\n${output.slice(-5000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
  return bridge;
}
