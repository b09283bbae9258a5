// The generated rsyslog receiver run live by the real rsyslogd, for tests that send it traffic.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { rsyslogConfig } from '../../../generators/rsyslog.js';
import type { KitConfig } from '../../../src/config/schema.js';
import { portInUse } from '../../harness/process.js';
import { eventually } from './wait.js';

export interface RunningRsyslog {
  output(): string;
  stop(): void;
}

/** Starts rsyslogd with the config generated for `config`, once both of its ports listen. */
export async function startRsyslog(config: KitConfig): Promise<RunningRsyslog> {
  const dir = mkdtempSync(join(tmpdir(), 'cdnkit-rsyslogd-'));
  const file = join(dir, 'cdnkit.conf');
  writeFileSync(file, rsyslogConfig(config));
  const daemon = spawn(inject('tools').rsyslogd, ['-n', '-f', file, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  daemon.stdout.on('data', (d) => (output += d));
  daemon.stderr.on('data', (d) => (output += d));
  const stop = () => {
    daemon.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const { logsPort, metricsPort } = config.receivers;
  try {
    // rsyslogd opens its listeners one after the other: wait for both.
    await eventually(`rsyslogd listening on ${logsPort} and ${metricsPort}`, async () => (await portInUse(logsPort)) && (await portInUse(metricsPort)), 20_000, () => output);
  } catch (error) {
    stop();
    throw error;
  }
  return { output: () => output, stop };
}
