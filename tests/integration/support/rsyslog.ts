// The real rsyslogd running a generated receiver config, and a CDN edge's way of sending it lines.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { inject } from 'vitest';
import { generateRsyslog, rsyslogConfig } from '../../../generators/rsyslog.js';
import type { KitConfig } from '../../../src/config/schema.js';
import { portInUse } from '../../../src/local/process.js';
import { scratchDir } from '../../support/scratch.js';
import { eventually } from './wait.js';

export interface Rsyslogd {
  /** What rsyslogd printed so far. */
  output(): string;
  /** SIGTERM; its config folder is removed once it exited. */
  stop(): void;
}

/** Runs rsyslogd in the foreground on `configText` (with `env` added) until it listens on every port. */
export async function startRsyslogd(configText: string, ports: number[], env: Record<string, string> = {}): Promise<Rsyslogd> {
  const dir = mkdtempSync(join(tmpdir(), 'cdnkit-rsyslogd-'));
  const file = join(dir, 'cdnkit.conf');
  writeFileSync(file, configText);
  const daemon = spawn(inject('tools').rsyslogd, ['-n', '-f', file, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  daemon.stdout.on('data', (d) => (output += d));
  daemon.stderr.on('data', (d) => (output += d));
  daemon.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const stop = () => daemon.kill('SIGTERM');
  try {
    // rsyslogd opens its listeners one after the other: wait for all.
    await eventually(`rsyslogd listening on ${ports.join(' and ')}`, async () => (await Promise.all(ports.map((p) => portInUse(p)))).every(Boolean), 20_000, () => output);
  } catch (error) {
    stop();
    throw error;
  }
  return { output: () => output, stop };
}

/**
 * Runs the receiver config generated for `config`, until both of its ports listen. With tenants, the
 * generated tenant tables are installed first, in a scratch folder that stands for tenants.tablesDir.
 */
export function startRsyslog(config: KitConfig, env: Record<string, string> = {}): Promise<Rsyslogd> {
  const installed = config.tenants ? { ...config, tenants: { ...config.tenants, tablesDir: scratchDir('cdnkit-tenant-tables-') } } : config;
  for (const artifact of generateRsyslog(installed)) {
    if (artifact.path.endsWith('.json')) writeFileSync(join(installed.tenants!.tablesDir, basename(artifact.path)), artifact.content);
  }
  return startRsyslogd(rsyslogConfig(installed), [config.receivers.logsPort, config.receivers.metricsPort], env);
}

/** Newline-framed syslog over TCP, as Fastly and varnishncsa shippers send it. */
export async function sendLines(port: number, lines: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(lines.map((l) => `${l}\n`).join(''), () => resolve());
    });
    socket.once('error', reject);
  });
}
