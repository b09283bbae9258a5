// The real rsyslogd (src/local/rsyslogd.ts) running a generated receiver config, and a CDN edge's way of sending it lines.
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { inject } from 'vitest';
import { generateRsyslog, rsyslogConfig } from '../../../generators/rsyslog.js';
import type { KitConfig } from '../../../src/config/schema.js';
import { startRsyslogd as startDaemon, type Rsyslogd } from '../../../src/local/rsyslogd.js';
import { scratchDir } from '../../support/scratch.js';

export type { Rsyslogd };

/** Runs rsyslogd (the set-up's) on `configText` (with `env` added) until it listens on every port. */
export function startRsyslogd(configText: string, ports: number[], env: Record<string, string> = {}): Promise<Rsyslogd> {
  return startDaemon({ rsyslogd: inject('tools').rsyslogd, configText, ports, env });
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
